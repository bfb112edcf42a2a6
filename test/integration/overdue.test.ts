// Overdue recovery points through the alert webhook, on real servers: a cluster whose schedule is paused falls more
// than twice its interval behind (the worker's clock is moved 3 hours on), the fleet's recovery point check (its own
// Temporal schedule) notifies a real HTTP receiver once however often it runs, and once more, `resolved`, after a
// successful snapshot; the check's memory of what it notified is the schedule's last completion result. A receiver
// answering 503 holds up no check (the notify workflow retries), and another fleet's cluster is not this check's.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { RecoveryPointCheckState } from '../../contracts/alert';
import { recoveryPointScheduleIdFor } from '../../contracts/naming';
import { applyRecoveryPointSchedule, removeRecoveryPointSchedule } from '../../lib/recovery-point-schedule';
import { applyPolicy, pause, removePolicy, resume, triggerNow } from '../../lib/schedules';
import { createStore } from '../../lib/storage';
import { eventually } from '../harness/eventually';
import { replayAndCapture } from '../harness/histories';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, describeWhilePolling, startTestWorker, type TestWorker } from '../harness/temporal';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

describe('overdue recovery point notifications (real servers)', function () {
  this.timeout(300_000);
  const alertsNamespace = uniqueName('rpo-alerts');
  let worker: TestWorker;
  let receiver: WebhookReceiver;
  /** The worker's clock runs this far ahead of the real one. */
  let clockOffsetMs = 0;

  before(async () => {
    receiver = await startWebhookReceiver();
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: alertsNamespace } } });
    await core.createNamespacedSecret({ namespace: alertsNamespace, body: { metadata: { name: 'webhook' }, stringData: { url: `${receiver.url}/hook` } } });
    worker = await startTestWorker({ clock: () => new Date(Date.now() + clockOffsetMs), alertWebhookSecret: { namespace: alertsNamespace, name: 'webhook' } });
  });

  after(async () => {
    await worker?.stop();
    await receiver?.close();
  });

  it('a paused schedule’s cluster notifies once when overdue, once resolved after a successful run, and never repeats', async () => {
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    const policy = filePolicy({ schedule: '0 * * * *' });
    const store = createStore(policy.storage);
    const completed = async () => (await store.listRecords()).filter((r) => r.status === 'Completed').map((r) => r.snapshotName);
    const mine = () => receiver.received.filter((r) => r.body.commonLabels?.vcluster === policy.cluster.name);
    const schedule = worker.client.schedule.getHandle(recoveryPointScheduleIdFor(worker.taskQueue));
    /** One run of the check, started by its schedule (so it reads the previous run's result), and its result. */
    async function check(): Promise<RecoveryPointCheckState> {
      // As its own fires do (overlap SKIP): the scheduler hands a run the last result it saw complete.
      const before = await eventually('the previous check to be seen complete', async () => {
        const info = (await describeWhilePolling(schedule))?.info;
        return info?.runningActions.length === 0 && info.recentActions.length + 1;
      });
      await schedule.trigger(ScheduleOverlapPolicy.SKIP);
      const action = await eventually('the check to start', async () => {
        const recent = (await describeWhilePolling(schedule))?.info.recentActions ?? [];
        return recent.length >= before && recent[recent.length - 1];
      });
      const handle = worker.client.workflow.getHandle<() => Promise<RecoveryPointCheckState>>(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
      const result = await handle.result();
      lastHistory = await handle.fetchHistory();
      return result;
    }
    let lastHistory: Awaited<ReturnType<ReturnType<typeof worker.client.workflow.getHandle>['fetchHistory']>> | undefined;

    // Hourly: no fire of its own during the test.
    assert.equal(await applyRecoveryPointSchedule(target, 3600), 'created');
    assert.equal(await applyRecoveryPointSchedule(target, 3600), 'unchanged');
    assert.equal(await applyRecoveryPointSchedule(target, 7200), 'updated');
    assert.equal((await schedule.describe()).spec.intervals?.[0]?.every, 7_200_000);
    await applyPolicy(target, policy);
    // A cluster another worker fleet serves (its own task queue), with no snapshot at all: not this check's to tell.
    const elsewhere = { client: worker.client, taskQueue: uniqueName('another-fleet') };
    const theirs = filePolicy({ schedule: '0 * * * *' });
    await applyPolicy(elsewhere, theirs);
    await pause(elsewhere, theirs.cluster);
    try {
      await triggerNow(target, policy.cluster);
      const [first] = await eventually('the first snapshot', async () => ((await completed()).length === 1 ? completed() : undefined), 60_000);
      await pause(target, policy.cluster);

      assert.deepEqual((await check()).open, [], 'fresh: nothing overdue');
      assert.equal(mine().length, 0);

      clockOffsetMs = 3 * 3600 * 1000;
      // The receiver is down for the first two sends: the check does not wait for it, the notify workflow retries.
      receiver.failNext(2);
      const overdue = await check();
      assert.deepEqual(overdue.open.map((e) => e.key), [`rpo.${policy.cluster.namespace}.${policy.cluster.name}.${first}`]);
      assert.equal(mine().length, 0, 'the check returned before the notification was delivered');
      const [firing] = await eventually('the overdue notification, after two 503s', () => (mine().length > 0 ? mine() : undefined), 60_000);
      assert.equal(firing!.idempotencyKey, overdue.open[0]!.key);
      assert.equal(firing!.body.status, 'firing');
      assert.equal(firing!.body.commonLabels?.alertname, 'VcsnapRecoveryPointOverdue');
      assert.equal(firing!.body.commonLabels?.snapshot, first);
      assert.match(firing!.body.commonAnnotations?.summary ?? '', new RegExp(`Recovery point of ${policy.cluster.namespace}/${policy.cluster.name} is overdue: newest restorable snapshot ${first} is 3h0m old`));

      // The run that notified replays on the current workflow code (and is kept for the committed-history replay test).
      await replayAndCapture('recovery-point-overdue', lastHistory!);

      // The check runs again (and again): the episode is the same, nothing is sent.
      assert.deepEqual(await check(), overdue);
      assert.deepEqual(await check(), overdue);

      // The clock comes back to the time the run's record is stamped with (the workflow's), and the schedule runs.
      clockOffsetMs = 0;
      await resume(target, policy.cluster);
      await triggerNow(target, policy.cluster);
      const second = await eventually('the second snapshot', async () => (await completed()).find((name) => name !== first), 60_000);
      assert.deepEqual((await check()).open, []);
      await eventually('the resolved notification', () => mine().length === 2);
      const resolved = mine()[1]!;
      assert.equal(resolved.idempotencyKey, `${overdue.open[0]!.key}.resolved`);
      assert.equal(resolved.body.status, 'resolved');
      assert.equal(resolved.body.alerts?.[0]?.status, 'resolved');
      assert.equal(resolved.body.alerts?.[0]?.fingerprint, firing!.body.alerts?.[0]?.fingerprint);
      assert.equal(resolved.body.groupKey, firing!.body.groupKey);
      assert.match(resolved.body.commonAnnotations?.summary ?? '', new RegExp(`back within its interval: ${second}`));

      assert.deepEqual((await check()).open, []);
      // Notify workflows that would still be on their way have had their time: exactly two sends, one of each.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(mine().map((r) => r.body.status), ['firing', 'resolved']);
      assert.ok(!receiver.received.some((r) => r.body.commonLabels?.vcluster === theirs.cluster.name), 'another fleet’s cluster is not told here');
      const key = overdue.open[0]!.key;
      assert.deepEqual(receiver.keys.filter((k) => k.startsWith(`rpo.${policy.cluster.namespace}.${policy.cluster.name}.`)), [key, key, key, `${key}.resolved`], 'two 503s, then one of each: no repeat');
    } finally {
      clockOffsetMs = 0;
      await removePolicy(target, policy.cluster);
      await removePolicy(elsewhere, theirs.cluster);
      await removeRecoveryPointSchedule(target);
    }
  });
});
