// createActivities(deps): every activity closes over injected clients, so tests swap endpoints, not logic.
import { DEFAULT_MAX_CONCURRENT_DUMPS, DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS, DEFAULT_VOLUME_READY_TIMEOUT_SECONDS } from '../lib/runtime-config';
import { createCatalogActivities } from './catalog';
import { createCopyActivities } from './copy';
import { createDrillActivities } from './drill';
import { createNotifyActivities } from './notify';
import { createRecoveryPointActivities } from './recovery-point';
import type { ActivityDeps } from './deps';
import { createRequestActivities } from './request';
import { createRestoreActivities } from './restore';
import { createRetentionActivities } from './retention';
import { createSnapshotActivities } from './snapshot';
import { createSyncActivities } from './sync';
import { createVolumeActivities } from './volumes';

export type { ActivityDeps, SnapshotMetrics } from './deps';

export function createActivities(partial: Partial<ActivityDeps> = {}) {
  const deps: ActivityDeps = {
    clock: () => new Date(),
    pollIntervalMs: 1000,
    progressIntervalMs: 3000,
    maxConcurrentDumps: DEFAULT_MAX_CONCURRENT_DUMPS,
    volumeReadyTimeoutSeconds: DEFAULT_VOLUME_READY_TIMEOUT_SECONDS,
    requestPickupTimeoutSeconds: DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS,
    defaultEngine: 'auto',
    sharedNamespaces: [],
    ...partial,
  };
  return {
    ...createSnapshotActivities(deps),
    ...createCopyActivities(deps),
    ...createRequestActivities(deps),
    ...createVolumeActivities(deps),
    ...createRetentionActivities(deps),
    ...createCatalogActivities(deps),
    ...createSyncActivities(deps),
    ...createRestoreActivities(deps),
    ...createDrillActivities(deps),
    ...createNotifyActivities(deps),
    ...createRecoveryPointActivities(deps),
  };
}
