// Fault: hundreds of clusters on one cron, several replicas. Dumps go to their own task queue, served in each worker
// process by a worker taking at most VCSNAP_MAX_CONCURRENT_DUMPS at once (worker/dump-worker.ts): a dump waiting for a
// slot waits in Temporal's queue, holds no slot and runs no start-to-close timeout, and whichever replica frees a slot
// takes it. Here three worker processes with a limit of 2, and one cron (every minute) for 30 small clusters whose
// etcd is read through a shared 4 MiB/s link (about 2 s per dump when six run): measured from the history (each
// dump's start and close by worker identity) and from each worker's own metrics endpoint, no worker ever ran more
// than 2 dumps; every run Completed, every dump on its first attempt; the waits were long (queued) but timed nothing
// out.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { statusQuery, type SnapshotPolicy, type SnapshotStatusView } from '../../contracts/definitions';
import { scheduleIdFor } from '../../contracts/naming';
import { applyPolicy, removePolicy } from '../../lib/schedules';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { freePort } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { describeWhilePolling } from '../harness/temporal';
import { fillEtcd } from './support/fixtures';
import { eventually } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { spawnWorkerProcess, type WorkerProcess } from './support/workers';

const CLUSTERS = 30;
const WORKERS = 3;
const DUMPS_PER_WORKER = 2;
const EventType = temporal.api.enums.v1.EventType;

interface DumpSpan {
  identity: string;
  scheduledMs: number;
  startedMs: number;
  closedMs: number;
  attempt: number;
  outcome: 'completed' | 'other';
}

async function dumpSpan(client: Client, workflowId: string): Promise<DumpSpan> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dumpAndStore')!;
  const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled.eventId))!;
  const closed = events.find((e) => (e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes)?.scheduledEventId?.toString() === String(scheduled.eventId))!;
  return {
    identity: started.activityTaskStartedEventAttributes!.identity ?? '',
    scheduledMs: tsToMs(scheduled.eventTime),
    startedMs: tsToMs(started.eventTime),
    closedMs: tsToMs(closed.eventTime),
    attempt: started.activityTaskStartedEventAttributes!.attempt ?? 0,
    outcome: closed.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED ? 'completed' : 'other',
  };
}

/** The most spans open at one instant. */
function mostAtOnce(spans: DumpSpan[]): number {
  const edges = spans.flatMap((s) => [[s.startedMs, 1] as const, [s.closedMs, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (open += step));
  return most;
}

describe('fault: one cron for 30 clusters on three workers, 2 dumps each', function () {
  this.timeout(240_000);
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let connection: Connection;
  let client: Client;
  const workers: WorkerProcess[] = [];
  const metricsPorts: number[] = [];
  let policies: SnapshotPolicy[] = [];

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'fairness'), name: 'fairness-etcd' });
    await fillEtcd(etcd.endpoint, 150, 8 * 1024); // 1.2 MB per dump
    proxy = await startTcpProxy({ upstream: new URL(etcd.endpoint).host, bytesPerSecond: 4 * 2 ** 20 });
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    for (const policy of policies) await removePolicy({ client }, policy.cluster).catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop()));
    await proxy?.close();
    await connection?.close();
    await etcd?.stop();
  });

  it('no worker runs more than 2 dumps at once, every run Completed on its first dump attempt', async () => {
    const taskQueue = uniqueName('fairness');
    for (let i = 0; i < WORKERS; i++) {
      metricsPorts.push(await freePort());
      workers.push(
        await spawnWorkerProcess({
          name: `fairness-${i}`,
          taskQueue,
          env: { VCSNAP_MAX_CONCURRENT_DUMPS: String(DUMPS_PER_WORKER), VCSNAP_PRODUCT_METRICS_PORT: String(metricsPorts[i]) },
        }),
      );
    }
    policies = Array.from({ length: CLUSTERS }, () => filePolicy({ schedule: '* * * * *', state: { endpoints: [`http://${proxy.host}`], origin: 'explicit' } }));
    await Promise.all(policies.map((policy) => applyPolicy({ client, taskQueue }, policy)));

    // Each worker's own gauge, sampled while the fire runs.
    const sampled = metricsPorts.map(() => 0);
    const sampler = setInterval(() => {
      metricsPorts.forEach((port, i) => {
        fetch(`http://127.0.0.1:${port}/metrics`)
          .then((res) => res.text())
          .then((text) => {
            const running = Number(/^vcsnap_dumps_running (\S+)$/m.exec(text)?.[1] ?? 0);
            sampled[i] = Math.max(sampled[i]!, running);
          })
          .catch(() => undefined);
      });
    }, 100);
    // Each run's own status, asked from the moment its schedule shows it until the run ends: while the fire queues,
    // some say they wait for a dump slot (the queue drains in seconds, so the asking starts before every run is known).
    const known = new Set<string>();
    const running = new Set<string>();
    const waitingSeen = new Set<string>();
    // Each run is asked on its own (a slow answer for one never holds up the others); every query still out is
    // awaited before the test goes on, so none (nor the SDK's retry of one) outlives the test's connection.
    const asking = new Map<string, Promise<void>>();
    const statusSampler = setInterval(() => {
      for (const id of running) {
        if (asking.has(id)) continue;
        const ask = client.workflow
          .getHandle(id)
          .query(statusQuery)
          .then(
            (view) => {
              if (view.waitingForDumpSlot) waitingSeen.add(id);
              if (view.status !== 'InProgress') running.delete(id);
            },
            () => undefined,
          )
          .finally(() => asking.delete(id));
        asking.set(id, ask);
      }
    }, 200);
    // Each fire's run is named after the schedule's action and the fire's nominal time (Temporal's scheduler:
    // `<workflowId>-<RFC 3339, whole seconds>`), so the asking starts with the fire rather than once a describe of
    // every schedule shows the runs (with the server tier beside it, those came after the queue had drained).
    for (const policy of policies) {
      const description = await client.schedule.getHandle(scheduleIdFor(policy.cluster)).describe();
      const nominal = description.info.nextActionTimes[0];
      if (description.action.type !== 'startWorkflow' || !nominal) continue;
      running.add(`${description.action.workflowId}-${nominal.toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
    }
    let workflowIds: string[];
    let views: SnapshotStatusView[];
    try {
      // The next minute's fire starts one run per cluster; the schedules go right after, so only that fire counts.
      const firedRun = async (policy: SnapshotPolicy) => (await describeWhilePolling(client.schedule.getHandle(scheduleIdFor(policy.cluster))))?.info.recentActions[0]?.action.workflow.workflowId;
      workflowIds = await eventually(
        'every schedule to fire',
        async () => {
          const ids = await Promise.all(policies.map(firedRun));
          for (const id of ids) {
            if (!id || known.has(id)) continue;
            known.add(id);
            running.add(id);
          }
          return ids.every(Boolean) ? (ids as string[]) : undefined;
        },
        75_000,
        500,
      );
      // A schedule described after its fire predicted the next minute's run: not one of these.
      for (const id of running) if (!workflowIds.includes(id)) running.delete(id);
      await Promise.all(policies.map((policy) => removePolicy({ client }, policy.cluster)));
      views = await Promise.all(workflowIds.map((id) => client.workflow.getHandle(id).result() as Promise<SnapshotStatusView>));
    } finally {
      clearInterval(sampler);
      clearInterval(statusSampler);
      await Promise.all(asking.values());
    }

    assert.ok(waitingSeen.size > 0, 'no run’s status said it waits for a dump slot while the fire queued');
    assert.deepEqual(views.map((v) => v.status), views.map(() => 'Completed'), views.map((v) => v.error).filter(Boolean).join('; '));
    const spans = await Promise.all(workflowIds.map((id) => dumpSpan(client, id)));
    assert.deepEqual(spans.filter((s) => s.attempt !== 1 || s.outcome !== 'completed'), [], 'every dump completed on its first attempt (none timed out while waiting)');
    const byWorker = new Map<string, DumpSpan[]>();
    for (const span of spans) byWorker.set(span.identity, [...(byWorker.get(span.identity) ?? []), span]);
    const perWorker = [...byWorker.entries()].map(([identity, mine]) => ({ identity, dumps: mine.length, mostAtOnce: mostAtOnce(mine) }));
    assert.equal(perWorker.length, WORKERS, `every worker took dumps: ${JSON.stringify(perWorker)}`);
    for (const w of perWorker) assert.ok(w.mostAtOnce <= DUMPS_PER_WORKER, `${w.identity} ran ${w.mostAtOnce} dumps at once`);
    for (const most of sampled) assert.ok(most <= DUMPS_PER_WORKER, `a worker's vcsnap_dumps_running reached ${most}`);
    assert.equal(mostAtOnce(spans), WORKERS * DUMPS_PER_WORKER, 'the fleet ran all its slots at once (the dumps did queue)');
    const waits = spans.map((s) => (s.startedMs - s.scheduledMs) / 1000).sort((a, b) => a - b);
    const span = (Math.max(...spans.map((s) => s.closedMs)) - Math.min(...spans.map((s) => s.scheduledMs))) / 1000;
    console.log(
      `      ${CLUSTERS} dumps on ${WORKERS} workers in ${span.toFixed(0)} s: ${perWorker.map((w) => `${w.dumps} (most ${w.mostAtOnce} at once)`).join(' · ')}; ` +
        `sampled gauge max ${sampled.join('/')}; ${waitingSeen.size} run(s) said waiting for a slot; queue wait median ${waits[Math.floor(waits.length / 2)]!.toFixed(1)} s, max ${waits.at(-1)!.toFixed(1)} s; all first attempts`,
    );
  });
});
