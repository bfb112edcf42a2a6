// Fault: a rolling update. The product's own worker entry (worker/main.ts) gets SIGTERM in the middle of a dump
// while a second worker runs: it stops polling, lets the running dump finish within its shutdown grace time
// (VCSNAP_SHUTDOWN_GRACE), then exits saying it drained. The run completes on its first dump attempt.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { freePort } from '../../scripts/servers/process';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { fillEtcd } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { spawnWorkerProcess, type WorkerProcess } from './support/workers';

const ROOT = join(__dirname, '..', '..');

describe('fault: SIGTERM to the worker mid-dump (rolling update)', function () {
  this.timeout(240_000);
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let connection: Connection;
  let client: Client;
  let second: WorkerProcess | undefined;

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'graceful'), name: 'graceful-etcd' });
    await fillEtcd(etcd.endpoint, 1500, 12 * 1024); // 18 MB through a 1 MiB/s proxy: a dump of about 18 s
    proxy = await startTcpProxy({ upstream: new URL(etcd.endpoint).host, bytesPerSecond: 2 ** 20 });
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    await second?.stop();
    await proxy?.close();
    await connection?.close();
    await etcd?.stop();
  });

  it('the running dump finishes on the terminated worker, the run completes, the log says drained', async () => {
    const env = testEnv();
    const taskQueue = uniqueName('graceful');
    const logDir = join(env.runDir, 'faults');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, 'graceful-product-worker.log');
    const worker = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), join(ROOT, 'worker', 'main.ts')], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.temporal.address,
        TEMPORAL_NAMESPACE: env.temporal.namespace,
        VCSNAP_TASK_QUEUE: taskQueue,
        VCSNAP_WORKFLOW_BUNDLE: env.workflowBundlePath,
        VCSNAP_PRODUCT_METRICS_PORT: String(await freePort()),
        VCSNAP_SHUTDOWN_GRACE: '90s',
        KUBECONFIG: env.kube.kubeconfigFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(logFile);
    let output = '';
    for (const stream of [worker.stdout!, worker.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        log.write(chunk);
      });
    }
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    try {
      await eventually('the product worker to poll', async () => output.includes('[worker] polling task queue'), 60_000, 100);
      const dir = join(env.runDir, 'file-store', uniqueName('graceful'));
      const policy = basePolicy({ type: 'container', path: dir }, { state: { endpoints: [`http://${proxy.host}`], origin: 'explicit' } });
      const run = await client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('graceful'), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
      await eventually(
        'the dump to be under way (2 MiB read from etcd)',
        async () => proxy.forwardedBytes > 2 * 2 ** 20 && (await pendingActivities(run)).some((a) => a.activityType === 'dumpAndStore'),
        60_000,
        100,
      );
      second = await spawnWorkerProcess({ name: 'graceful-worker-2', taskQueue });
      const signalledAt = Date.now();
      worker.kill('SIGTERM');

      const view = await run.result();
      assert.equal(view.status, 'Completed', view.error);
      const dump = (await activityOutcomes(run)).find((a) => a.activityType === 'dumpAndStore');
      assert.deepEqual([dump?.outcome, dump?.attempt], ['completed', 1], 'the dump finished on the terminated worker, not restarted');
      const code = await exited;
      console.log(`      SIGTERM mid-dump: the dump finished ${Math.round((dump!.closedMs - signalledAt) / 1000)} s later, attempt 1; worker exited (${code}): ${/\[worker\] drained[^\n]*/.exec(output)?.[0]}`);
      assert.match(output, /\[worker\] SIGTERM: draining, running activities get up to 90s to finish/);
      assert.match(output, /\[worker\] drained: no activity left running/);
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      await exited;
      log.end();
    }
  });
});
