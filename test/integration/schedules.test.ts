// Schedules on the real Temporal dev server: apply is idempotent, changes replace the spec, operator pauses survive,
// trigger uses the schedule's overlap policy, sync creates/updates/deletes.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection, makeGrpcRetryInterceptor, defaultGrpcRetryOptions, ScheduleOverlapPolicy } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTE_REGISTRATIONS, SEARCH_ATTRIBUTES } from '../../contracts/definitions';
import { ensureSearchAttributes } from '../../lib/search-attributes';
import { SYNC_SCHEDULE_ID, applyPolicy, describe as describePolicy, listPolicies, pause, removePolicy, resume, scheduleSync, sync } from '../../lib/schedules';
import { listedSchedule } from '../../lib/schedule-update';
import { scheduleIdFor } from '../../contracts/naming';
import { startTemporal, type TemporalServer } from '../../scripts/servers/temporal';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';

describe('schedules', function () {
  let connection: Connection;
  let client: Client;
  const taskQueue = uniqueName('schedules-tq');
  const target = () => ({ client, taskQueue });

  before(async () => {
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => connection.close());

  it('creates once, then reports unchanged, then updates in place with the new cron only', async () => {
    const policy = filePolicy({ schedule: '0 3 * * *', timezone: 'Europe/Berlin' });
    assert.equal(await applyPolicy(target(), policy), 'created');
    assert.equal(await applyPolicy(target(), policy), 'unchanged');
    const handle = client.schedule.getHandle(scheduleIdFor(policy.cluster));
    let description = await handle.describe();
    assert.equal(description.spec.timezone, 'Europe/Berlin');
    assert.equal(description.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(description.policies.catchupWindow, 3_600_000);
    assert.equal(description.spec.calendars?.length, 1);
    assert.deepEqual(description.spec.calendars?.[0].hour, [{ start: 3, end: 3, step: 1 }]);
    // A daily run ends a minute before the next fire: overlap SKIP can never starve the schedule.
    assert.equal(Number((description.action as { workflowRunTimeout?: unknown }).workflowRunTimeout), 24 * 3_600_000 - 60_000);

    assert.equal(await applyPolicy(target(), { ...policy, schedule: '30 5 * * 1' }), 'updated');
    description = await handle.describe();
    assert.equal(description.spec.calendars?.length, 1, 'old calendar replaced, not kept');
    assert.deepEqual(description.spec.calendars?.[0].hour, [{ start: 5, end: 5, step: 1 }]);
    assert.deepEqual(description.spec.calendars?.[0].minute, [{ start: 30, end: 30, step: 1 }]);
    const action = description.action as { args: Array<{ policy: { schedule: string } }>; taskQueue: string; workflowRunTimeout?: unknown };
    assert.equal(action.args[0].policy.schedule, '30 5 * * 1');
    assert.equal(Number(action.workflowRunTimeout), 7 * 24 * 3_600_000 - 60_000, 'weekly: a week less a minute');
    assert.equal(action.taskQueue, taskQueue);
    await removePolicy(target(), policy.cluster);
  });

  it('keeps an operator pause and note across apply, and resume clears it', async () => {
    const policy = filePolicy();
    await applyPolicy(target(), policy);
    await pause(target(), policy.cluster, 'maintenance window');
    assert.equal(await applyPolicy(target(), { ...policy, schedule: '15 * * * *' }), 'updated');
    let d = await describePolicy(target(), policy.cluster);
    assert.equal(d.paused, true);
    assert.equal(d.note, 'maintenance window');
    assert.equal(d.policy?.schedule, '15 * * * *');
    await resume(target(), policy.cluster, 'done');
    d = await describePolicy(target(), policy.cluster);
    assert.equal(d.paused, false);
    assert.ok(d.nextFireTimes.length > 0);
    await removePolicy(target(), policy.cluster);
  });

  it('sync creates, updates, deletes its own orphans and leaves invalid clusters and hand-applied schedules alone', async () => {
    const keep = filePolicy();
    const change = filePolicy();
    const orphan = filePolicy();
    const invalid = filePolicy();
    const byHand = filePolicy();
    await applyPolicy(target(), byHand);
    for (const p of [keep, change, orphan, invalid]) await applyPolicy(target(), p, 'discovery');
    // Schedule listing goes through visibility, which is eventually consistent: wait until the orphan is listed.
    await eventually('the orphan in the schedule listing', async () => (await listPolicies(target())).some((p) => p.scheduleId === scheduleIdFor(orphan.cluster)), 15_000);
    const fresh = filePolicy();
    const report = await sync(target(), [
      { cluster: keep.cluster, policy: keep },
      { cluster: change.cluster, policy: { ...change, schedule: '*/5 * * * *' } },
      { cluster: fresh.cluster, policy: fresh },
      { cluster: invalid.cluster, policy: null, error: 'snapshots.auto.schedule: invalid' },
    ]);
    assert.ok(report.unchanged.includes(scheduleIdFor(keep.cluster)));
    assert.ok(report.updated.includes(scheduleIdFor(change.cluster)));
    assert.ok(report.created.includes(scheduleIdFor(fresh.cluster)));
    assert.ok(report.deleted.includes(scheduleIdFor(orphan.cluster)));
    assert.deepEqual(report.invalid.map((i) => i.scheduleId), [scheduleIdFor(invalid.cluster)]);
    await eventually('the listing to show the created schedule and not the deleted one', async () => {
      const listed = (await listPolicies(target())).map((p) => p.scheduleId);
      return listed.includes(scheduleIdFor(fresh.cluster)) && !listed.includes(scheduleIdFor(orphan.cluster));
    });
    const ids = (await listPolicies(target())).map((p) => p.scheduleId);
    assert.ok(ids.includes(scheduleIdFor(invalid.cluster)), 'invalid config keeps its schedule');
    assert.ok(!ids.includes(scheduleIdFor(orphan.cluster)));
    assert.ok(ids.includes(scheduleIdFor(byHand.cluster)), 'a schedule applied by hand is not an orphan');
    for (const p of [keep, change, fresh, invalid, byHand]) await removePolicy(target(), p.cluster);
  });
  it('sync applies many clusters at once and reports a policy the server refuses without stopping the others', async () => {
    const good = Array.from({ length: 20 }, () => filePolicy());
    // Parsing rejects unknown zones; a policy built in code can still carry one, and Temporal refuses it.
    const refused = filePolicy({ timezone: 'Mars/Olympus_Mons' });
    const clusters = [...good.slice(0, 10), refused, ...good.slice(10)].map((policy) => ({ cluster: policy.cluster, policy }));
    const report = await sync(target(), clusters);
    assert.deepEqual(report.created, good.map((p) => scheduleIdFor(p.cluster)).sort());
    assert.deepEqual(report.failed.map((f) => f.scheduleId), [scheduleIdFor(refused.cluster)]);
    assert.match(report.failed[0].error, /Mars\/Olympus_Mons|time ?zone|location/i);
    for (const p of good) assert.equal((await applyPolicy(target(), p)), 'unchanged');
    for (const p of [...good, refused]) await removePolicy(target(), p.cluster);
  });

  describe('what sync sends the server', function () {
    // What the client sent the server, method by method.
    const calls: Record<string, number> = {};
    const resetCalls = () => {
      for (const key of Object.keys(calls)) delete calls[key];
    };
    /** Runs once, before the next UpdateSchedule leaves: what someone else does between a describe and its update. */
    let beforeNextUpdate: (() => Promise<unknown>) | undefined;
    const counting: Interceptor = (options, nextCall) => {
      const method = options.method_definition.path.split('/').pop()!;
      calls[method] = (calls[method] ?? 0) + 1;
      const hook = method === 'UpdateSchedule' ? beforeNextUpdate : undefined;
      if (!hook) return new InterceptingCall(nextCall(options));
      beforeNextUpdate = undefined;
      return new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => void hook().then(() => next(metadata, listener)),
      });
    };
    let countingConnection: Connection;
    let counted: { client: Client; taskQueue: string };
    before(async () => {
      countingConnection = await Connection.connect({ address: testEnv().temporal.address, interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), counting] });
      counted = { client: new Client({ connection: countingConnection, namespace: testEnv().temporal.namespace }), taskQueue };
    });
    after(async () => countingConnection?.close());

    const digests = async (ids: string[]) => new Map((await listPolicies(target())).filter((p) => ids.includes(p.scheduleId)).map((p) => [p.scheduleId, p.appliedPolicy]));
    const listedBasis = (scheduleId: string) =>
      eventually(`${scheduleId} in the listing with its record`, async () => {
        for await (const entry of client.schedule.list()) if (entry.scheduleId === scheduleId) return listedSchedule(entry).basis;
        return undefined;
      });
    /** The update signals the schedule's own workflow received: what the server saw, whether it applied them or not. */
    const schedulerEvents = async (scheduleId: string) => (await client.workflow.getHandle(`temporal-sys-scheduler:${scheduleId}`).fetchHistory()).events ?? [];
    const isUpdate = (event: { workflowExecutionSignaledEventAttributes?: { signalName?: string | null } | null }) => event.workflowExecutionSignaledEventAttributes?.signalName === 'update';
    const updateSignals = async (scheduleId: string) => (await schedulerEvents(scheduleId)).filter(isUpdate).length;
    /**
     * Whether the schedule's workflow has taken `count` updates and finished a workflow task after the last: only then
     * does a describe (a query) show what they did. UpdateSchedule returns once the server has the signal.
     */
    const updatesTaken = async (scheduleId: string, count: number) => {
      const events = await schedulerEvents(scheduleId);
      const updates = events.flatMap((e, i) => (isUpdate(e) ? [i] : []));
      return updates.length === count && events.slice(updates.at(-1)! + 1).some((e) => e.workflowTaskCompletedEventAttributes);
    };

    it('an unchanged fleet costs one listing; a changed one an update each, without a describe; a schedule without the digest is described and updated once', async () => {
      const fleet = Array.from({ length: 6 }, () => filePolicy());
      const clusters = fleet.map((policy) => ({ cluster: policy.cluster, policy }));
      const ids = fleet.map((p) => scheduleIdFor(p.cluster)).sort();
      assert.deepEqual((await sync(counted, clusters)).created, ids);
      await eventually('the listing to show every digest', async () => [...(await digests(ids)).values()].filter(Boolean).length === ids.length);

      resetCalls();
      const again = await sync(counted, clusters);
      assert.deepEqual(again.unchanged.filter((id) => ids.includes(id)), ids);
      assert.deepEqual(Object.keys(calls).sort(), ['ListSchedules'], `calls: ${JSON.stringify(calls)}`);

      // Every cron changed: one update per schedule, its conflict token taken from the listing's record.
      const before = await digests(ids);
      const changed = fleet.map((policy) => ({ cluster: policy.cluster, policy: { ...policy, schedule: '*/7 * * * *' } }));
      resetCalls();
      assert.deepEqual((await sync(counted, changed)).updated, ids);
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [undefined, ids.length], `calls: ${JSON.stringify(calls)}`);
      for (const p of fleet) assert.equal((await describePolicy(target(), p.cluster)).policy?.schedule, '*/7 * * * *');
      await eventually('the listing to show the new digests', async () => {
        const now = await digests(ids);
        return ids.every((id) => now.get(id) && now.get(id) !== before.get(id));
      });

      // As a schedule applied by an earlier version: no digest. The next sync describes and updates it, once.
      const old = client.schedule.getHandle(ids[0]!);
      await old.update((previous) => ({ ...previous, searchAttributes: undefined, typedSearchAttributes: previous.typedSearchAttributes.updateCopy([{ key: SEARCH_ATTRIBUTES.appliedPolicy, value: null }]) }));
      await eventually('the listing to lose that digest', async () => !(await digests(ids)).get(ids[0]!));
      resetCalls();
      const upgraded = await sync(counted, changed);
      assert.deepEqual(upgraded.updated, [ids[0]]);
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [1, 1], `a describe, then the update: ${JSON.stringify(calls)}`);
      await eventually('the digest back in the listing', async () => Boolean((await digests(ids)).get(ids[0]!)));
      assert.deepEqual((await sync(counted, changed)).updated, []);
      for (const p of fleet) await removePolicy(target(), p.cluster);
    });

    it("the sync schedule's own update carries its describe's token: an operator's pause made in between stands", async () => {
      assert.equal(await scheduleSync(counted, '*/10 * * * *'), 'created');
      const handle = client.schedule.getHandle(SYNC_SCHEDULE_ID);
      try {
        // The operator pauses after scheduleSync's describe, before its update reaches the server.
        beforeNextUpdate = () => handle.pause('operator: no sync during the migration');
        resetCalls();
        await scheduleSync(counted, '*/5 * * * *');
        assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [1, 1], `calls: ${JSON.stringify(calls)}`);
        const minutes = async () => (await handle.describe()).spec.calendars?.map((calendar) => calendar.minute);
        let described = await handle.describe();
        assert.deepEqual([described.state.paused, described.state.note], [true, 'operator: no sync during the migration'], "the operator's pause stands");
        assert.deepEqual(await minutes(), [[{ start: 0, end: 59, step: 10 }]], 'the stale update was dropped');
        // The next scheduleSync describes again and applies the cron, the pause kept.
        await scheduleSync(counted, '*/5 * * * *');
        described = await handle.describe();
        assert.deepEqual([described.state.paused, described.state.note], [true, 'operator: no sync during the migration']);
        assert.deepEqual(await minutes(), [[{ start: 0, end: 59, step: 5 }]]);
      } finally {
        await handle.delete();
      }
    });

    it('an update from a listing taken before an operator paused is dropped by the server; the next sync describes, applies the change and keeps the pause', async () => {
      const policy = filePolicy();
      const scheduleId = scheduleIdFor(policy.cluster);
      assert.deepEqual((await sync(counted, [{ cluster: policy.cluster, policy }])).created, [scheduleId]);
      const stale = await listedBasis(scheduleId);
      await pause(target(), policy.cluster, 'maintenance window');
      const changed = { ...policy, schedule: '*/9 * * * *' };

      // As sync calls it with the listing it took just before the pause.
      resetCalls();
      assert.equal(await applyPolicy(counted, changed, 'discovery', 'different', stale), 'updated');
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [undefined, 1], `calls: ${JSON.stringify(calls)}`);
      assert.equal(await updateSignals(scheduleId), 1, 'the server received the update');
      let described = await describePolicy(target(), policy.cluster);
      assert.deepEqual([described.policy?.schedule, described.paused, described.note], [policy.schedule, true, 'maintenance window'], 'and dropped it: its token was from before the pause');

      resetCalls();
      assert.deepEqual((await sync(counted, [{ cluster: policy.cluster, policy: changed }])).updated, [scheduleId]);
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [1, 1], `calls: ${JSON.stringify(calls)}`);
      assert.equal(await updateSignals(scheduleId), 2);
      described = await describePolicy(target(), policy.cluster);
      assert.deepEqual([described.policy?.schedule, described.paused, described.note], ['*/9 * * * *', true, 'maintenance window']);
      await removePolicy(target(), policy.cluster);
    });

    it('an edit made outside vcsnap that keeps its record makes the listing\'s update stale: refused once, then applied after a describe', async () => {
      const policy = filePolicy();
      const scheduleId = scheduleIdFor(policy.cluster);
      assert.deepEqual((await sync(counted, [{ cluster: policy.cluster, policy }])).created, [scheduleId]);
      await listedBasis(scheduleId);
      // `temporal schedule update` or the SDK: the schedule's token moves on, its search attributes and state stay.
      await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec: { ...previous.spec, jitter: 5_000 } }));
      // Taken before vcsnap's update arrives: Temporal's scheduler keeps only the last update signal it receives in one
      // workflow task (service/worker/scheduler/workflow.go, sleep), so two landing together would leave only ours.
      await eventually('the operator\'s update taken by the schedule', () => updatesTaken(scheduleId, 1));
      const changed = { ...policy, schedule: '*/11 * * * *' };

      resetCalls();
      assert.deepEqual((await sync(counted, [{ cluster: policy.cluster, policy: changed }])).updated, [scheduleId]);
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [undefined, 1], `calls: ${JSON.stringify(calls)}`);
      const handle = client.schedule.getHandle(scheduleId);
      await eventually('the operator\'s update and ours taken by the schedule', () => updatesTaken(scheduleId, 2));
      let described = await handle.describe();
      assert.equal(described.spec.jitter, 5_000, 'the operator\'s edit stands: the update from the stale listing was dropped');

      resetCalls();
      assert.deepEqual((await sync(counted, [{ cluster: policy.cluster, policy: changed }])).updated, [scheduleId]);
      assert.deepEqual([calls.DescribeSchedule, calls.UpdateSchedule], [1, 1], `this process tried that record already: ${JSON.stringify(calls)}`);
      await eventually('the update after the describe taken by the schedule', () => updatesTaken(scheduleId, 3));
      described = await handle.describe();
      assert.equal((described.action as { args: Array<{ policy: { schedule: string } }> }).args[0]!.policy.schedule, '*/11 * * * *');
      await removePolicy(target(), policy.cluster);
    });
  });

  it('a schedule the listing does not show yet (visibility lags behind creations) is left to the next sync, which updates it', async () => {
    const policy = filePolicy();
    assert.equal(await applyPolicy(target(), policy, 'discovery'), 'created');
    const changed = { ...policy, schedule: '*/5 * * * *' };
    // As sync calls it for a cluster its listing did not show: the create is refused, nothing is described or changed.
    assert.equal(await applyPolicy(target(), changed, 'discovery', 'missing'), 'unchanged');
    assert.deepEqual((await describePolicy(target(), policy.cluster)).policy?.schedule, policy.schedule);
    await eventually('the schedule in the listing', async () => (await listPolicies(target())).some((p) => p.scheduleId === scheduleIdFor(policy.cluster)));
    assert.deepEqual((await sync(target(), [{ cluster: policy.cluster, policy: changed }])).updated, [scheduleIdFor(policy.cluster)]);
    assert.deepEqual((await describePolicy(target(), policy.cluster)).policy?.schedule, '*/5 * * * *');
    await removePolicy(target(), policy.cluster);
  });

  describe('a namespace without the search attributes (on a server that caches them, as in production)', function () {
    let server: TemporalServer;
    let serverConnection: Connection;
    const freshNamespace = async () => {
      const namespace = uniqueName('fresh-ns');
      await serverConnection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(86_400_000) });
      return namespace;
    };

    before(async () => {
      server = await startTemporal({ dir: join(testEnv().runDir, 'schedules-temporal'), searchAttributeCache: true });
      serverConnection = await Connection.connect({ address: server.address });
    });
    after(async () => {
      await serverConnection?.close();
      await server?.stop();
    });

    it('gets them registered (vcsnap setup, and every worker at start), and takes a schedule carrying them right after', async () => {
      const namespace = await freshNamespace();
      const names = SEARCH_ATTRIBUTE_REGISTRATIONS.map((a) => a.name).sort();
      assert.ok(names.includes(SEARCH_ATTRIBUTES.appliedPolicy.name));
      // A new namespace may take a moment to be usable everywhere.
      const registered = await eventually('the namespace to take search attributes', () => ensureSearchAttributes(serverConnection, namespace).catch(() => undefined), 30_000);
      assert.deepEqual(registered.sort(), names);
      assert.deepEqual(await ensureSearchAttributes(serverConnection, namespace), []);
      const listed = await serverConnection.operatorService.listSearchAttributes({ namespace });
      for (const name of names) assert.ok(name in (listed.customAttributes ?? {}), `${name} registered`);
      // This server maps newly registered attributes 0.5-1.5 s later (refusing a create that carries them until then);
      // ensureSearchAttributes returned only once it mapped them, so the first create is accepted.
      const fresh = { client: new Client({ connection: serverConnection, namespace }), taskQueue };
      const policy = filePolicy();
      assert.equal(await applyPolicy(fresh, policy), 'created');
      await removePolicy(fresh, policy.cluster);
    });

    it('says which attributes the server did not take, and on which namespace, when it does not map them in time', async () => {
      // With no time to wait, the first refused probe ends the wait. The cache refreshes about every second, so a probe
      // that lands just after a refresh is accepted: each try takes a new namespace, and one refusal is enough.
      let refusal: { namespace: string; message: string } | undefined;
      for (let attempt = 0; attempt < 3 && !refusal; attempt++) {
        const namespace = await freshNamespace();
        await eventually('the namespace to be usable', () => serverConnection.workflowService.countWorkflowExecutions({ namespace }).then(() => true, () => undefined));
        refusal = await ensureSearchAttributes(serverConnection, namespace, 0).then(
          () => undefined,
          (err: Error) => ({ namespace, message: err.message }),
        );
      }
      assert.ok(refusal, 'a wait of 0 s ended before the server mapped the attributes');
      assert.match(refusal.message, new RegExp(`^registered ${SEARCH_ATTRIBUTE_REGISTRATIONS.map((a) => a.name).join(', ')} on namespace ${refusal.namespace}, but the server did not take them within 0s: `));
      console.log(`      ${refusal.message}`);
    });
  });
});
