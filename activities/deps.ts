// What every activity closes over: injected clients, clock and limits, so tests swap endpoints, not logic.
import type * as k8s from '@kubernetes/client-node';
import type { SecretScope } from '../lib/kube/secrets';
import type { ClusterRef, RetentionReport, SnapshotRecord } from '../contracts/definitions';
import type { WorkerSettings } from '../lib/runtime-config';
import type { DrillSummary } from '../contracts/drill';
import type { StoreCache } from '../lib/storage/cache';

/** The product's own metrics (worker/metrics.ts records them with prom-client). */
export interface SnapshotMetrics {
  /** A run's final outcome, reported by writeRecord (a retried call must count once). */
  snapshotFinished(record: SnapshotRecord): void;
  retentionApplied(cluster: ClusterRef, report: RetentionReport): void;
  /** A dump started on this worker after waiting `waitedSeconds` in the dump task queue for a free slot. */
  dumpStarted?(waitedSeconds: number): void;
  /** A dump on this worker ended (any outcome). */
  dumpEnded?(): void;
  /** A drill's outcome (recordDrill; a retried call must count once, keyed by `drillId`). */
  drillFinished?(cluster: ClusterRef, summary: DrillSummary, drillId: string): void;
  /** The newest restorable (Completed, archive present) snapshot of a cluster seen by a catalog read or a drill. */
  restorableSnapshotSeen?(cluster: ClusterRef, finishedAt: string): void;
  /** The shortest interval of the cluster's snapshot schedule (writeRecord), for the recovery point alert. */
  scheduleIntervalSeen?(cluster: ClusterRef, seconds: number): void;
}

export interface ActivityDeps extends WorkerSettings {
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
  /** The worker's storage clients, one per location and credential (createActivities makes one when absent). */
  stores?: StoreCache;
  /** The worker's record signing key; absent = records unsigned, and retention leaves volume snapshots in place. */
  recordKey?: Buffer;
}

/** The Secrets an input about `cluster` may name: its own namespace's, the shared ones, and those granted to it. */
export function secretScope(deps: ActivityDeps, cluster: { namespace: string } | undefined): SecretScope {
  return { namespace: cluster?.namespace, sharedNamespaces: deps.sharedNamespaces };
}
