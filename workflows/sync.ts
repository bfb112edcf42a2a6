// Reconciles every discovered vCluster's schedule; started by the `vcsnap.sync` schedule (`vcsnap sync --every`).
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

const { syncPolicies } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['KubeUnavailable', 'KubeForbidden'] },
});

export async function syncWorkflow(input: { taskQueue: string }) {
  return syncPolicies(input);
}
