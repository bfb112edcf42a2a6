// A short workflow that reads the stored catalog where the credentials live (the worker), so platform code needs
// nothing but a Temporal connection.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { StoredSnapshotEntry } from '../activities/catalog';
import type { ClusterRef, SnapshotPolicy } from './definitions';

const { listStoredSnapshots } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['StorageBadCredentials', 'StorageLocationNotFound', 'StorageBadConfiguration', 'SecretNotFound'] },
});

export interface CatalogResult {
  cluster: ClusterRef;
  entries: StoredSnapshotEntry[];
  error?: string;
}

export async function catalogWorkflow(input: { policies: SnapshotPolicy[] }): Promise<CatalogResult[]> {
  return Promise.all(
    input.policies.map(async (policy) => {
      try {
        return { cluster: policy.cluster, entries: await listStoredSnapshots({ policy }) };
      } catch (err) {
        const cause = (err as { cause?: Error }).cause;
        return { cluster: policy.cluster, entries: [], error: (cause ?? (err as Error)).message };
      }
    }),
  );
}
