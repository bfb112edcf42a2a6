// The recovery point check, on its own schedule per task queue (lib/recovery-point-schedule): notifies each overdue
// episode once and its end once. What was notified is this run's result, which the schedule hands to the next run
// (its last completion result), so nothing else keeps state. A snapshot never waits for it.
import { ActivityCancellationType, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { RecoveryPointCheckState } from '../contracts/alert';
import { NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';

const { checkRecoveryPoints } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function recoveryPointCheckWorkflow(input: { taskQueue: string }): Promise<RecoveryPointCheckState> {
  const previous = workflowInfo().lastResult as RecoveryPointCheckState | undefined;
  const { open, checked } = await checkRecoveryPoints({ taskQueue: input.taskQueue, open: previous?.open ?? [] });
  const overdue = open.map((e) => `${e.cluster.namespace}/${e.cluster.name}`);
  setCurrentDetails(`Recovery points of **${checked}** clusters checked; ${overdue.length ? `overdue and notified: **${overdue.join('**, **')}**` : 'no overdue episode open'}`);
  return { open };
}
