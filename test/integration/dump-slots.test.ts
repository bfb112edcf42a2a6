// Hundreds of clusters on one cron fire together: a worker runs at most VCSNAP_MAX_CONCURRENT_DUMPS dumps and the
// rest wait their turn in the dump task queue (worker/dump-worker.ts), holding no slot and running no timeout of an
// attempt, instead of all streaming at once. Here one slot, three snapshots of an etcd read through a 1 MB/s proxy
// (about 16 s each): the third waits longer than the dump's 30 s heartbeat timeout, and still completes on its first
// attempt. (test/faults/dump-fairness.test.ts: three workers sharing the queue.)
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { snapshotWorkflow } from '../../workflows';
import { statusQuery } from '../../contracts/definitions';
import { createProductMetrics } from '../../worker/metrics';
import { fillEtcd } from '../faults/support/fixtures';
import { startTcpProxy, type TcpProxy } from '../faults/support/tcp-proxy';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const KEYS = 4000;

describe('concurrent dumps per worker (VCSNAP_MAX_CONCURRENT_DUMPS)', function () {
  this.timeout(180_000);
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let worker: TestWorker | undefined;

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'dump-slots'), name: 'dump-slots-etcd' });
    await fillEtcd(etcd.endpoint, KEYS, 4 * 1024);
    proxy = await startTcpProxy({ upstream: new URL(etcd.endpoint).host, bytesPerSecond: 2 ** 20 });
  });
  after(async () => {
    await worker?.stop();
    await proxy?.close();
    await etcd?.stop();
  });

  it('with one slot, three runs dump one after another, the waiting ones queued past the heartbeat timeout; all complete', async () => {
    const metrics = createProductMetrics();
    worker = await startTestWorker({ maxConcurrentDumps: 1, metrics });
    const gauge = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    const most = { running: 0 };
    const sampler = setInterval(() => {
      void gauge('vcsnap_dumps_running').then((running) => (most.running = Math.max(most.running, running)));
    }, 100);
    try {
      const runs = await Promise.all(
        [1, 2, 3].map(() =>
          worker!.client.workflow.start(snapshotWorkflow, {
            taskQueue: worker!.taskQueue,
            workflowId: uniqueName('slots'),
            args: [{ policy: filePolicy({ state: { endpoints: [`http://${proxy.host}`], origin: 'explicit' } }) }],
          }),
        ),
      );
      // While two wait, their status says so (and the Web UI's current details with it).
      await eventually('two runs whose status shows them waiting for a dump slot', async () => {
        const during = await Promise.all(runs.map((run) => run.query(statusQuery)));
        return during.filter((view) => view.phase === 'dumping' && view.waitingForDumpSlot).length === 2;
      }, 15_000);
      const views = await Promise.all(runs.map((run) => run.result()));
      assert.ok(views.every((view) => view.waitingForDumpSlot === undefined), 'no finished run still shows itself waiting');
      assert.deepEqual(views.map((view) => [view.status, view.keysWritten]), views.map(() => ['Completed', KEYS]));
      // What etcd saw: each dump's bytes passed before the next dump's first byte.
      const transfers = [...proxy.transfers].sort((a, b) => a.firstByteAt - b.firstByteAt);
      assert.equal(transfers.length, 3, JSON.stringify(transfers));
      for (let i = 1; i < transfers.length; i++) assert.ok(transfers[i].firstByteAt >= transfers[i - 1].lastByteAt, `dumps ${i} and ${i + 1} overlapped`);
      const waited = (transfers[2].firstByteAt - transfers[0].firstByteAt) / 1000;
      assert.ok(waited > 30, `the third dump waited ${waited.toFixed(1)} s: longer than the 30 s heartbeat timeout`);
      // No attempt timed out while waiting: each dump completed in its first attempt.
      for (const run of runs) {
        const events = (await run.fetchHistory()).events ?? [];
        const started = events.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== 1);
        assert.deepEqual(started, [], `${run.workflowId}: an activity needed a second attempt`);
      }
      assert.deepEqual(most, { running: 1 });
      // Each dump's wait in the queue, as the worker observed it when the dump started.
      const exposition = await metrics.registry.metrics();
      assert.match(exposition, /^vcsnap_dump_queue_wait_seconds_count 3$/m);
      const waitedInAll = Number(/^vcsnap_dump_queue_wait_seconds_sum (\S+)$/m.exec(exposition)?.[1]);
      assert.ok(waitedInAll > 30, `the waits add up to ${waitedInAll} s, more than the third one's`);
      console.log(`      3 dumps one at a time; the last waited ${waited.toFixed(1)} s in the queue, holding no slot`);
    } finally {
      clearInterval(sampler);
    }
  });
});
