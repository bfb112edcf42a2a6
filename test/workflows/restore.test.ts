// restoreWorkflow and verifyWorkflow against stub activities: a bad archive is refused before any write, a sound one
// is restored as verified, and the restoreStatus query follows each step.
import { strict as assert } from 'node:assert';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import { restoreStatusQuery, type RestoreReport, type RestoreWorkflowInput, type SnapshotLocationRef, type VerifyResult } from '../../contracts/restore';
import type { restoreWorkflow, verifyWorkflow } from '../../workflows';
import { CLUSTER, SNAPSHOT_NAME, StubActivities, currentDetailsOf, failureOf, gate, heartbeatUntil, soon, useTestEnvironment, workflowId, type StubImpls } from './env';

const SNAPSHOT: SnapshotLocationRef = { storage: { type: 'container', path: '/var/lib/vcsnap' }, snapshotName: SNAPSHOT_NAME, cluster: CLUSTER };
const TARGET = { endpoints: ['https://restore-etcd.team-a:2379', 'https://restore-etcd-1.team-a:2379'] };
const SHA = 'cd'.repeat(32);

const SOUND: VerifyResult = {
  ok: true,
  snapshotName: SNAPSHOT_NAME,
  url: `file:///var/lib/vcsnap/${SNAPSHOT_NAME}.tar.gz`,
  archiveBytes: 2048,
  sha256: SHA,
  expectedSha256: SHA,
  tarBytes: 10240,
  entries: 12,
  keys: 10,
  valueBytes: 900,
};

const DAMAGED: VerifyResult = {
  ...SOUND,
  ok: false,
  problem: { kind: 'gzip', message: 'unexpected end of gzip stream at byte 1024', compressedOffset: 1024 },
  sha256: 'ee'.repeat(32),
};

const REPORT: RestoreReport = { snapshotName: SNAPSHOT_NAME, endpoints: TARGET.endpoints, keysRestored: 10, bytesRestored: 900, skippedEntries: 2, clearedKeys: 0, transactions: 1 };

function stubs(overrides: StubImpls = {}): StubActivities {
  return new StubActivities({ verifyStoredArchive: () => SOUND, restoreArchiveToEtcd: () => REPORT, ...overrides });
}

describe('restoreWorkflow and verifyWorkflow (stub activities)', function () {
  const fast = useTestEnvironment();

  function startRestore(taskQueue: string, input: Partial<RestoreWorkflowInput> = {}): Promise<WorkflowHandle<typeof restoreWorkflow>> {
    return fast().client.workflow.start<typeof restoreWorkflow>(WORKFLOW_TYPES.restore, {
      taskQueue,
      workflowId: workflowId('restore'),
      args: [{ snapshot: SNAPSHOT, target: TARGET, ...input }],
    });
  }

  it('refuses a snapshot that fails verification: SnapshotCorrupt, no restore call', async () => {
    const activities = stubs({ verifyStoredArchive: () => DAMAGED });
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await startRestore(taskQueue);
      const cause = await failureOf(handle.result());

      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'SnapshotCorrupt');
      assert.equal(cause.nonRetryable, true);
      assert.equal(cause.message, `snapshot ${SNAPSHOT_NAME} is not restored, it failed verification: unexpected end of gzip stream at byte 1024`);
      assert.deepEqual(activities.names(), ['verifyStoredArchive']);
      assert.deepEqual(activities.calls('verifyStoredArchive'), [{ snapshot: SNAPSHOT }]);

      const view = await handle.query(restoreStatusQuery);
      assert.deepEqual(view, { phase: 'failed', snapshotName: SNAPSHOT_NAME, verify: DAMAGED, error: cause.message });
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /Restore of \*\*demo-2026-01-02T03-04-05Z\*\* failed: snapshot .* failed verification/);
    });
  });

  it("refuses vCluster's embedded-etcd kind (an etcd database) with the reason, no restore call", async () => {
    const database: VerifyResult = { ...SOUND, kind: 'etcd-db', keys: 0, databaseBytes: 20480 };
    const activities = stubs({ verifyStoredArchive: () => database });
    await fast().withWorker(activities, async (taskQueue) => {
      const cause = await failureOf((await startRestore(taskQueue)).result());
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'SnapshotNotRestorable');
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /embedded-etcd kind: an etcd database \(20480 bytes in \/vcluster\/snapshot\/db\).*running etcd \(https:\/\/restore-etcd\.team-a:2379, .*\) cannot take a database over its API.*etcdutl snapshot restore/);
      assert.deepEqual(activities.names(), ['verifyStoredArchive']);
    });
  });

  it('restores a sound snapshot with the digest verification saw', async () => {
    const activities = stubs();
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await startRestore(taskQueue, { batch: { keys: 50 } });
      const result = await handle.result();

      assert.deepEqual(result, { verify: SOUND, restore: REPORT });
      assert.deepEqual(activities.names(), ['verifyStoredArchive', 'restoreArchiveToEtcd']);
      assert.deepEqual(activities.calls('restoreArchiveToEtcd'), [{ snapshot: SNAPSHOT, target: TARGET, force: false, expectedSha256: SHA, batch: { keys: 50 } }]);
      assert.deepEqual(await handle.query(restoreStatusQuery), { phase: 'done', snapshotName: SNAPSHOT_NAME, verify: SOUND, restore: REPORT });
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /Restored \*\*10\*\* keys of snapshot \*\*demo-2026-01-02T03-04-05Z\*\* into https:\/\/restore-etcd\.team-a:2379, https:\/\/restore-etcd-1/);
    });
  });

  it('passes force through and shows the restoring phase while it writes', async () => {
    const writing = gate();
    const activities = stubs({
      restoreArchiveToEtcd: async () => {
        await heartbeatUntil(writing.promise);
        return { ...REPORT, clearedKeys: 3 };
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await startRestore(taskQueue, { force: true });
      const restoring = await soon('the restoring phase', async () => {
        const view = await handle.query(restoreStatusQuery);
        return view.phase === 'restoring' && view;
      });
      assert.deepEqual(restoring, { phase: 'restoring', snapshotName: SNAPSHOT_NAME, verify: SOUND });
      assert.match(await currentDetailsOf(fast().client, handle.workflowId), /Restoring \*\*10\*\* keys/);
      writing.open();

      const result = await handle.result();
      assert.equal(result.restore.clearedKeys, 3);
      assert.equal(activities.calls('restoreArchiveToEtcd')[0].force, true);
    });
  });

  it('a failing restore: phase failed with the message, the activity failure surfaces', async () => {
    const message = 'etcd at https://restore-etcd.team-a:2379 is not empty (42 keys); restore with force to clear it';
    const activities = stubs({
      restoreArchiveToEtcd: () => {
        throw failure('RestoreTargetNotEmpty', message);
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await startRestore(taskQueue);
      const cause = await failureOf(handle.result());

      assert.ok(cause instanceof ActivityFailure);
      assert.ok(cause.cause instanceof ApplicationFailure);
      assert.equal(cause.cause.type, 'RestoreTargetNotEmpty');
      assert.equal(cause.cause.message, message);
      assert.equal(activities.calls('restoreArchiveToEtcd').length, 1, 'a non-retryable failure is not retried');
      assert.deepEqual(await handle.query(restoreStatusQuery), { phase: 'failed', snapshotName: SNAPSHOT_NAME, verify: SOUND, error: message });
    });
  });

  it('a failing verification read: phase failed, no restore call', async () => {
    const activities = stubs({
      verifyStoredArchive: () => {
        throw failure('StorageObjectNotFound', `snapshot ${SNAPSHOT_NAME} not found in /var/lib/vcsnap`);
      },
    });
    await fast().withWorker(activities, async (taskQueue) => {
      const handle = await startRestore(taskQueue);
      const cause = await failureOf(handle.result());
      assert.ok(cause instanceof ActivityFailure);
      assert.equal((cause.cause as ApplicationFailure).type, 'StorageObjectNotFound');
      assert.deepEqual(activities.names(), ['verifyStoredArchive']);
      assert.deepEqual(await handle.query(restoreStatusQuery), { phase: 'failed', snapshotName: SNAPSHOT_NAME, error: `snapshot ${SNAPSHOT_NAME} not found in /var/lib/vcsnap` });
    });
  });

  describe('verifyWorkflow', function () {
    function verify(taskQueue: string): Promise<WorkflowHandle<typeof verifyWorkflow>> {
      return fast().client.workflow.start<typeof verifyWorkflow>(WORKFLOW_TYPES.verify, { taskQueue, workflowId: workflowId('verify'), args: [{ snapshot: SNAPSHOT }] });
    }

    it('returns a sound report', async () => {
      const activities = stubs();
      await fast().withWorker(activities, async (taskQueue) => {
        const handle = await verify(taskQueue);
        assert.deepEqual(await handle.result(), SOUND);
        assert.deepEqual(activities.calls('verifyStoredArchive'), [{ snapshot: SNAPSHOT }]);
        assert.equal(await currentDetailsOf(fast().client, handle.workflowId), `Snapshot **${SNAPSHOT_NAME}** is sound: 10 keys`);
      });
    });

    it('returns a damaged report without failing', async () => {
      const activities = stubs({ verifyStoredArchive: () => DAMAGED });
      await fast().withWorker(activities, async (taskQueue) => {
        const handle = await verify(taskQueue);
        assert.deepEqual(await handle.result(), DAMAGED);
        assert.equal((await handle.describe()).status.name, 'COMPLETED');
        assert.equal(await currentDetailsOf(fast().client, handle.workflowId), `Snapshot **${SNAPSHOT_NAME}** is damaged: unexpected end of gzip stream at byte 1024`);
        assert.deepEqual(activities.names(), ['verifyStoredArchive']);
      });
    });
  });
});
