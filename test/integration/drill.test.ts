// Restore drills end to end on real servers: the harness kube-apiserver's etcd (1,001 ConfigMaps and a few other
// kinds) is snapshotted, drilled into a scratch etcd the worker starts, a kube-apiserver started on it lists the
// same objects; damaged, deleted and digest-changed archives are refused before any restore step, and each fires
// one alert at a real webhook receiver. The drill's metrics are scraped from the worker's metrics endpoint.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { mapLimit } from '../../lib/concurrency';
import type { SnapshotPolicy } from '../../contracts/definitions';
import type { DrillResult } from '../../contracts/drill';
import { createStore } from '../../lib/storage';
import { drillWorkflow, snapshotWorkflow } from '../../workflows';
import { createProductMetrics, serveMetrics, type MetricsServer } from '../../worker/metrics';
import { etcdBinary } from '../../scripts/servers/etcd';
import { toolPath } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';
import { replayAndCapture } from '../harness/histories';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const CONFIG_MAPS = 1001;

/** Processes and directories the drills left behind (none may remain). */
function drillLeftovers(): { dirs: string[]; processes: string[] } {
  const dirs = readdirSync(tmpdir()).filter((name) => name.startsWith('vcsnap-drill-'));
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes('vcsnap-drill-')) processes.push(`${pid}: ${cmdline.slice(0, 120)}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return { dirs, processes };
}

describe('restore drills (real servers)', function () {
  this.timeout(600_000);
  const namespace = uniqueName('drill');
  const alertsNamespace = uniqueName('drill-alerts');
  let worker: TestWorker;
  let receiver: WebhookReceiver;
  let metricsServer: MetricsServer;
  const metrics = createProductMetrics();
  const state = () => ({ endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' as const });

  async function snapshotOf(policy: SnapshotPolicy): Promise<string> {
    const view = await worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('drill-source'), args: [{ policy }] });
    assert.equal(view.status, 'Completed', view.error);
    return view.snapshotName!;
  }

  async function drill(policy: SnapshotPolicy, name: string): Promise<DrillResult> {
    const handle = await worker.client.workflow.start(drillWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('drill'), args: [{ policy }] });
    const result = await handle.result();
    await replayAndCapture(name, await handle.fetchHistory());
    return result;
  }

  async function scrape(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${metricsServer.port}/metrics`)).text();
  }

  before(async function () {
    receiver = await startWebhookReceiver();
    const kube = adminKube();
    const core = kube.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: alertsNamespace } } });
    await core.createNamespacedSecret({ namespace: alertsNamespace, body: { metadata: { name: 'webhook' }, stringData: { url: `${receiver.url}/hook` } } });
    metricsServer = await serveMetrics(metrics.registry, 0, '127.0.0.1');
    worker = await startTestWorker({
      metrics,
      drillEtcdBinary: etcdBinary(),
      drillKubeApiserver: toolPath('kube-apiserver', 'KUBERNETES_VERSION'),
      alertWebhookSecret: { namespace: alertsNamespace, name: 'webhook' },
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await mapLimit(Array.from({ length: CONFIG_MAPS }, (_, i) => i), 16, (i) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${String(i).padStart(4, '0')}` }, data: { index: String(i), payload: `value ${i} `.repeat(i % 50) } } }),
    );
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, stringData: { password: 'p4ss-w0rd' } } });
    await kube.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
      },
    });
  });

  after(async () => {
    await worker?.stop();
    await metricsServer?.close();
    await receiver?.close();
  });

  it('restores the newest snapshot into a scratch etcd, where a kube-apiserver lists the same objects; nothing is left behind', async () => {
    const policy = filePolicy({ state: state() });
    const snapshotName = await snapshotOf(policy);
    const started = Date.now();
    const result = await drill(policy, 'drill-passed');
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.outcome, 'passed', result.reason);
    assert.equal(result.snapshotName, snapshotName);
    const checks = result.checks!;
    assert.equal(checks.keysRestored, checks.keysArchived);
    assert.equal(checks.mismatchedKeys, 0);
    assert.equal(checks.revision, checks.expectedRevision);
    assert.equal(checks.undecodable, 0, checks.undecodableExamples.join('\n'));
    assert.ok(checks.objects.ConfigMap! >= CONFIG_MAPS, `ConfigMaps counted: ${checks.objects.ConfigMap}`);
    assert.ok(checks.objects['Deployment.apps']! >= 1 && checks.objects.Secret! >= 1 && checks.objects.Namespace! >= 1);
    const apiServer = checks.apiServer!;
    assert.deepEqual(apiServer.problems, []);
    assert.ok(apiServer.resourceTypes > 30, `resource types listed: ${apiServer.resourceTypes}`);
    assert.equal(apiServer.objects.ConfigMap, checks.objects.ConfigMap);
    assert.equal(apiServer.objects['Deployment.apps'], checks.objects['Deployment.apps']);
    const record = await createStore(policy.storage).getRecord(snapshotName);
    assert.equal(record?.drill?.outcome, 'passed');
    assert.equal(record?.drill?.objects?.ConfigMap, checks.objects.ConfigMap);
    assert.deepEqual(drillLeftovers(), { dirs: [], processes: [] });
    const text = await scrape();
    const labels = `vcluster="${policy.cluster.name}",vcluster_namespace="${policy.cluster.namespace}"`;
    assert.match(text, new RegExp(`vcsnap_drill_total\\{${labels},result="passed"\\} 1`));
    assert.match(text, new RegExp(`vcsnap_last_verified_restore_timestamp_seconds\\{${labels}\\} \\d+`));
    assert.match(text, new RegExp(`vcsnap_recovery_point_age_seconds\\{${labels}\\} \\d`));
    console.log(`      drill of ${checks.keysArchived} keys (${checks.objects.ConfigMap} ConfigMaps, ${apiServer.resourceTypes} resource types listed) took ${seconds.toFixed(1)}s`);
  });

  describe('a broken snapshot is refused before any restore step, with one alert each', () => {
    const cases: Array<{ name: string; refusal: string; damage: (dir: string, snapshotName: string) => void; reason: RegExp }> = [
      {
        name: 'one byte flipped in storage',
        refusal: 'archive-corrupt',
        damage: (dir, snapshotName) => {
          const path = join(dir, `${snapshotName}.tar.gz`);
          const archive = readFileSync(path);
          archive[archive.length >> 1] ^= 0xff;
          writeFileSync(path, archive);
        },
        reason: /gzip|tar|corrupt|sha256/,
      },
      {
        name: 'archive deleted from storage',
        refusal: 'archive-missing',
        damage: (dir, snapshotName) => rmSync(join(dir, `${snapshotName}.tar.gz`)),
        reason: /archive is gone/,
      },
      {
        name: 'record digest differs',
        refusal: 'digest-mismatch',
        damage: (dir, snapshotName) => {
          const path = join(dir, `${snapshotName}.json`);
          const record = JSON.parse(readFileSync(path, 'utf8')) as { sha256: string };
          record.sha256 = record.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
          writeFileSync(path, JSON.stringify(record));
        },
        reason: /does not match the recorded/,
      },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.refusal}`, async () => {
        const policy = filePolicy({ state: state() });
        const snapshotName = await snapshotOf(policy);
        c.damage((policy.storage as { path: string }).path, snapshotName);
        const result = await drill(policy, `drill-refused-${c.refusal}`);
        assert.equal(result.outcome, 'refused');
        assert.equal(result.refusal, c.refusal);
        assert.match(result.reason ?? '', c.reason);
        assert.equal(result.checks, undefined, 'no restore step ran');
        const alerts = await eventually('the drill alert', () => {
          const got = receiver.received.filter((r) => r.body.commonLabels?.vcluster === policy.cluster.name);
          return got.length > 0 && got;
        });
        assert.equal(alerts.length, 1);
        const [alert] = alerts;
        assert.equal(alert!.body.commonLabels?.alertname, 'VcsnapDrillFailed');
        assert.equal(alert!.body.alerts?.[0]?.labels.snapshot, snapshotName);
        assert.match(alert!.body.text ?? '', new RegExp(c.refusal));
        assert.equal(alert!.idempotencyKey, alert!.body.groupKey);
      });
    }
  });
});
