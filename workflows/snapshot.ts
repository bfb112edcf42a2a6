// The snapshot workflow a cluster's schedule starts: plan -> volumes -> dump and store (or a vCluster request) ->
// metadata -> retention. Its bookkeeping (status view, record) is in snapshot-run.ts.
import { ActivityCancellationType, CancellationScope, isCancellation, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { createActivities } from '../activities';
import { dumpTaskQueue, type SnapshotStatusView, type SnapshotWorkflowInput } from '../contracts/definitions';
import { engineFor } from '../contracts/engine';
import { NON_RETRYABLE_ERROR_TYPES, failure, rootMessage } from '../contracts/errors';
import { locationText, snapshotNameFor } from '../contracts/naming';
import { SnapshotRun } from './snapshot-run';
import { aggregateVolumes } from './status';
import { snapshotVolumes } from './volume-fanout';

type Activities = ReturnType<typeof createActivities>;

// The request engine's wait has the same shape: long, heartbeating, and a cancel must withdraw the request.
const { dumpAndStore, snapshotByRequest } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // How soon a retry takes over from a worker that died mid-dump. The dump heartbeats every page and the upload
  // every stored part or chunk, far more often than this.
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

/** Kept at the end of a run for the record and retention: a fifth of the run, at most two minutes. */
const RUN_TAIL_MAX_MS = 2 * 60_000;
/** The retry window of a run without a run timeout (started outside a schedule). */
const DEFAULT_RETRY_WINDOW_MS = 30 * 60_000;
const MIN_RETRY_WINDOW_MS = 60_000;

/**
 * dumpAndStore sized by the schedule: a transient failure (an S3 or registry outage) is retried, with backoff capped
 * at a minute, until shortly before the run must end (its run timeout, derived from the cron by lib/schedules), then
 * the run ends Failed with the last cause; non-retryable causes still end it at once.
 */
function dumpWithinRunWindow(onDumpQueue: boolean): Activities['dumpAndStore'] {
  const info = workflowInfo();
  const runEnd = info.runTimeoutMs ? info.runStartTime.getTime() + info.runTimeoutMs : Date.now() + DEFAULT_RETRY_WINDOW_MS;
  const tail = info.runTimeoutMs ? Math.min(RUN_TAIL_MAX_MS, info.runTimeoutMs / 5) : 0;
  const windowMs = Math.max(MIN_RETRY_WINDOW_MS, runEnd - tail - Date.now());
  return proxyActivities<Activities>({
    // On the dump queue the wait for a slot counts against the run's window only, not against an attempt: no
    // schedule-to-start limit, and start-to-close runs from when a worker takes the dump.
    ...(onDumpQueue ? { taskQueue: dumpTaskQueue(info.taskQueue) } : {}),
    scheduleToCloseTimeout: windowMs,
    startToCloseTimeout: Math.min(windowMs, 2 * 3_600_000),
    heartbeatTimeout: '30 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  }).dumpAndStore;
}

// A copy streams the whole archive once more, alive by bytes moved (a stalled one fails its attempt); a target that
// stays down is not waited out here (the run ends PartiallyFailed, the next run copies its own snapshot).
const { copySnapshot } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

const { writeRecord, applyRetention } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The schedule's nominal fire time names the snapshot, so a retried run reuses its name. */
function nominalTimeOf(input: SnapshotWorkflowInput): Date {
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (scheduled) return scheduled;
  if (input.nominalTime) return new Date(input.nominalTime);
  return new Date(info.runStartTime ?? Date.now());
}

export async function snapshotWorkflow(input: SnapshotWorkflowInput): Promise<SnapshotStatusView> {
  const { policy } = input;
  const nominalTime = nominalTimeOf(input);
  const snapshotName = snapshotNameFor(policy.cluster.name, nominalTime);
  const run = new SnapshotRun(policy, snapshotName, nominalTime);

  let cancellation: unknown;
  try {
    let volumeReason: string | undefined;
    if (policy.volumes.enabled) {
      run.enter('volumes');
      const volumes = await snapshotVolumes(policy, snapshotName, (progress) => run.showVolumes(progress));
      run.showVolumes(volumes);
      const outcome = aggregateVolumes(volumes);
      volumeReason = outcome.reason;
      // As vCluster does: when every volume snapshot failed there is no archive.
      if (outcome.status === 'Failed') throw failure('VolumesFailed', outcome.reason ?? 'volume snapshots failed');
    }
    const engine = engineFor(policy);
    run.enter('dumping', { engine });
    const dumpInput = { policy, snapshotName, nominalTime: nominalTime.toISOString() };
    // Runs recorded before the request engine took every run with an unreachable store to dumpAndStore.
    // Runs recorded before retries were sized by the schedule keep their five attempts; runs recorded before dumps
    // had their own task queue keep the run's queue.
    const dump = patched('retry-window') ? dumpWithinRunWindow(patched('dump-queue')) : dumpAndStore;
    // Until a worker takes the dump (its first progress signal), the run waits for a dump slot.
    if (engine !== 'request') run.waitForDumpSlot();
    const stored = engine === 'request' && patched('request-engine') ? await snapshotByRequest(dumpInput) : await dump(dumpInput);
    run.archiveStored(stored, volumeReason);
    // Runs recorded before copy locations existed have no copy step (and their policies no copy).
    if (policy.copy && patched('copy-destination')) {
      run.enter('copying');
      try {
        run.copied(await copySnapshot({ ...dumpInput, sha256: stored.sha256 }));
      } catch (err) {
        if (isCancellation(err)) throw err;
        // The primary stays as stored: the copy's failure is this run's reason, not its end.
        run.copied({ url: locationText(policy.copy), error: rootMessage(err) });
      }
    }
  } catch (err) {
    run.failed(isCancellation(err) ? 'cancelled' : rootMessage(err));
    cancellation = isCancellation(err) ? err : undefined;
  }

  run.enter('metadata', { finishedAt: new Date().toISOString() });
  try {
    // Even a cancelled run leaves its Failed record, so the catalog explains the gap.
    await CancellationScope.nonCancellable(() => writeRecord({ policy, record: run.record() }));
  } catch (err) {
    // A stored archive without its record is still a usable snapshot; say why the catalog may lack it.
    run.note('metadata record not written', err);
  }

  if (run.view.status !== 'Failed') {
    run.enter('retention');
    try {
      run.view.retention = await applyRetention({ policy, justTaken: snapshotName });
    } catch (err) {
      // Pruning is retried by the next run; it never fails the snapshot just taken. A cancel stops it, and the run
      // ends cancelled as asked, its snapshot kept.
      run.view.retention = { deleted: [], failed: [{ name: '*', reason: isCancellation(err) ? 'cancelled' : rootMessage(err) }] };
      if (isCancellation(err)) cancellation = err;
    }
  }

  run.enter('done');
  if (cancellation) throw cancellation;
  if (run.view.status === 'Failed') {
    throw failure('SnapshotFailed', `snapshot ${snapshotName} of ${policy.cluster.namespace}/${policy.cluster.name} failed: ${run.view.error}`);
  }
  return run.view;
}
