// Schedules as operators meet them: every seed example as a schedule (checked with the `temporal` CLI too), a schedule
// firing by itself, SKIP holding against a manual trigger, DST in America/New_York, and sync over many Secrets.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parsePolicy } from '../../lib/policy';
import { discoverClusters } from '../../lib/kube/discovery';
import { applyPolicy, backfill, describe as describePolicy, pause, removePolicy, sync, triggerNow } from '../../lib/schedules';
import { scheduleIdFor, snapshotNameFor } from '../../contracts/naming';
import { temporalCliPath } from '../../scripts/servers/temporal';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const SEEDS = join(__dirname, '..', 'fixtures', 'vcluster-yaml');
const runFile = promisify(execFile);

describe('schedule behaviour', function () {
  this.timeout(240_000);
  let worker: TestWorker;
  const target = () => ({ client: worker.client, taskQueue: worker.taskQueue });

  before(async () => {
    worker = await startTestWorker();
  });
  after(async () => worker.stop());

  it('turns every seed example into the schedule its YAML says, as `temporal schedule describe` shows it', async () => {
    const seeds = readdirSync(SEEDS).filter((f) => f.startsWith('seed-'));
    assert.ok(seeds.length >= 5);
    for (const file of seeds) {
      const cluster = { name: uniqueName('seed'), namespace: 'seeds' };
      const parsed = parsePolicy(readFileSync(join(SEEDS, file), 'utf8'), cluster);
      assert.ok(parsed.ok && parsed.policy, `${file}: ${JSON.stringify(parsed)}`);
      const policy = parsed.policy;
      assert.equal(await applyPolicy(target(), policy), 'created', file);
      assert.equal(await applyPolicy(target(), policy), 'unchanged', file);
      const { stdout } = await runFile(temporalCliPath(), ['schedule', 'describe', '--address', testEnv().temporal.address, '-s', scheduleIdFor(cluster), '-o', 'json']);
      const described = JSON.parse(stdout) as {
        schedule: { spec: { timezoneName?: string; structuredCalendar?: unknown[]; interval?: unknown[] }; policies: { overlapPolicy: string; catchupWindow: string } };
      };
      assert.equal(described.schedule.spec.timezoneName ?? 'UTC', policy.timezone, file);
      assert.ok((described.schedule.spec.structuredCalendar?.length ?? 0) + (described.schedule.spec.interval?.length ?? 0) >= 1, file);
      assert.match(described.schedule.policies.overlapPolicy, /SKIP/, file);
      assert.equal(described.schedule.policies.catchupWindow, `${policy.catchupWindowSeconds}s`, file);
      await removePolicy(target(), cluster);
    }
  });

  it('fires by itself, names the snapshot after the nominal time, and pause keeps its note', async () => {
    const policy = filePolicy({ schedule: '@every 5s' });
    await applyPolicy(target(), policy);
    const run = await eventually('a scheduled run', async () => (await describePolicy(target(), policy.cluster)).recentRuns[0], 30_000);
    const view = await worker.client.workflow.getHandle(run.workflowId).result();
    assert.equal(view.status, 'Completed');
    assert.equal(view.snapshotName, snapshotNameFor(policy.cluster.name, run.scheduledAt));
    await pause(target(), policy.cluster, 'seen it fire');
    const paused = await describePolicy(target(), policy.cluster);
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'seen it fire');
    await removePolicy(target(), policy.cluster);
  });

  it('under SKIP, triggering while a run is open starts nothing more', async () => {
    // A registry that accepts connections and never answers keeps the first run open.
    const sockets: Socket[] = [];
    const blackhole: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const port = (blackhole.address() as { port: number }).port;
    try {
      const policy = { ...filePolicy({ schedule: '0 0 1 1 *' }), storage: { type: 'oci' as const, registry: `127.0.0.1:${port}`, repository: 'never/answers', insecure: true } };
      await applyPolicy(target(), policy);
      await triggerNow(target(), policy.cluster);
      await eventually('the first run', async () => (await describePolicy(target(), policy.cluster)).runningWorkflowIds.length === 1, 15_000);
      await triggerNow(target(), policy.cluster);
      await triggerNow(target(), policy.cluster);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const d = await describePolicy(target(), policy.cluster);
      assert.equal(d.runningWorkflowIds.length, 1);
      assert.equal(d.recentRuns.length, 1, 'skipped triggers start no workflow');
      await worker.client.workflow.getHandle(d.runningWorkflowIds[0]).terminate('test done');
      await removePolicy(target(), policy.cluster);
    } finally {
      for (const socket of sockets) socket.destroy();
      blackhole.close();
    }
  });

  it('backfill takes the past window\'s fires, each named after its nominal time', async () => {
    const policy = filePolicy({ schedule: '0 * * * *' });
    await applyPolicy(target(), policy);
    await pause(target(), policy.cluster, 'only the backfill should run');
    const end = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
    const start = new Date(end.getTime() - 2 * 3_600_000);
    await backfill(target(), policy.cluster, start, new Date(end.getTime() + 1000));
    const runs = await eventually(
      'three backfilled runs',
      async () => {
        const recent = (await describePolicy(target(), policy.cluster)).recentRuns;
        return recent.length >= 3 ? recent : undefined;
      },
      30_000,
    );
    const names = await Promise.all(runs.map(async (r) => (await worker.client.workflow.getHandle(r.workflowId).result()).snapshotName));
    const expected = [0, 1, 2].map((h) => snapshotNameFor(policy.cluster.name, new Date(start.getTime() + h * 3_600_000)));
    assert.deepEqual([...names].sort(), expected);
    await removePolicy(target(), policy.cluster);
  });

  it('keeps 01:30 America/New_York across the DST change (independent Intl computation)', async () => {
    const policy = filePolicy({ schedule: '30 1 1 * *', timezone: 'America/New_York' });
    await applyPolicy(target(), policy);
    const { nextFireTimes } = await describePolicy(target(), policy.cluster);
    assert.ok(nextFireTimes.length >= 6);
    const local = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const offsets = new Set<number>();
    for (const time of nextFireTimes) {
      const parts = Object.fromEntries(local.formatToParts(time).map((p) => [p.type, p.value]));
      assert.deepEqual([parts.day, parts.hour, parts.minute], ['1', '01', '30'], time.toISOString());
      offsets.add(time.getUTCHours());
    }
    assert.deepEqual([...offsets].sort(), [5, 6], 'fires at 06:30Z in winter and 05:30Z in summer');
    await removePolicy(target(), policy.cluster);
  });

  it('sync over 3 namespaces and 50 vc-config Secrets creates exactly the valid schedules and removes a deleted cluster', async () => {
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    const namespaces = [uniqueName('fleet-a'), uniqueName('fleet-b'), uniqueName('fleet-c')];
    for (const namespace of namespaces) await core.createNamespace({ body: { metadata: { name: namespace } } });
    const valid: Array<{ name: string; namespace: string }> = [];
    const invalid: Array<{ name: string; namespace: string }> = [];
    for (let i = 0; i < 50; i++) {
      const cluster = { name: `vc-${i}`, namespace: namespaces[i % 3] };
      const bad = i % 7 === 3;
      const config = ['snapshots:', '  auto:', `    schedule: "${bad ? '0 25 * * *' : `${i % 60} * * * *`}"`, '    storage:', '      type: container', '      container:', '        path: /snapshots', ''].join('\n');
      (bad ? invalid : valid).push(cluster);
      await core.createNamespacedSecret({
        namespace: cluster.namespace,
        body: { metadata: { name: `vc-config-${cluster.name}`, labels: { app: 'vcluster', release: cluster.name } }, stringData: { 'config.yaml': config } },
      });
    }
    const inFleet = (id: string) => namespaces.some((ns) => id.startsWith(`vcsnap.${ns}.`));
    const first = await sync(target(), await discoverClusters(adminKube()));
    assert.deepEqual(first.created.filter(inFleet).sort(), valid.map(scheduleIdFor).sort());
    assert.deepEqual(first.invalid.filter((i) => inFleet(i.scheduleId)).map((i) => i.scheduleId).sort(), invalid.map(scheduleIdFor).sort());
    for (const entry of first.invalid.filter((i) => inFleet(i.scheduleId))) assert.match(entry.error, /^snapshots\.auto\.schedule: /);

    const removed = valid[0];
    await core.deleteNamespacedSecret({ name: `vc-config-${removed.name}`, namespace: removed.namespace });
    // Schedule listing is eventually consistent: sync again until it has seen all 50.
    const second = await eventually(
      'the removed cluster to be deleted',
      async () => {
        const report = await sync(target(), await discoverClusters(adminKube()));
        return report.deleted.includes(scheduleIdFor(removed)) ? report : undefined;
      },
      30_000,
    );
    assert.equal(second.created.filter(inFleet).length, 0);
    for (const cluster of valid.slice(1)) await removePolicy(target(), cluster);
    for (const namespace of namespaces) await core.deleteNamespace({ name: namespace });
  });
});
