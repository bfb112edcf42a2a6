// Verify and restore as short workflows: the archive is read and etcd written on the worker, where the credentials
// are, so platform code needs only a Temporal connection. Restore = verify (a bad archive is refused) -> write.
import { ActivityCancellationType, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES, failure, rootMessage } from '../contracts/errors';
import { restoreStatusQuery, type RestoreResult, type RestoreStatusView, type RestoreWorkflowInput, type VerifyResult, type VerifyWorkflowInput, notRestorableMessage } from '../contracts/restore';

type Activities = ReturnType<typeof createActivities>;

const { verifyStoredArchive } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

// A retried attempt resumes after the last key its predecessor reported in a heartbeat.
const { restoreArchiveToEtcd } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
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
      throw failure('SnapshotCorrupt', `snapshot ${verified.snapshotName} is not restored, it failed verification: ${verified.problem?.message}`);
    }
    // No new command: a history recorded before archives had a kind never has one here.
    if (verified.kind === 'etcd-db') throw failure('SnapshotNotRestorable', notRestorableMessage(verified.snapshotName, verified.databaseBytes, into));
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
