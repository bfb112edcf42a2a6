// createActivities(deps): every activity closes over injected clients, so tests swap endpoints, not logic.
import type * as k8s from '@kubernetes/client-node';
import type { ClusterRef, SnapshotRecord } from '../workflows/definitions';
import { createCatalogActivities } from './catalog';
import { createRestoreActivities } from './restore';
import { createRetentionActivities, type RetentionReport } from './retention';
import { createSnapshotActivities } from './snapshot';
import { createSyncActivities } from './sync';
import { createVolumeActivities } from './volumes';

/** The product's own metrics (worker/metrics.ts records them with prom-client). */
export interface SnapshotMetrics {
  /** A run's final outcome, reported by writeRecord (a retried call must count once). */
  snapshotFinished(record: SnapshotRecord): void;
  retentionApplied(cluster: ClusterRef, report: RetentionReport): void;
  /** Dumps running and waiting for a slot on this worker (see maxConcurrentDumps). */
  dumpSlotsChanged?(running: number, waiting: number): void;
}

export interface ActivityDeps {
  /** Host-cluster connection: Secrets, vc-config, PVCs and CSI snapshots. Absent = no kube features. */
  kube?: k8s.KubeConfig;
  /** Injectable clock (retention ages, record timestamps). */
  clock: () => Date;
  /** How often waiting activities poll the API server. */
  pollIntervalMs: number;
  /** How often the dump reports its counts to the workflow's `status`. */
  progressIntervalMs: number;
  /** Absent = no product metrics. */
  metrics?: SnapshotMetrics;
  /** Dumps this worker runs at once; more wait, heartbeating, oldest first (VCSNAP_MAX_CONCURRENT_DUMPS). */
  maxConcurrentDumps: number;
  /** How long a CSI driver may take to make a volume snapshot ready, unless the run says (VCSNAP_VOLUME_READY_TIMEOUT). */
  volumeReadyTimeoutSeconds: number;
}

/** Four dumps at once: about 4 × 60 MiB of buffers, and more than enough to keep a few cores busy. */
export const DEFAULT_MAX_CONCURRENT_DUMPS = 4;
/** Ten minutes: CSI drivers usually cut a snapshot in seconds; a large cloud volume can take minutes. */
export const DEFAULT_VOLUME_READY_TIMEOUT_SECONDS = 600;

export function createActivities(partial: Partial<ActivityDeps> = {}) {
  const deps: ActivityDeps = {
    clock: () => new Date(),
    pollIntervalMs: 1000,
    progressIntervalMs: 3000,
    maxConcurrentDumps: DEFAULT_MAX_CONCURRENT_DUMPS,
    volumeReadyTimeoutSeconds: DEFAULT_VOLUME_READY_TIMEOUT_SECONDS,
    ...partial,
  };
  return {
    ...createSnapshotActivities(deps),
    ...createVolumeActivities(deps),
    ...createRetentionActivities(deps),
    ...createCatalogActivities(deps),
    ...createSyncActivities(deps),
    ...createRestoreActivities(deps),
  };
}
