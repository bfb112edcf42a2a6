// A short workflow that reads the stored catalog where the credentials live (the worker), so platform code needs
// nothing but a Temporal connection.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { CatalogResult, CatalogWorkflowInput } from '../contracts/catalog';
import { NON_RETRYABLE_ERROR_TYPES, rootMessage } from '../contracts/errors';

const { listStoredSnapshots } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function catalogWorkflow(input: CatalogWorkflowInput): Promise<CatalogResult[]> {
  return Promise.all(
    input.policies.map(async (policy) => {
      try {
        return { cluster: policy.cluster, entries: await listStoredSnapshots({ policy }) };
      } catch (err) {
        return { cluster: policy.cluster, entries: [], error: rootMessage(err) };
      }
    }),
  );
}
