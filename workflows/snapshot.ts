// The snapshot workflow a cluster's schedule starts: plan -> volumes -> dump and store -> metadata -> retention.
import {
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  ActivityCancellationType,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { createActivities } from '../activities';
import { engineFor } from '../contracts/engine';
import { NON_RETRYABLE_ERROR_TYPES, failure, rootMessage } from '../contracts/errors';
import {
  SEARCH_ATTRIBUTES,
  dumpProgressSignal,
  statusQuery,
  type SnapshotRecord,
  type SnapshotStatusView,
  type SnapshotWorkflowInput,
} from '../contracts/definitions';
import { snapshotNameFor } from '../contracts/naming';
import { aggregateVolumes, currentDetails } from './status';
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
  const view: SnapshotStatusView = {
    cluster: policy.cluster,
    status: 'InProgress',
    phase: 'planning',
    snapshotName,
    startedAt: new Date().toISOString(),
    keysWritten: 0,
    bytesWritten: 0,
    volumes: [],
  };
  setHandler(statusQuery, () => view);
  setHandler(dumpProgressSignal, (progress) => {
    if (view.phase !== 'dumping') return;
    if (progress.requestPhase !== undefined) view.vclusterPhase = progress.requestPhase || 'Pending';
    view.keysWritten = progress.keys;
    view.bytesWritten = progress.bytes;
    view.waitingForDumpSlot = progress.waitingForSlot || undefined;
    setCurrentDetails(currentDetails(view));
  });
  const publish = () => {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.clusterName, value: policy.cluster.name },
      { key: SEARCH_ATTRIBUTES.clusterNamespace, value: policy.cluster.namespace },
      { key: SEARCH_ATTRIBUTES.snapshotStatus, value: view.status },
    ]);
    setCurrentDetails(currentDetails(view));
  };
  publish();

  let sha256: string | undefined;
  let revision: string | undefined;
  let volumeReason: string | undefined;
  let cancellation: unknown;
  try {
    if (policy.volumes.enabled) {
      view.phase = 'volumes';
      publish();
      view.volumes = await snapshotVolumes(policy, snapshotName, (volumes) => {
        view.volumes = volumes;
        setCurrentDetails(currentDetails(view));
      });
      const outcome = aggregateVolumes(view.volumes);
      volumeReason = outcome.reason;
      // As vCluster does: when every volume snapshot failed there is no archive.
      if (outcome.status === 'Failed') throw failure('VolumesFailed', outcome.reason ?? 'volume snapshots failed');
    }
    view.phase = 'dumping';
    view.engine = engineFor(policy);
    publish();
    const dumpInput = { policy, snapshotName, nominalTime: nominalTime.toISOString() };
    // Runs recorded before the request engine took every run with an unreachable store to dumpAndStore.
    const stored = view.engine === 'request' && patched('request-engine') ? await snapshotByRequest(dumpInput) : await dumpAndStore(dumpInput);
    Object.assign(view, { url: stored.url, keysWritten: stored.keys, bytesWritten: stored.bytes, waitingForDumpSlot: undefined });
    sha256 = stored.sha256;
    revision = stored.revision;
    view.status = volumeReason ? 'PartiallyFailed' : 'Completed';
    view.error = volumeReason;
  } catch (err) {
    view.status = 'Failed';
    view.error = isCancellation(err) ? 'cancelled' : rootMessage(err);
    cancellation = isCancellation(err) ? err : undefined;
  }

  view.phase = 'metadata';
  view.finishedAt = new Date().toISOString();
  publish();
  const record: SnapshotRecord = {
    formatVersion: 1,
    cluster: policy.cluster,
    snapshotName,
    archiveUrl: view.url ?? '',
    status: view.status as SnapshotRecord['status'],
    startedAt: view.startedAt,
    finishedAt: view.finishedAt,
    nominalTime: nominalTime.toISOString(),
    bytes: view.bytesWritten,
    keys: view.keysWritten,
    sha256,
    revision,
    volumes: view.volumes,
    error: view.error,
    workflowId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    engine: view.engine,
  };
  try {
    // Even a cancelled run leaves its Failed record, so the catalog explains the gap.
    await CancellationScope.nonCancellable(() => writeRecord({ policy, record }));
  } catch (err) {
    // A stored archive without its record is still a usable snapshot; say why the catalog may lack it.
    view.error = [view.error, `metadata record not written: ${rootMessage(err)}`].filter(Boolean).join('; ');
  }

  if (view.status !== 'Failed') {
    view.phase = 'retention';
    publish();
    try {
      view.retention = await applyRetention({ policy, justTaken: snapshotName });
    } catch (err) {
      // Pruning is retried by the next run; it never fails the snapshot just taken.
      view.retention = { deleted: [], failed: [{ name: '*', reason: rootMessage(err) }] };
    }
  }

  view.phase = 'done';
  publish();
  if (cancellation) throw cancellation;
  if (view.status === 'Failed') {
    throw failure('SnapshotFailed', `snapshot ${snapshotName} of ${policy.cluster.namespace}/${policy.cluster.name} failed: ${view.error}`);
  }
  return view;
}
