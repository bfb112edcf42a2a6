// Prometheus metrics: the product's own series after real snapshot runs (scraped over HTTP), and the worker entry
// (worker/main.ts) serving both its Temporal runtime metrics and the product's on their ports.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Etcd3 } from 'etcd3';
import type { SnapshotPolicy, SnapshotStatusView } from '../../contracts/definitions';
import { recoveryPointScheduleIdFor } from '../../contracts/naming';
import { snapshotWorkflow } from '../../workflows';
import { createProductMetrics, serveMetrics, type MetricsServer } from '../../worker/metrics';
import { freePort } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const ROOT = join(__dirname, '..', '..');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return parseExposition(await response.text());
}

/** The value of the one series `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

describe('metrics', function () {
  describe('product metrics after real snapshot runs', function () {
    let worker: TestWorker;
    let server: MetricsServer;

    before(async () => {
      const etcd = new Etcd3({ hosts: testEnv().etcd.endpoint });
      for (let i = 0; i < 5; i++) await etcd.put(`/registry/configmaps/${uniqueName('metrics')}/cm-${i}`).value(`value-${i}`);
      etcd.close();
      const metrics = createProductMetrics();
      server = await serveMetrics(metrics.registry, 0, '127.0.0.1');
      worker = await startTestWorker({ metrics });
    });
    after(async () => {
      await worker?.stop();
      await server?.close();
    });

    async function run(policy: SnapshotPolicy, nominalTime: string): Promise<SnapshotStatusView> {
      const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('metrics'), args: [{ policy, nominalTime }] });
      return handle.result();
    }

    it('counts snapshots by status and cluster, bytes, keys, duration, last success and retention deletions', async () => {
      const policy = filePolicy({ retention: { periodDays: 30, maxSnapshots: 1 } });
      const cluster = { vcluster: policy.cluster.name, vcluster_namespace: policy.cluster.namespace };
      const first = await run(policy, '2026-11-23T12:00:00Z');
      let samples = await scrape(server.port);
      assert.equal(valueOf(samples, 'vcsnap_snapshots_total', { ...cluster, status: 'Completed' }), 1);
      assert.ok(first.bytesWritten > 0 && first.keysWritten > 0);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_bytes_written_total', cluster), first.bytesWritten);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_keys_written_total', cluster), first.keysWritten);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_duration_seconds_count', { ...cluster, status: 'Completed' }), 1);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_duration_seconds_bucket', { ...cluster, status: 'Completed', le: '+Inf' }), 1);
      assert.equal(valueOf(samples, 'vcsnap_last_successful_snapshot_timestamp_seconds', cluster), Date.parse(first.finishedAt!) / 1000);
      assert.equal(valueOf(samples, 'vcsnap_retention_deletions_total', { ...cluster, result: 'deleted' }), 0);

      // maxSnapshots 1: the second run prunes the first.
      const second = await run(policy, '2026-11-23T13:00:00Z');
      assert.deepEqual(second.retention?.deleted, [first.snapshotName]);
      samples = await scrape(server.port);
      assert.equal(valueOf(samples, 'vcsnap_snapshots_total', { ...cluster, status: 'Completed' }), 2);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_bytes_written_total', cluster), first.bytesWritten + second.bytesWritten);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_keys_written_total', cluster), first.keysWritten + second.keysWritten);
      assert.equal(valueOf(samples, 'vcsnap_last_successful_snapshot_timestamp_seconds', cluster), Date.parse(second.finishedAt!) / 1000);
      assert.equal(valueOf(samples, 'vcsnap_retention_deletions_total', { ...cluster, result: 'deleted' }), 1);
      assert.equal(valueOf(samples, 'vcsnap_retention_deletions_total', { ...cluster, result: 'failed' }), 0);
    });

    it('a failed run counts as Failed and leaves the last-success time alone', async () => {
      const policy = filePolicy({ engine: 'direct', state: { endpoints: [], origin: 'none', unavailableReason: 'embedded SQLite store' } });
      const cluster = { vcluster: policy.cluster.name, vcluster_namespace: policy.cluster.namespace };
      await assert.rejects(run(policy, '2026-11-23T12:00:00Z'), (err: Error & { cause?: Error }) => /embedded SQLite store/.test(String(err.cause?.message)));
      const samples = await scrape(server.port);
      assert.equal(valueOf(samples, 'vcsnap_snapshots_total', { ...cluster, status: 'Failed' }), 1);
      assert.equal(valueOf(samples, 'vcsnap_snapshots_total', { ...cluster, status: 'Completed' }), undefined);
      assert.equal(valueOf(samples, 'vcsnap_snapshot_duration_seconds_count', { ...cluster, status: 'Failed' }), 1);
      assert.equal(valueOf(samples, 'vcsnap_last_successful_snapshot_timestamp_seconds', cluster), undefined);
      assert.equal(valueOf(samples, 'vcsnap_retention_deletions_total', cluster), undefined, 'retention runs only after a successful store');
    });
  });

  describe('compiled worker entry (dist/worker/main.js, as the image runs it)', function () {
    let child: ChildProcess | undefined;
    after(() => {
      child?.kill('SIGTERM');
    });

    it('serves the Temporal runtime metrics and the product metrics on their own ports', async () => {
      const env = testEnv();
      const [runtimePort, productPort] = [await freePort(), await freePort()];
      const taskQueue = uniqueName('metrics-main');
      const log = createWriteStream(join(env.runDir, `${taskQueue}.log`));
      child = spawn(process.execPath, [join(ROOT, 'dist', 'worker', 'main.js')], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.temporal.address,
          TEMPORAL_NAMESPACE: env.temporal.namespace,
          VCSNAP_TASK_QUEUE: taskQueue,
          VCSNAP_WORKFLOW_BUNDLE: join(ROOT, 'dist', 'workflow-bundle.js'),
          VCSNAP_METRICS_PORT: String(runtimePort),
          VCSNAP_PRODUCT_METRICS_PORT: String(productPort),
          KUBECONFIG: env.kube.kubeconfigFile,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr?.pipe(log);
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child!.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          log.write(chunk);
          if (output.includes('[worker] polling task queue')) resolve();
        });
        child!.once('exit', (code) => reject(new Error(`worker exited with ${code} before polling; see ${log.path as string}`)));
      });
      assert.match(output, new RegExp(`product metrics on :${productPort}/metrics`));
      // The fleet's recovery point check: its schedule, ensured at start (the default 5 minutes).
      assert.match(output, /\[worker\] recovery point check: created, every 300s/);

      const connection = await Connection.connect({ address: env.temporal.address });
      const policy = filePolicy();
      try {
        const client = new Client({ connection, namespace: env.temporal.namespace });
        const handle = await client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('metrics-main'), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
        assert.equal((await handle.result()).status, 'Completed');
        const check = await client.schedule.getHandle(recoveryPointScheduleIdFor(taskQueue)).describe();
        assert.equal(check.spec.intervals?.[0]?.every, 300_000);
        assert.equal((check.action as { workflowType?: string; taskQueue?: string }).taskQueue, taskQueue);
        await client.schedule.getHandle(recoveryPointScheduleIdFor(taskQueue)).delete();
      } finally {
        await connection.close();
      }

      const product = await scrape(productPort);
      assert.equal(valueOf(product, 'vcsnap_snapshots_total', { vcluster: policy.cluster.name, vcluster_namespace: policy.cluster.namespace, status: 'Completed' }), 1);
      const runtime = await scrape(runtimePort);
      const names = new Set(runtime.map((s) => s.name));
      assert.ok([...names].some((n) => n.startsWith('temporal_workflow_completed')), `no temporal_workflow_completed in ${[...names].join(', ')}`);
      assert.ok([...names].some((n) => n.startsWith('temporal_activity_execution_latency')), 'no activity latency from the Temporal runtime');

      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'SIGTERM shuts the worker down cleanly');
      child = undefined;
    });
  });
});
