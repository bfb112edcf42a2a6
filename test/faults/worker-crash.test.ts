// Fault 1: kill -9 the worker in the middle of a snapshot. Three runs share one worker process and are killed at
// once: one streaming to MinIO (multipart parts stored), one to the registry (a blob upload session holding data,
// the dump still running), one to a directory (its etcd throttled: mid-dump, a partial file written). A fresh worker
// must finish all three with exactly one archive each, the recorded digest matching the stored bytes, and no
// pending multipart upload, registry upload session or partial file left behind.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import type { StateSource } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { fileTarget, ociTarget, s3Target, type CrashTarget } from './support/crash-targets';
import { fillEtcd } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { spawnWorkerProcess, type WorkerProcess } from './support/workers';

const NOMINAL_TIME = '2026-11-23T12:00:00Z';
// 48 MB of incompressible values: three 16 MB multipart parts, six 8 MB registry chunks, four etcd pages.
const KEYS = 4000;
const VALUE_BYTES = 12 * 1024;
const MiB = 2 ** 20;

describe('fault: kill -9 of the worker mid-dump and mid-upload', function () {
  this.timeout(240_000);
  let etcd: EtcdServer;
  let connection: Connection;
  let client: Client;
  const proxies: TcpProxy[] = [];
  const workers: WorkerProcess[] = [];

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'worker-crash'), name: 'crash-etcd' });
    await fillEtcd(etcd.endpoint, KEYS, VALUE_BYTES);
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    await Promise.allSettled(proxies.map((proxy) => proxy.close()));
    await connection?.close();
    await etcd?.stop();
  });

  /** A throttling proxy: slow enough that the kill lands mid-upload, lifted for the next worker. */
  const throttledAt = (bytesPerSecond: number) => async (upstream: string) => {
    const proxy = await startTcpProxy({ upstream, bytesPerSecond });
    proxies.push(proxy);
    return proxy;
  };

  it('a new worker finishes every run: one archive each, digests match, no multipart upload, session or partial file left', async () => {
    const state: StateSource = { endpoints: [etcd.endpoint], origin: 'explicit' };
    // At 2 MiB/s each upload runs for about 25 s; all three have stored something after about 5 s.
    const throttled = throttledAt(2 * MiB);
    const targets: CrashTarget[] = [await s3Target(state, throttled), await ociTarget(state, throttled), await fileTarget(state, throttled)];
    const taskQueue = uniqueName('crash');
    workers.push(await spawnWorkerProcess({ name: 'crash-worker-1', taskQueue }));
    const runs = await Promise.all(
      targets.map((target) => client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('crash'), args: [{ policy: target.policy, nominalTime: NOMINAL_TIME }] })),
    );
    const names = targets.map((target) => `${target.policy.cluster.name}-2026-11-23T12-00-00Z`);
    const unfinished = () => Promise.all(targets.map((target, i) => target.unfinished(names[i])));
    const heartbeated = async (run: WorkflowHandle) => (await pendingActivities(run)).some((a) => a.activityType === 'dumpAndStore' && a.heartbeat !== undefined);

    const atKill = await eventually(
      'every run to have stored part of its archive and heartbeated',
      async () => {
        const stored = await unfinished();
        return stored.every((s) => s.amount > 0) && (await Promise.all(runs.map(heartbeated))).every(Boolean) && stored;
      },
      60_000,
      100,
    );
    await workers[0].kill();
    for (const [i, left] of (await unfinished()).entries()) assert.ok(left.amount > 0, `${targets[i].label}: the killed attempt left its unfinished upload`);
    console.log(`      killed the worker with ${atKill.map((s, i) => `${targets[i].label}: ${s.text}`).join(', ')}`);

    for (const proxy of proxies) proxy.setRate(undefined);
    workers.push(await spawnWorkerProcess({ name: 'crash-worker-2', taskQueue }));
    for (const [i, run] of runs.entries()) {
      const view = await run.result();
      assert.equal(view.status, 'Completed', `${targets[i].label}: ${view.error}`);
      const dump = (await activityOutcomes(run)).find((a) => a.activityType === 'dumpAndStore');
      assert.deepEqual([dump?.outcome, dump?.attempt], ['completed', 2], `${targets[i].label}: the dump was retried once, after the kill`);
      assert.equal(view.keysWritten, KEYS);
      await targets[i].assertFinished(names[i]);
    }
  });
});
