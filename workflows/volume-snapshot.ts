// Child workflow for one PVC: NotStarted -> InProgress -> CompletedCleaningUp -> Completed,
// or -> FailedCleaningUp -> Failed (SPEC 6).
import {
  ActivityCancellationType,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { volumePhaseSignal, type VolumePhaseUpdate, type VolumeResult } from '../contracts/definitions';
import { NON_RETRYABLE_ERROR_TYPES, rootMessage } from '../contracts/errors';
import type { VolumeSnapshotInput } from '../contracts/volume';

type Activities = ReturnType<typeof createActivities>;
const shortCall: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  // Create and release must finish before cleanup runs, or cleanup could miss the object they are still writing.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 10, maximumInterval: '30 seconds', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
};
const { createVolumeSnapshot, retainAndReleaseVolumeSnapshot, deleteVolumeSnapshot } = proxyActivities<Activities>(shortCall);
const { waitForVolumeSnapshot } = proxyActivities<Activities>({
  ...shortCall,
  // Waiting only reads, so a cancelled run need not wait for it.
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  // One attempt owns the whole wait; its own deadline (anchored to the first attempt) turns into the volume's failure
  // reason. Retries are for the API server going away (a restart takes seconds), so they get as many as the others.
  retry: shortCall.retry,
});

/**
 * Tells the parent snapshot this volume is cleaning up. Best effort: a parent that has closed misses nothing it
 * needs, the child's result carries the final phase. Runs recorded before this signal existed replay without it.
 */
async function reportToParent(update: VolumePhaseUpdate): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent || !patched('volume-phase-signal')) return;
  await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(volumePhaseSignal, update).catch(() => undefined);
}

export async function volumeSnapshotWorkflow(input: VolumeSnapshotInput): Promise<VolumeResult> {
  const { volume } = input;
  const base: VolumeResult = {
    pvc: volume.pvc,
    phase: 'InProgress',
    driver: volume.driver,
    volumeSnapshotClass: volume.volumeSnapshotClass,
    pvcSpec: volume.pvcSpec,
  };
  const target: VolumeSnapshotInput = { cluster: input.cluster, snapshotName: input.snapshotName, volume, readyTimeoutSeconds: input.readyTimeoutSeconds };
  let contentName: string | undefined;
  try {
    await createVolumeSnapshot(target);
    const ready = await waitForVolumeSnapshot(target);
    contentName = ready.contentName;
    Object.assign(base, { phase: 'CompletedCleaningUp', snapshotHandle: ready.snapshotHandle, restoreSize: ready.restoreSize, driver: ready.driver ?? volume.driver });
    await reportToParent({ pvc: volume.pvc, phase: 'CompletedCleaningUp' });
    await retainAndReleaseVolumeSnapshot({ ...target, contentName });
    return { ...base, phase: 'Completed' };
  } catch (err) {
    const reason = rootMessage(err);
    // A cancelled child's parent is being cancelled too: it has no status left to show.
    if (!isCancellation(err)) await reportToParent({ pvc: volume.pvc, phase: 'FailedCleaningUp', reason });
    // FailedCleaningUp: remove what this attempt created, even when the parent is being cancelled.
    await CancellationScope.nonCancellable(() => deleteVolumeSnapshot({ ...target, contentName })).catch(() => undefined);
    if (isCancellation(err)) throw err;
    return { ...base, phase: 'Failed', reason };
  }
}

