// Verify and restore as short workflows: the archive is read and etcd written on the worker, where the credentials
// are, so platform code needs only a Temporal connection. Restore = verify (a bad archive is refused) -> write.
import { ActivityCancellationType, ApplicationFailure, defineQuery, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { RestoreReport } from '../activities/restore';
import type { VerifyResult } from '../activities/verify';
import type { ClusterRef, SecretRef, StorageLocation } from './definitions';

/** Where one snapshot archive is: references only, never credentials (they are in `storage.credential`'s Secret). */
export interface SnapshotLocationRef {
  storage: StorageLocation;
  snapshotName: string;
  /** The cluster it was taken of, when known (messages only). */
  cluster?: ClusterRef;
}

/** The etcd a snapshot is restored into. */
export interface RestoreTarget {
  /** etcd v3 endpoints, e.g. `https://demo-etcd.team-a:2379`. */
  endpoints: string[];
  /** Secret with `etcd-ca.crt` and a client pair (vCluster's `<name>-certs`). */
  tlsSecret?: SecretRef;
}

/** Keys per etcd transaction and bytes per request; etcd's defaults allow 128 operations and 1.5 MiB. */
export interface RestoreBatchLimits {
  keys?: number;
  bytes?: number;
}

export interface VerifyWorkflowInput {
  snapshot: SnapshotLocationRef;
}

export interface RestoreWorkflowInput {
  snapshot: SnapshotLocationRef;
  target: RestoreTarget;
  /** Clear a non-empty target first (every key is deleted); without it a non-empty target is refused. */
  force?: boolean;
  batch?: RestoreBatchLimits;
}

export interface RestoreResult {
  verify: VerifyResult;
  restore: RestoreReport;
}

export interface RestoreStatusView {
  phase: 'verifying' | 'restoring' | 'done' | 'failed';
  snapshotName: string;
  verify?: VerifyResult;
  restore?: RestoreReport;
  error?: string;
}

export const restoreStatusQuery = defineQuery<RestoreStatusView>('restoreStatus');

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [
  'StorageBadCredentials',
  'StorageLocationNotFound',
  'StorageBadConfiguration',
  'StorageObjectNotFound',
  'SecretNotFound',
  'KubeForbidden',
  'EtcdBadCredentials',
  'EtcdRequestTooLarge',
  'RestoreTargetNotEmpty',
  'SnapshotCorrupt',
];

const { verifyStoredArchive } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

// A retried attempt resumes after the last key its predecessor reported in a heartbeat.
const { restoreArchiveToEtcd } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

export async function verifyWorkflow(input: VerifyWorkflowInput): Promise<VerifyResult> {
  setCurrentDetails(`Verifying snapshot **${input.snapshot.snapshotName}**`);
  const result = await verifyStoredArchive({ snapshot: input.snapshot });
  setCurrentDetails(result.ok ? `Snapshot **${result.snapshotName}** is sound: ${result.keys} keys` : `Snapshot **${result.snapshotName}** is damaged: ${result.problem?.message}`);
  return result;
}

export async function restoreWorkflow(input: RestoreWorkflowInput): Promise<RestoreResult> {
  const { snapshot, target } = input;
  const view: RestoreStatusView = { phase: 'verifying', snapshotName: snapshot.snapshotName };
  const into = target.endpoints.join(', ');
  setHandler(restoreStatusQuery, () => view);
  setCurrentDetails(`Verifying snapshot **${snapshot.snapshotName}** before restoring it into ${into}`);
  try {
    const verified = await verifyStoredArchive({ snapshot });
    view.verify = verified;
    if (!verified.ok) {
      throw ApplicationFailure.nonRetryable(`snapshot ${verified.snapshotName} is not restored, it failed verification: ${verified.problem?.message}`, 'SnapshotCorrupt');
    }
    view.phase = 'restoring';
    setCurrentDetails(`Restoring **${verified.keys}** keys of snapshot **${snapshot.snapshotName}** into ${into}`);
    view.restore = await restoreArchiveToEtcd({ snapshot, target, force: input.force ?? false, expectedSha256: verified.sha256, batch: input.batch });
    view.phase = 'done';
    setCurrentDetails(`Restored **${view.restore.keysRestored}** keys of snapshot **${snapshot.snapshotName}** into ${into}`);
    return { verify: verified, restore: view.restore };
  } catch (err) {
    view.phase = 'failed';
    view.error = rootMessage(err);
    setCurrentDetails(`Restore of **${snapshot.snapshotName}** failed: ${view.error}`);
    throw err;
  }
}

function rootMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return rootMessage(cause);
  return err instanceof Error ? err.message : String(err);
}
