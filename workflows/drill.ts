// A restore drill of one cluster, on its own schedule: the newest restorable snapshot is checked against its record
// (digest first: a missing, damaged or changed archive is refused before anything is restored), restored into a
// scratch etcd, checked key by key and object by object there, and the outcome kept in the snapshot's record.
import { ActivityCancellationType, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { createActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES, rootCause, rootMessage } from '../contracts/errors';
import type { DrillChecks, DrillRefusal, DrillResult, DrillSummary, DrillWorkflowInput } from '../contracts/drill';
import type { SnapshotLocationRef, VerifyResult } from '../contracts/restore';
import { drillDetails } from './drill-details';

type Activities = ReturnType<typeof createActivities>;
const retry: RetryPolicy = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };

const { findDrillSnapshot, recordDrill, raiseAlert } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { ...retry, maximumAttempts: 5 },
});

const { verifyStoredArchive } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry,
});

// Waits for cancellation to finish: the activity stops its scratch servers and removes their data on the way out.
const { restoreAndCheck } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '2 minutes',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
});

const REFUSAL_OF_PROBLEM: Record<string, DrillRefusal> = { digest: 'digest-mismatch', record: 'record-mismatch', gzip: 'archive-corrupt', tar: 'archive-corrupt', format: 'archive-corrupt' };

function refusalOf(verified: VerifyResult): DrillRefusal {
  return REFUSAL_OF_PROBLEM[verified.problem?.kind ?? ''] ?? 'archive-corrupt';
}

export async function drillWorkflow(input: DrillWorkflowInput): Promise<DrillResult> {
  const { policy } = input;
  const { cluster } = policy;
  const { workflowId, runId } = workflowInfo();
  const started = Date.now();
  const who = `${cluster.namespace}/${cluster.name}`;
  setCurrentDetails(`Restore drill of **${who}**: finding its newest restorable snapshot`);
  let snapshotName: string | undefined;
  let checks: DrillChecks | undefined;
  let refusal: DrillRefusal | undefined;
  let reason: string | undefined;

  const candidate = await findDrillSnapshot({ policy, snapshotName: input.snapshotName });
  if (!candidate) {
    refusal = 'no-snapshot';
    reason = input.snapshotName ? `snapshot ${input.snapshotName} has no Completed or PartiallyFailed record` : 'the catalog holds no Completed or PartiallyFailed snapshot';
  } else {
    snapshotName = candidate.snapshotName;
    const snapshot: SnapshotLocationRef = { storage: policy.storage, snapshotName, cluster };
    if (!candidate.archivePresent) {
      refusal = 'archive-missing';
      reason = `the record of ${snapshotName} is there, its archive is gone from storage`;
    } else {
      setCurrentDetails(`Restore drill of **${who}**: checking **${snapshotName}** against its record`);
      const verified = await verifyStoredArchive({ snapshot }).catch((err: unknown) => {
        const root = rootCause(err) as { type?: string };
        if (root.type !== 'StorageObjectNotFound') throw err;
        refusal = 'archive-missing';
        reason = rootMessage(err);
        return undefined;
      });
      if (verified && !verified.ok) {
        refusal = refusalOf(verified);
        reason = verified.problem?.message;
      } else if (verified) {
        setCurrentDetails(`Restore drill of **${who}**: restoring **${verified.keys}** keys of **${snapshotName}** into a scratch etcd`);
        try {
          checks = await restoreAndCheck({ snapshot, expectedSha256: verified.sha256 });
          if (checks.problems.length > 0) reason = checks.problems.join('; ');
        } catch (err) {
          reason = rootMessage(err);
        }
      }
    }
  }

  const outcome = refusal ? 'refused' : reason ? 'failed' : 'passed';
  const summary: DrillSummary = {
    verifiedAt: new Date().toISOString(),
    outcome,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    workflowId,
    ...(refusal ? { refusal } : {}),
    ...(reason ? { reason } : {}),
    ...(checks ? { keys: checks.keysRestored, objects: checks.objects, apiServerChecked: checks.apiServer !== undefined } : {}),
  };
  await recordDrill({ policy, snapshotName, summary, drillId: `${workflowId}/${runId}` });
  if (outcome !== 'passed') {
    const what = refusal ? `refused (${refusal})` : 'failed';
    await raiseAlert({
      key: `drill.${cluster.namespace}.${cluster.name}.${runId}`,
      kind: 'DrillFailed',
      cluster,
      snapshotName,
      summary: `Restore drill of ${who}${snapshotName ? ` (${snapshotName})` : ''} ${what}`,
      description: reason,
      at: summary.verifiedAt,
    });
  }
  const result: DrillResult = { ...summary, cluster, snapshotName, checks };
  const snapshotRun = candidate?.workflowId ? { workflowId: candidate.workflowId, runId: candidate.runId } : undefined;
  setCurrentDetails(drillDetails({ ...result, ...(snapshotRun ? { snapshotRun } : {}) }));
  return result;
}
