// createActivities(deps): every activity closes over injected clients, so tests swap endpoints, not logic.
import type * as k8s from '@kubernetes/client-node';
import { createCatalogActivities } from './catalog';
import { createRetentionActivities } from './retention';
import { createSnapshotActivities } from './snapshot';
import { createVolumeActivities } from './volumes';

export interface ActivityDeps {
  /** Host-cluster connection: Secrets, vc-config, PVCs and CSI snapshots. Absent = no kube features. */
  kube?: k8s.KubeConfig;
  /** Injectable clock (retention ages, record timestamps). */
  clock: () => Date;
  /** How often waiting activities poll the API server. */
  pollIntervalMs: number;
}

export function createActivities(partial: Partial<ActivityDeps> = {}) {
  const deps: ActivityDeps = { clock: () => new Date(), pollIntervalMs: 1000, ...partial };
  return {
    ...createSnapshotActivities(deps),
    ...createVolumeActivities(deps),
    ...createRetentionActivities(deps),
    ...createCatalogActivities(deps),
  };
}
