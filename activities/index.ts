// createActivities(deps): every activity closes over injected clients, so tests swap endpoints, not logic.
import { Context } from '@temporalio/activity';
import { DEFAULT_MAX_CONCURRENT_DUMPS, DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS, DEFAULT_TRANSFER_STALL_TIMEOUT_SECONDS, DEFAULT_VOLUME_READY_TIMEOUT_SECONDS } from '../lib/runtime-config';
import { StoreCache } from '../lib/storage/cache';
import { abortableBy } from '../lib/transfer-meter';
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
    transferStallTimeoutSeconds: DEFAULT_TRANSFER_STALL_TIMEOUT_SECONDS,
    volumeReadyTimeoutSeconds: DEFAULT_VOLUME_READY_TIMEOUT_SECONDS,
    requestPickupTimeoutSeconds: DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS,
    defaultEngine: 'auto',
    sharedNamespaces: [],
    ...partial,
  };
  deps.stores ??= new StoreCache({ requestIdleTimeoutMs: deps.transferStallTimeoutSeconds * 1000 });
  return followCancellation({
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
  });
}

/**
 * Each activity runs with its cancellation as the abort of the storage requests it makes (lib/transfer-meter
 * `abortableBy`): a cancelled activity, a worker's shutdown among them, never waits on a request to a dead endpoint.
 * Called outside an activity (tests, tools), an activity runs as it is.
 */
function followCancellation<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = (...args: never[]) => {
      const signal = activitySignal();
      return signal ? abortableBy(signal, () => activity(...args)) : activity(...args);
    };
  }
  return wrapped as T;
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}
