// Reconciles every discovered vCluster's schedule; started by the `vcsnap.sync` schedule (`vcsnap sync --every`).
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';

const { syncPolicies } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function syncWorkflow(input: { taskQueue: string }) {
  return syncPolicies(input);
}
