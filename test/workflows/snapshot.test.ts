// snapshotWorkflow against stub activities: every outcome, the status query, the dumpProgress signal and the
// SnapshotStatus search attribute, on Temporal's test environment only.
import { strict as assert } from 'node:assert';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES, dumpProgressSignal, statusQuery, type SnapshotPolicy, type VolumeResult } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import type { PlannedVolume } from '../../contracts/volume';
import type { snapshotWorkflow } from '../../workflows';
import {
  CLUSTER,
  NOMINAL_TIME,
  SNAPSHOT_NAME,
  StubActivities,
  currentDetailsOf,
  failureOf,
  gate,
  heartbeatUntil,
  soon,
  testPolicy,
  useTestEnvironment,
  workflowId,
  type StubImpls,
} from './env';

const STORED = { url: `file:///var/lib/vcsnap/${SNAPSHOT_NAME}.tar.gz`, bytes: 4096, keys: 42, sha256: 'ab'.repeat(32), revision: '17' };
const RETENTION = { deleted: ['demo-2025-12-01T00-00-00Z'], failed: [] };
const VOLUMES_ON: SnapshotPolicy['volumes'] = { enabled: true, concurrency: 2 };

/** Two CSI volumes and one discovery skips. */
const PLANNED: PlannedVolume[] = [
  { pvc: 'data-a', namespace: 'team-a', driver: 'csi.test', volumeSnapshotClass: 'csi-class', pvcSpec: { storageClassName: 'fast' } },
  { pvc: 'data-b', namespace: 'team-a', driver: 'csi.test', volumeSnapshotClass: 'csi-class', pvcSpec: { storageClassName: 'fast' } },
  { pvc: 'scratch', namespace: 'team-a', skipReason: 'not a CSI volume' },
];

function completedVolume(pvc: string): VolumeResult {
  return { pvc, phase: 'Completed', driver: 'csi.test', volumeSnapshotClass: 'csi-class', pvcSpec: { storageClassName: 'fast' }, snapshotHandle: `handle-${pvc}`, restoreSize: '1Gi' };
}

function failedVolume(pvc: string, reason: string): VolumeResult {
  return { pvc, phase: 'Failed', driver: 'csi.test', volumeSnapshotClass: 'csi-class', pvcSpec: { storageClassName: 'fast' }, reason };
}

const SKIPPED: VolumeResult = { pvc: 'scratch', phase: 'Skipped', reason: 'not a CSI volume' };

function readyFor(pvc: string) {
  return { volumeSnapshotName: `${pvc}-snap`, contentName: `content-${pvc}`, snapshotHandle: `handle-${pvc}`, driver: 'csi.test', restoreSize: '1Gi' };
}

/** Stubs for a run where everything succeeds; `overrides` replace some of them. */
function happyStubs(overrides: StubImpls = {}): StubActivities {
  return new StubActivities({
    discoverVolumes: () => PLANNED,
    createVolumeSnapshot: ({ volume }) => ({ volumeSnapshotName: `${volume.pvc}-snap` }),
    waitForVolumeSnapshot: ({ volume }) => readyFor(volume.pvc),
    retainAndReleaseVolumeSnapshot: () => undefined,
    deleteVolumeSnapshot: () => undefined,
    dumpAndStore: () => STORED,
    writeRecord: () => undefined,
    applyRetention: () => RETENTION,
    ...overrides,
  });
}

/** The volume wait fails for these PVCs. */
function failingWaitFor(...pvcs: string[]): StubImpls['waitForVolumeSnapshot'] {
  return ({ volume }) => {
    if (pvcs.includes(volume.pvc)) throw failure('VolumeSnapshotFailed', `VolumeSnapshot of PVC ${volume.pvc} failed: driver refused`);
    return readyFor(volume.pvc);
  };
}

describe('snapshotWorkflow (stub activities)', function () {
  const fast = useTestEnvironment();

  function start(taskQueue: string, policy: SnapshotPolicy = testPolicy()): Promise<WorkflowHandleWithFirstExecutionRunId<typeof snapshotWorkflow>> {
    return fast().client.workflow.start<typeof snapshotWorkflow>(WORKFLOW_TYPES.snapshot, {
      taskQueue,
      workflowId: workflowId('snapshot'),
      args: [{ policy, nominalTime: NOMINAL_TIME }],
    });
  }

  async function searchAttributesOf(handle: WorkflowHandle): Promise<{ status?: string; name?: string; namespace?: string }> {
    const attributes = (await handle.describe()).typedSearchAttributes;
    return {
      status: attributes.get(SEARCH_ATTRIBUTES.snapshotStatus),
      name: attributes.get(SEARCH_ATTRIBUTES.clusterName),
      namespace: attributes.get(SEARCH_ATTRIBUTES.clusterNamespace),
    };
  }

  it('completes without volumes: dump, record, retention, and Completed everywhere', async () => {
    const stubs = happyStubs();
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      const result = await handle.result();

      assert.equal(result.status, 'Completed');
      assert.equal(result.phase, 'done');
      assert.equal(result.snapshotName, SNAPSHOT_NAME);
      assert.equal(result.url, STORED.url);
      assert.equal(result.keysWritten, STORED.keys);
      assert.equal(result.bytesWritten, STORED.bytes);
      assert.deepEqual(result.volumes, []);
      assert.equal(result.error, undefined);
      assert.equal(result.waitingForDumpSlot, undefined);
      assert.deepEqual(result.retention, RETENTION);
      assert.ok(result.finishedAt && result.finishedAt >= result.startedAt);

      assert.deepEqual(stubs.names(), ['dumpAndStore', 'writeRecord', 'applyRetention']);
      assert.deepEqual(stubs.calls('dumpAndStore'), [{ policy: testPolicy(), snapshotName: SNAPSHOT_NAME, nominalTime: NOMINAL_TIME }]);
      const [{ policy, record }] = stubs.calls('writeRecord');
      assert.deepEqual(policy, testPolicy());
      assert.deepEqual(record, {
        formatVersion: 1,
        cluster: CLUSTER,
        snapshotName: SNAPSHOT_NAME,
        archiveUrl: STORED.url,
        status: 'Completed',
        startedAt: result.startedAt,
        finishedAt: result.finishedAt,
        nominalTime: NOMINAL_TIME,
        bytes: STORED.bytes,
        keys: STORED.keys,
        sha256: STORED.sha256,
        revision: STORED.revision,
        volumes: [],
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        engine: 'direct',
      });
      assert.deepEqual(stubs.calls('applyRetention'), [{ policy: testPolicy(), justTaken: SNAPSHOT_NAME }]);

      assert.deepEqual(await handle.query(statusQuery), result);
      assert.deepEqual(await searchAttributesOf(handle), { status: 'Completed', name: CLUSTER.name, namespace: CLUSTER.namespace });
      const details = await currentDetailsOf(fast().client, handle.workflowId);
      assert.match(details, /\*\*Completed\*\* \(done\) — team-a\/demo/);
      assert.match(details, /written: 42 keys, 4\.0 KiB/);
    });
  });

  it('takes a cluster whose store the worker cannot reach through a vCluster snapshot request, showing its phase', async () => {
    const filed = gate();
    const done = gate();
    const stubs = happyStubs({
      snapshotByRequest: async () => {
        filed.open();
        await heartbeatUntil(done.promise);
        return { ...STORED, revision: '' };
      },
    });
    const policy: SnapshotPolicy = { ...testPolicy(), state: { endpoints: [], origin: 'none', unavailableReason: 'embedded SQLite store' } };
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, policy);
      await filed.promise;
      await handle.signal(dumpProgressSignal, { keys: 0, bytes: 0, requestPhase: 'CreatingEtcdBackup' });
      const running = await soon('the vCluster phase in status', async () => {
        const view = await handle.query(statusQuery);
        return view.vclusterPhase === 'CreatingEtcdBackup' && view;
      });
      assert.deepEqual([running.status, running.phase, running.engine], ['InProgress', 'dumping', 'request']);
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /engine: request \(vCluster request phase: CreatingEtcdBackup\)/);
      done.open();
      const result = await handle.result();
      assert.equal(result.status, 'Completed');
      assert.deepEqual(stubs.names(), ['snapshotByRequest', 'writeRecord', 'applyRetention']);
      assert.deepEqual(stubs.calls('snapshotByRequest'), [{ policy, snapshotName: SNAPSHOT_NAME, nominalTime: NOMINAL_TIME }]);
      const [{ record }] = stubs.calls('writeRecord');
      assert.deepEqual([record.engine, record.status, record.sha256], ['request', 'Completed', STORED.sha256]);
    });
  });

  it('a request vCluster fails ends the run Failed with vCluster\'s message', async () => {
    const message = 'vCluster team-a/demo failed snapshot request x: NoSuchBucket: The specified bucket does not exist';
    const stubs = happyStubs({ snapshotByRequest: () => Promise.reject(failure('VclusterRequestFailed', message)) });
    const policy: SnapshotPolicy = { ...testPolicy(), engine: 'request' };
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, policy);
      const cause = await failureOf(handle.result());
      assert.equal(cause.message, `snapshot ${SNAPSHOT_NAME} of team-a/demo failed: ${message}`);
      assert.equal(stubs.calls('snapshotByRequest').length, 1, 'a non-retryable failure is not retried');
      assert.equal(stubs.calls('dumpAndStore').length, 0);
      const [{ record }] = stubs.calls('writeRecord');
      assert.deepEqual([record.status, record.error, record.engine], ['Failed', message, 'request']);
    });
  });

  it('shows InProgress while dumping; dumpProgress moves the counts only in the dumping phase', async () => {
    const volumeWait = gate();
    const dump = gate();
    const record = gate();
    const stubs = happyStubs({
      discoverVolumes: () => [PLANNED[0]],
      waitForVolumeSnapshot: async ({ volume }) => {
        await heartbeatUntil(volumeWait.promise);
        return readyFor(volume.pvc);
      },
      dumpAndStore: async () => {
        await heartbeatUntil(dump.promise);
        return STORED;
      },
      writeRecord: async () => {
        await heartbeatUntil(record.promise);
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, testPolicy(VOLUMES_ON));

      // Volumes phase: progress is not the dump's yet.
      await soon('the volume wait', () => stubs.calls('waitForVolumeSnapshot').length === 1);
      const inVolumes = await handle.query(statusQuery);
      assert.equal(inVolumes.phase, 'volumes');
      assert.equal(inVolumes.status, 'InProgress');
      assert.deepEqual(inVolumes.volumes.map((v) => [v.pvc, v.phase]), [['data-a', 'InProgress']]);
      assert.equal((await searchAttributesOf(handle)).status, 'InProgress');
      await handle.signal(dumpProgressSignal, { keys: 5, bytes: 500 });
      volumeWait.open();

      // Dumping: the signal's counts and slot wait show in the query and the current details.
      await soon('the dump', () => stubs.calls('dumpAndStore').length === 1);
      const dumping = await soon('the dumping phase', async () => {
        const view = await handle.query(statusQuery);
        return view.phase === 'dumping' && view;
      });
      assert.equal(dumping.keysWritten, 0, 'a dumpProgress signal before the dump is ignored');
      assert.equal(dumping.bytesWritten, 0);
      assert.equal((await searchAttributesOf(handle)).status, 'InProgress');

      await handle.signal(dumpProgressSignal, { keys: 0, bytes: 0, waitingForSlot: true });
      await soon('waitingForDumpSlot', async () => (await handle.query(statusQuery)).waitingForDumpSlot === true);
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /waiting for a free dump slot/);

      await handle.signal(dumpProgressSignal, { keys: 10, bytes: 2048 });
      const progressed = await soon('the progress counts', async () => {
        const view = await handle.query(statusQuery);
        return view.keysWritten === 10 && view;
      });
      assert.equal(progressed.bytesWritten, 2048);
      assert.equal(progressed.waitingForDumpSlot, undefined, 'waitingForSlot false clears the flag');
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /written: 10 keys, 2\.0 KiB/);
      dump.open();

      // Metadata: the dump's own totals stand, a late signal is ignored.
      await soon('the record write', () => stubs.calls('writeRecord').length === 1);
      const inMetadata = await handle.query(statusQuery);
      assert.equal(inMetadata.phase, 'metadata');
      assert.equal(inMetadata.status, 'Completed');
      assert.equal(inMetadata.keysWritten, STORED.keys);
      await handle.signal(dumpProgressSignal, { keys: 999, bytes: 999 });
      record.open();

      const result = await handle.result();
      assert.equal(result.status, 'Completed');
      assert.equal(result.keysWritten, STORED.keys);
      assert.equal(result.bytesWritten, STORED.bytes);
      assert.deepEqual(result.volumes, [completedVolume('data-a')]);
      assert.equal((await searchAttributesOf(handle)).status, 'Completed');
    });
  });

  it('with volumes, all completed: one child per CSI PVC, skipped ones kept, Completed', async () => {
    const stubs = happyStubs();
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, testPolicy(VOLUMES_ON));
      const result = await handle.result();

      assert.equal(result.status, 'Completed');
      assert.equal(result.error, undefined);
      assert.deepEqual(result.volumes, [completedVolume('data-a'), completedVolume('data-b'), SKIPPED]);
      assert.deepEqual(stubs.calls('discoverVolumes'), [{ cluster: CLUSTER }]);
      assert.deepEqual(stubs.calls('createVolumeSnapshot').map((c) => c.volume.pvc).sort(), ['data-a', 'data-b']);
      assert.deepEqual(stubs.calls('createVolumeSnapshot').find((c) => c.volume.pvc === 'data-a'), { cluster: CLUSTER, snapshotName: SNAPSHOT_NAME, volume: PLANNED[0] });
      assert.deepEqual(stubs.calls('retainAndReleaseVolumeSnapshot').map((c) => c.contentName).sort(), ['content-data-a', 'content-data-b']);
      assert.equal(stubs.calls('deleteVolumeSnapshot').length, 0);
      assert.equal(stubs.calls('dumpAndStore').length, 1);
      assert.equal(stubs.calls('applyRetention').length, 1);
      assert.deepEqual(stubs.calls('writeRecord')[0].record.volumes, result.volumes);
      assert.equal(stubs.calls('writeRecord')[0].record.status, 'Completed');

      // The children are named after the parent and the PVC.
      const child = await fast().client.workflow.getHandle(`${handle.workflowId}/pvc/data-b`).result();
      assert.deepEqual(child, completedVolume('data-b'));
      assert.equal((await searchAttributesOf(handle)).status, 'Completed');
    });
  });

  it('runs at most volumes.concurrency children at once', async () => {
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    let running = 0;
    let mostAtOnce = 0;
    const alone: (() => void)[] = [];
    const stubs = happyStubs({
      discoverVolumes: () => ['v1', 'v2', 'v3', 'v4'].map((pvc) => ({ pvc, namespace: 'team-a', driver: 'csi.test' })),
      waitForVolumeSnapshot: async ({ volume }) => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        // Each wait holds until another runs beside it (2 s at most), then stays long enough for a third to overlap.
        if (running >= 2) alone.splice(0).forEach((wake) => wake());
        else await Promise.race([new Promise<void>((resolve) => alone.push(resolve)), sleep(2000)]);
        await sleep(200);
        running--;
        return { volumeSnapshotName: `${volume.pvc}-snap`, contentName: `content-${volume.pvc}`, snapshotHandle: `handle-${volume.pvc}` };
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const result = await (await start(taskQueue, testPolicy(VOLUMES_ON))).result();
      assert.equal(result.status, 'Completed');
      assert.deepEqual(result.volumes.map((v) => [v.pvc, v.phase, v.driver]), ['v1', 'v2', 'v3', 'v4'].map((pvc) => [pvc, 'Completed', 'csi.test']));
      assert.equal(mostAtOnce, 2);
    });
  });

  it('with only skipped volumes: no child runs and the snapshot is Completed', async () => {
    const stubs = happyStubs({ discoverVolumes: () => [PLANNED[2]] });
    await fast().withWorker(stubs, async (taskQueue) => {
      const result = await (await start(taskQueue, testPolicy(VOLUMES_ON))).result();
      assert.equal(result.status, 'Completed');
      assert.equal(result.error, undefined);
      assert.deepEqual(result.volumes, [SKIPPED]);
      assert.deepEqual(stubs.names(), ['discoverVolumes', 'dumpAndStore', 'writeRecord', 'applyRetention']);
    });
  });

  it('with some volumes failed: PartiallyFailed with the reason, the archive still taken', async () => {
    const reason = 'VolumeSnapshot of PVC data-b failed: driver refused';
    const stubs = happyStubs({ waitForVolumeSnapshot: failingWaitFor('data-b') });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, testPolicy(VOLUMES_ON));
      const result = await handle.result();

      assert.equal(result.status, 'PartiallyFailed');
      assert.equal(result.error, `1 of 2 volume snapshots failed: data-b: ${reason}`);
      assert.deepEqual(result.volumes, [completedVolume('data-a'), failedVolume('data-b', reason), SKIPPED]);
      assert.equal(stubs.calls('dumpAndStore').length, 1);
      assert.deepEqual(stubs.calls('deleteVolumeSnapshot').map((c) => [c.volume.pvc, c.contentName]), [['data-b', undefined]]);
      const [{ record }] = stubs.calls('writeRecord');
      assert.equal(record.status, 'PartiallyFailed');
      assert.equal(record.error, result.error);
      assert.equal(record.archiveUrl, STORED.url);
      assert.deepEqual(stubs.calls('applyRetention'), [{ policy: testPolicy(VOLUMES_ON), justTaken: SNAPSHOT_NAME }]);
      assert.deepEqual(await searchAttributesOf(handle), { status: 'PartiallyFailed', name: CLUSTER.name, namespace: CLUSTER.namespace });
    });
  });

  it('with every volume failed: Failed (VolumesFailed), no dump, a Failed record, SnapshotFailed', async () => {
    const stubs = happyStubs({ waitForVolumeSnapshot: failingWaitFor('data-a', 'data-b') });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, testPolicy(VOLUMES_ON));
      const cause = await failureOf(handle.result());

      const volumesReason = '2 of 2 volume snapshots failed: data-a: VolumeSnapshot of PVC data-a failed: driver refused; data-b: VolumeSnapshot of PVC data-b failed: driver refused';
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'SnapshotFailed');
      assert.equal(cause.nonRetryable, true);
      assert.equal(cause.message, `snapshot ${SNAPSHOT_NAME} of team-a/demo failed: ${volumesReason}`);
      assert.equal(stubs.calls('dumpAndStore').length, 0);
      assert.equal(stubs.calls('applyRetention').length, 0);
      assert.equal(stubs.calls('deleteVolumeSnapshot').length, 2);
      const [{ record }] = stubs.calls('writeRecord');
      assert.equal(record.status, 'Failed');
      assert.equal(record.error, volumesReason);
      assert.equal(record.archiveUrl, '');
      assert.equal(record.sha256, undefined);
      assert.deepEqual(record.volumes, [failedVolume('data-a', 'VolumeSnapshot of PVC data-a failed: driver refused'), failedVolume('data-b', 'VolumeSnapshot of PVC data-b failed: driver refused'), SKIPPED]);

      const view = await handle.query(statusQuery);
      assert.equal(view.status, 'Failed');
      assert.equal(view.phase, 'done');
      assert.equal(view.error, volumesReason);
      assert.equal((await searchAttributesOf(handle)).status, 'Failed');
    });
  });

  it('shows each volume cleaning up through the child signals', async () => {
    const release = gate();
    const cleanup = gate();
    const stubs = happyStubs({
      waitForVolumeSnapshot: failingWaitFor('data-b'),
      retainAndReleaseVolumeSnapshot: () => heartbeatUntil(release.promise),
      deleteVolumeSnapshot: () => heartbeatUntil(cleanup.promise),
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue, testPolicy(VOLUMES_ON));
      const view = await soon('both volumes cleaning up', async () => {
        const current = await handle.query(statusQuery);
        const phases = current.volumes.map((v) => v.phase);
        return phases[0] === 'CompletedCleaningUp' && phases[1] === 'FailedCleaningUp' && current;
      });
      assert.equal(view.phase, 'volumes');
      // The signal adds the phase and reason to what the parent knew from discovery.
      assert.deepEqual(view.volumes[1], { pvc: 'data-b', phase: 'FailedCleaningUp', driver: 'csi.test', reason: 'VolumeSnapshot of PVC data-b failed: driver refused' });
      assert.deepEqual(view.volumes[2], SKIPPED);
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /\| data-b \| FailedCleaningUp \| VolumeSnapshot of PVC data-b failed: driver refused \|/);
      release.open();
      cleanup.open();

      const result = await handle.result();
      assert.equal(result.status, 'PartiallyFailed');
      assert.deepEqual(result.volumes.map((v) => v.phase), ['Completed', 'Failed', 'Skipped']);
    });
  });

  it('with a copy location: the copy step runs after the store with the archive\'s sha256, and the record says where the copy is', async () => {
    const policy: SnapshotPolicy = { ...testPolicy(), copy: { type: 'container', path: '/copies' } };
    const copy = { url: `file:///copies/${SNAPSHOT_NAME}.tar.gz`, sha256: STORED.sha256 };
    const stubs = happyStubs({ copySnapshot: () => copy });
    await fast().withWorker(stubs, async (taskQueue) => {
      const result = await (await start(taskQueue, policy)).result();
      assert.equal(result.status, 'Completed', result.error);
      assert.deepEqual(stubs.names(), ['dumpAndStore', 'copySnapshot', 'writeRecord', 'applyRetention']);
      assert.deepEqual(stubs.calls('copySnapshot'), [{ policy, snapshotName: SNAPSHOT_NAME, nominalTime: NOMINAL_TIME, sha256: STORED.sha256 }]);
      assert.deepEqual(result.copy, copy);
      assert.deepEqual(stubs.calls('writeRecord')[0]!.record.copy, copy);
    });
  });

  it('a copy that fails: PartiallyFailed naming the copy location, the primary\'s record written, retention still runs', async () => {
    const policy: SnapshotPolicy = { ...testPolicy(), copy: { type: 'container', path: '/copies' } };
    const stubs = happyStubs({
      copySnapshot: () => {
        throw failure('StorageLocationNotFound', 'directory /copies does not exist');
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const result = await (await start(taskQueue, policy)).result();
      assert.equal(result.status, 'PartiallyFailed');
      assert.equal(result.error, 'copy to container:///copies failed: directory /copies does not exist');
      assert.equal(result.url, STORED.url);
      const [{ record }] = stubs.calls('writeRecord');
      assert.deepEqual([record.status, record.sha256, record.copy], ['PartiallyFailed', STORED.sha256, { url: 'container:///copies', error: 'directory /copies does not exist' }]);
      assert.equal(stubs.calls('applyRetention').length, 1);
    });
  });

  it('an Object Lock the bucket cannot take: stored unlocked, PartiallyFailed with the reason; a lock written is in the record', async () => {
    const lockWarning = 'objectLock GOVERNANCE asked for, but bucket b has no Object Lock configuration: the snapshot is stored WITHOUT a lock';
    const unlocked = happyStubs({ dumpAndStore: () => ({ ...STORED, lockWarning }) });
    await fast().withWorker(unlocked, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual([result.status, result.error, result.lock], ['PartiallyFailed', lockWarning, undefined]);
    });
    const lock = { mode: 'GOVERNANCE' as const, retainUntil: '2026-12-23T12:00:00.000Z' };
    const locked = happyStubs({ dumpAndStore: () => ({ ...STORED, lock }) });
    await fast().withWorker(locked, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual([result.status, result.lock], ['Completed', lock]);
      assert.deepEqual(locked.calls('writeRecord')[0]!.record.lock, lock);
    });
  });

  it('a dump failing non-retryably: Failed record with the error, no retention, SnapshotFailed', async () => {
    const message = 'cluster team-a/demo: state not reachable: etcd refused the client certificate';
    const stubs = happyStubs({
      dumpAndStore: () => {
        throw failure('EtcdBadCredentials', message);
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      const cause = await failureOf(handle.result());

      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'SnapshotFailed');
      assert.equal(cause.message, `snapshot ${SNAPSHOT_NAME} of team-a/demo failed: ${message}`);
      assert.equal(stubs.calls('dumpAndStore').length, 1, 'a non-retryable failure is not retried');
      assert.equal(stubs.calls('applyRetention').length, 0);
      const [{ record }] = stubs.calls('writeRecord');
      assert.equal(record.status, 'Failed');
      assert.equal(record.error, message);
      assert.equal(record.archiveUrl, '');
      assert.equal(record.keys, 0);

      const view = await handle.query(statusQuery);
      assert.deepEqual([view.status, view.phase, view.error, view.retention], ['Failed', 'done', message, undefined]);
      assert.equal((await searchAttributesOf(handle)).status, 'Failed');
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /\*\*Failed\*\* \(done\)[\s\S]*error: cluster team-a\/demo: state not reachable/);
    });
  });

  it('a record that cannot be written: the status stays, the error says metadata record not written', async () => {
    const stubs = happyStubs({
      writeRecord: () => {
        throw failure('StorageBadCredentials', 'storage refused the credentials of Secret team-a/s3');
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      const result = await handle.result();
      assert.equal(result.status, 'Completed');
      assert.equal(result.error, 'metadata record not written: storage refused the credentials of Secret team-a/s3');
      assert.equal(result.url, STORED.url);
      assert.equal(stubs.calls('writeRecord').length, 1);
      assert.deepEqual(result.retention, RETENTION, 'retention still runs');
      assert.equal((await searchAttributesOf(handle)).status, 'Completed');
    });
  });

  it('a record that cannot be written after a partial failure or a failed dump: both reasons kept', async () => {
    const writeRecord = () => {
      throw failure('StorageLocationNotFound', 'bucket vcsnap does not exist');
    };
    const partial = happyStubs({ waitForVolumeSnapshot: failingWaitFor('data-b'), writeRecord });
    await fast().withWorker(partial, async (taskQueue) => {
      const result = await (await start(taskQueue, testPolicy(VOLUMES_ON))).result();
      assert.equal(result.status, 'PartiallyFailed');
      assert.equal(result.error, '1 of 2 volume snapshots failed: data-b: VolumeSnapshot of PVC data-b failed: driver refused; metadata record not written: bucket vcsnap does not exist');
    });
    const failed = happyStubs({
      dumpAndStore: () => {
        throw failure('StorageBadConfiguration', 'no such directory');
      },
      writeRecord,
    });
    await fast().withWorker(failed, async (taskQueue) => {
      const cause = await failureOf((await start(taskQueue)).result());
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'SnapshotFailed');
      assert.equal(cause.message, `snapshot ${SNAPSHOT_NAME} of team-a/demo failed: no such directory; metadata record not written: bucket vcsnap does not exist`);
    });
  });

  it('retention failing: the run still completes, retention.failed has *', async () => {
    const stubs = happyStubs({
      applyRetention: () => {
        throw failure('StorageBadCredentials', 'delete denied');
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      const result = await handle.result();
      assert.equal(result.status, 'Completed');
      assert.equal(result.error, undefined);
      assert.deepEqual(result.retention, { deleted: [], failed: [{ name: '*', reason: 'delete denied' }] });
      assert.equal(stubs.calls('applyRetention').length, 1);
      assert.equal(stubs.calls('writeRecord')[0].record.status, 'Completed');
      assert.equal((await searchAttributesOf(handle)).status, 'Completed');
    });
  });

  it('cancelled during retention: the snapshot stays Completed with its record, pruning stops, the workflow is cancelled', async () => {
    const stubs = happyStubs({
      applyRetention: async () => {
        await heartbeatUntil(new Promise(() => undefined));
        throw new Error('unreachable');
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      await soon('retention', () => stubs.calls('applyRetention').length === 1);
      await handle.cancel();
      const cause = await failureOf(handle.result());

      assert.ok(cause instanceof CancelledFailure, `expected a cancellation, got ${cause}`);
      const [{ record }] = stubs.calls('writeRecord');
      assert.equal(record.status, 'Completed', 'the stored snapshot and its record stand');
      const view = await handle.query(statusQuery);
      assert.deepEqual([view.status, view.phase, view.retention], ['Completed', 'done', { deleted: [], failed: [{ name: '*', reason: 'cancelled' }] }]);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
    });
  });

  it('cancelled mid-dump: the dump is cancelled, a Failed record says cancelled, the workflow is cancelled', async () => {
    let dumpCancelled = false;
    const stubs = happyStubs({
      dumpAndStore: async () => {
        await heartbeatUntil(new Promise(() => undefined), () => (dumpCancelled = true));
        throw new Error('unreachable');
      },
    });
    await fast().withWorker(stubs, async (taskQueue) => {
      const handle = await start(taskQueue);
      await soon('the dump', () => stubs.calls('dumpAndStore').length === 1);
      await handle.cancel();
      const cause = await failureOf(handle.result());

      assert.ok(cause instanceof CancelledFailure, `expected a cancellation, got ${cause}`);
      assert.ok(dumpCancelled, 'the dump activity saw the cancellation');
      const [{ record }] = stubs.calls('writeRecord');
      assert.equal(record.status, 'Failed');
      assert.equal(record.error, 'cancelled');
      assert.equal(stubs.calls('applyRetention').length, 0);
      const view = await handle.query(statusQuery);
      assert.deepEqual([view.status, view.phase, view.error], ['Failed', 'done', 'cancelled']);
      assert.equal((await searchAttributesOf(handle)).status, 'Failed');
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
    });
  });
});
