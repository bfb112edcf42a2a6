// Parent side of volume snapshots: discover the cluster's PVCs, run one child workflow per PVC with bounded
// concurrency, and collect their results.
import { ActivityCancellationType, ParentClosePolicy, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';
import { volumePhaseSignal, type SnapshotPolicy, type VolumeResult } from '../contracts/definitions';
import { volumeWorkflowIdFor } from '../contracts/naming';
import { volumeSnapshotWorkflow } from './volume-snapshot';

const { discoverVolumes } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '2 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function snapshotVolumes(
  policy: SnapshotPolicy,
  snapshotName: string,
  onProgress: (volumes: VolumeResult[]) => void,
): Promise<VolumeResult[]> {
  const planned = await discoverVolumes({ cluster: policy.cluster });
  const results: VolumeResult[] = planned.map((volume) =>
    volume.skipReason ? { pvc: volume.pvc, phase: 'Skipped', reason: volume.skipReason, driver: volume.driver } : { pvc: volume.pvc, phase: 'NotStarted', driver: volume.driver },
  );
  onProgress(results);
  setHandler(volumePhaseSignal, ({ pvc, phase, reason }) => {
    const index = results.findIndex((result) => result.pvc === pvc);
    // Only a running volume moves on to cleaning up: a late signal never overwrites a child's final result.
    if (index < 0 || (results[index].phase !== 'InProgress' && results[index].phase !== 'CompletedCleaningUp')) return;
    results[index] = { ...results[index], phase, ...(reason ? { reason } : {}) };
    onProgress(results);
  });
  const pending = planned.map((volume, index) => ({ volume, index })).filter(({ volume }) => !volume.skipReason);
  const parentId = workflowInfo().workflowId;
  const runOne = async (): Promise<void> => {
    for (let next = pending.shift(); next; next = pending.shift()) {
      const { volume, index } = next;
      results[index] = { ...results[index], phase: 'InProgress' };
      onProgress(results);
      results[index] = await executeChild(volumeSnapshotWorkflow, {
        workflowId: volumeWorkflowIdFor(parentId, volume.pvc),
        args: [{ cluster: policy.cluster, snapshotName, volume }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      onProgress(results);
    }
  };
  const workers = Math.max(1, Math.min(policy.volumes.concurrency, pending.length));
  await Promise.all(Array.from({ length: workers }, runOne));
  return results;
}
