// volumeSnapshotWorkflow (one PVC) against stub activities: success, failure at each step with cleanup, cancellation;
// and, through snapshotWorkflow, the FailedCleaningUp signal and a cancellation reaching the children.
import { strict as assert } from 'node:assert';
import { CancelledFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { WORKFLOW_TYPES, statusQuery } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import type { PlannedVolume, VolumeSnapshotInput } from '../../contracts/volume';
import type { snapshotWorkflow, volumeSnapshotWorkflow } from '../../workflows';
import { CLUSTER, NOMINAL_TIME, SNAPSHOT_NAME, StubActivities, failureOf, gate, heartbeatUntil, soon, testPolicy, useTestEnvironment, workflowId, type StubImpls } from './env';

const VOLUME: PlannedVolume = { pvc: 'data-0', namespace: 'team-a', driver: 'csi.planned', volumeSnapshotClass: 'csi-class', pvcSpec: { accessModes: ['ReadWriteOnce'] } };
const INPUT: VolumeSnapshotInput = { cluster: CLUSTER, snapshotName: SNAPSHOT_NAME, volume: VOLUME, readyTimeoutSeconds: 30 };
const READY = { volumeSnapshotName: 'data-0-snap', contentName: 'snapcontent-1', snapshotHandle: 'snap-handle-1', driver: 'csi.actual', restoreSize: '2Gi' };
/** What the child knows before the CSI driver answers. */
const BASE = { pvc: 'data-0', driver: 'csi.planned', volumeSnapshotClass: 'csi-class', pvcSpec: { accessModes: ['ReadWriteOnce'] } };

function stubs(overrides: StubImpls = {}): StubActivities {
  return new StubActivities({
    createVolumeSnapshot: () => ({ volumeSnapshotName: 'data-0-snap' }),
    waitForVolumeSnapshot: () => READY,
    retainAndReleaseVolumeSnapshot: () => undefined,
    deleteVolumeSnapshot: () => undefined,
    ...overrides,
  });
}

describe('volumeSnapshotWorkflow (stub activities)', function () {
  const fast = useTestEnvironment();

  function start(taskQueue: string): Promise<WorkflowHandle<typeof volumeSnapshotWorkflow>> {
    return fast().client.workflow.start<typeof volumeSnapshotWorkflow>(WORKFLOW_TYPES.volumeSnapshot, { taskQueue, workflowId: workflowId('volume'), args: [INPUT] });
  }

  it('succeeds: create, wait, retain and release; Completed with the handle', async () => {
    const activities = stubs();
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual(result, { ...BASE, phase: 'Completed', driver: 'csi.actual', snapshotHandle: 'snap-handle-1', restoreSize: '2Gi' });
      assert.deepEqual(activities.names(), ['createVolumeSnapshot', 'waitForVolumeSnapshot', 'retainAndReleaseVolumeSnapshot']);
      assert.deepEqual(activities.calls('createVolumeSnapshot'), [INPUT]);
      assert.deepEqual(activities.calls('waitForVolumeSnapshot'), [INPUT]);
      assert.deepEqual(activities.calls('retainAndReleaseVolumeSnapshot'), [{ ...INPUT, contentName: 'snapcontent-1' }]);
    });
  });

  it('keeps the planned driver when the ready snapshot names none', async () => {
    const activities = stubs({ waitForVolumeSnapshot: () => ({ ...READY, driver: undefined }) });
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.equal(result.phase, 'Completed');
      assert.equal(result.driver, 'csi.planned');
    });
  });

  it('a failed wait: Failed with the reason, cleanup called without a content name', async () => {
    const reason = 'VolumeSnapshot team-a/data-0-snap of PVC data-0 failed: out of quota';
    const activities = stubs({
      waitForVolumeSnapshot: () => {
        throw failure('VolumeSnapshotFailed', reason);
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual(result, { ...BASE, phase: 'Failed', reason });
      assert.deepEqual(activities.names(), ['createVolumeSnapshot', 'waitForVolumeSnapshot', 'deleteVolumeSnapshot']);
      assert.deepEqual(activities.calls('deleteVolumeSnapshot'), [INPUT]);
      assert.equal(activities.calls('waitForVolumeSnapshot').length, 1, 'a non-retryable failure is not retried');
    });
  });

  it('a failed create: Failed, no wait, cleanup called', async () => {
    const activities = stubs({
      createVolumeSnapshot: () => {
        throw failure('KubeForbidden', 'forbidden: cannot create volumesnapshots in team-a');
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual(result, { ...BASE, phase: 'Failed', reason: 'forbidden: cannot create volumesnapshots in team-a' });
      assert.deepEqual(activities.names(), ['createVolumeSnapshot', 'deleteVolumeSnapshot']);
    });
  });

  it('a failed release after ready: Failed with the handle known, cleanup given the content name', async () => {
    const activities = stubs({
      retainAndReleaseVolumeSnapshot: () => {
        throw failure('KubeForbidden', 'forbidden: cannot patch volumesnapshotcontents');
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.deepEqual(result, {
        ...BASE,
        phase: 'Failed',
        reason: 'forbidden: cannot patch volumesnapshotcontents',
        driver: 'csi.actual',
        snapshotHandle: 'snap-handle-1',
        restoreSize: '2Gi',
      });
      assert.deepEqual(activities.calls('deleteVolumeSnapshot'), [{ ...INPUT, contentName: 'snapcontent-1' }]);
    });
  });

  it('a failing cleanup does not hide the volume failure', async () => {
    const activities = stubs({
      waitForVolumeSnapshot: () => {
        throw failure('VolumeSnapshotFailed', 'driver refused');
      },
      deleteVolumeSnapshot: () => {
        throw failure('KubeForbidden', 'forbidden: cannot delete volumesnapshots');
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const result = await (await start(taskQueue)).result();
      assert.equal(result.phase, 'Failed');
      assert.equal(result.reason, 'driver refused');
      assert.equal(activities.calls('deleteVolumeSnapshot').length, 1);
    });
  });

  it('cancelled while waiting: cleanup still runs, then the workflow is cancelled', async () => {
    let waitCancelled = false;
    const activities = stubs({
      waitForVolumeSnapshot: async () => {
        await heartbeatUntil(new Promise(() => undefined), () => (waitCancelled = true));
        return READY;
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      await soon('the wait', () => activities.calls('waitForVolumeSnapshot').length === 1);
      await handle.cancel();
      const cause = await failureOf(handle.result());
      assert.ok(cause instanceof CancelledFailure, `expected a cancellation, got ${cause}`);
      assert.deepEqual(activities.calls('deleteVolumeSnapshot'), [INPUT]);
      assert.equal(activities.calls('retainAndReleaseVolumeSnapshot').length, 0);
      await soon('the wait activity to see the cancellation', () => waitCancelled);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
    });
  });

  describe('as a child of snapshotWorkflow', function () {
    function startParent(taskQueue: string): Promise<WorkflowHandle<typeof snapshotWorkflow>> {
      return fast().client.workflow.start<typeof snapshotWorkflow>(WORKFLOW_TYPES.snapshot, {
        taskQueue,
        workflowId: workflowId('snapshot'),
        args: [{ policy: testPolicy({ enabled: true, concurrency: 1 }), nominalTime: NOMINAL_TIME }],
      });
    }

    it('a failed wait signals FailedCleaningUp to the parent before cleanup finishes, then Failed', async () => {
      const cleanup = gate();
      const activities = stubs({
        discoverVolumes: () => [VOLUME],
        waitForVolumeSnapshot: () => {
          throw failure('VolumeSnapshotFailed', 'driver refused');
        },
        deleteVolumeSnapshot: () => heartbeatUntil(cleanup.promise),
      });
      await fast().withWorker(activities, async (taskQueue) => {
        const parent = await startParent(taskQueue);
        const cleaningUp = await soon('FailedCleaningUp in the parent', async () => {
          const view = await parent.query(statusQuery);
          return view.volumes[0]?.phase === 'FailedCleaningUp' && view;
        });
        assert.deepEqual(cleaningUp.volumes, [{ pvc: 'data-0', phase: 'FailedCleaningUp', driver: 'csi.planned', reason: 'driver refused' }]);
        // The child signals before it schedules its cleanup, so the cleanup may start just after the parent shows it.
        await soon('the cleanup to start', () => activities.calls('deleteVolumeSnapshot').length === 1);
        cleanup.open();

        // The only volume failed: the parent fails without a dump.
        const cause = await failureOf(parent.result());
        assert.match(cause.message, /1 of 1 volume snapshots failed: data-0: driver refused/);
        const child = await fast().client.workflow.getHandle(`${parent.workflowId}/pvc/data-0`).result();
        assert.deepEqual(child, { ...BASE, phase: 'Failed', reason: 'driver refused' });
        assert.equal((await parent.query(statusQuery)).volumes[0].phase, 'Failed');
        assert.equal(activities.calls('dumpAndStore').length, 0);
      });
    });

    it('a successful child shows CompletedCleaningUp in the parent while it releases', async () => {
      const release = gate();
      const activities = stubs({
        discoverVolumes: () => [VOLUME],
        retainAndReleaseVolumeSnapshot: () => heartbeatUntil(release.promise),
        dumpAndStore: () => ({ url: 'file:///x.tar.gz', bytes: 1, keys: 1, sha256: 'ff', revision: '1' }),
        writeRecord: () => undefined,
        applyRetention: () => ({ deleted: [], failed: [] }),
      });
      await fast().withWorker(activities, async (taskQueue) => {
        const parent = await startParent(taskQueue);
        await soon('CompletedCleaningUp in the parent', async () => (await parent.query(statusQuery)).volumes[0]?.phase === 'CompletedCleaningUp');
        release.open();
        const result = await parent.result();
        assert.equal(result.status, 'Completed');
        assert.deepEqual(result.volumes, [{ ...BASE, phase: 'Completed', driver: 'csi.actual', snapshotHandle: 'snap-handle-1', restoreSize: '2Gi' }]);
      });
    });

    it('cancelling the parent cancels the child, which cleans up; the parent records cancelled', async () => {
      const activities = stubs({
        discoverVolumes: () => [VOLUME],
        waitForVolumeSnapshot: async () => {
          await heartbeatUntil(new Promise(() => undefined));
          return READY;
        },
        writeRecord: () => undefined,
      });
      await fast().withWorker(activities, async (taskQueue) => {
        const parent = await startParent(taskQueue);
        await soon('the wait', () => activities.calls('waitForVolumeSnapshot').length === 1);
        await parent.cancel();
        const cause = await failureOf(parent.result());
        assert.ok(cause instanceof CancelledFailure, `expected a cancellation, got ${cause}`);

        const childCause = await failureOf(fast().client.workflow.getHandle(`${parent.workflowId}/pvc/data-0`).result());
        assert.ok(childCause instanceof CancelledFailure);
        assert.deepEqual(activities.calls('deleteVolumeSnapshot'), [{ cluster: CLUSTER, snapshotName: SNAPSHOT_NAME, volume: VOLUME }]);
        const [{ record }] = activities.calls('writeRecord');
        assert.deepEqual([record.status, record.error], ['Failed', 'cancelled']);
        assert.equal(activities.calls('dumpAndStore').length, 0);
        const view = await parent.query(statusQuery);
        assert.deepEqual([view.status, view.error], ['Failed', 'cancelled']);
      });
    });
  });
});
