// Restore drills end to end on real servers: the harness kube-apiserver's etcd (1,001 ConfigMaps and a few other
// kinds) is snapshotted, drilled into a scratch etcd the worker starts, a kube-apiserver started on it lists the
// same objects; damaged, deleted and digest-changed archives are refused before any restore step, and each fires
// one alert at a real webhook receiver. The drill's metrics are scraped from the worker's metrics endpoint.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { mapLimit } from '../../lib/concurrency';
import type { SnapshotPolicy } from '../../contracts/definitions';
import type { DrillResult } from '../../contracts/drill';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { createStore } from '../../lib/storage';
import { drillWorkflow, snapshotWorkflow } from '../../workflows';
import { createProductMetrics, serveMetrics, type MetricsServer } from '../../worker/metrics';
import { etcdBinary } from '../../scripts/servers/etcd';
import { toolPath } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, describeWhilePolling, startTestWorker, type TestWorker } from '../harness/temporal';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { alertWorkflowIdFor } from '../../activities/notify';
import type { AlertEvent } from '../../contracts/alert';
import { drillScheduleIdFor } from '../../contracts/naming';
import { clusterStatuses } from '../../client/status';
import { applyDrillSchedule, listDrillSchedules, syncDrillSchedules } from '../../lib/drill/schedules';
import { applyPolicy, pause, removePolicy, resume, triggerNow } from '../../lib/schedules';
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
  /** Clusters whose drill was refused, for the alert rule evaluated last. */
  const refusedClusters: string[] = [];

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
    // The apiserver may add its own bootstrap objects, never lose the snapshot's: the test's 1,001 are all there.
    assert.ok(apiServer.objects.ConfigMap! >= checks.objects.ConfigMap!, `ConfigMaps listed: ${apiServer.objects.ConfigMap}, archived: ${checks.objects.ConfigMap}`);
    assert.equal(apiServer.objects['Deployment.apps'], checks.objects['Deployment.apps']);
    assert.equal(apiServer.objects.Secret, checks.objects.Secret);
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
        refusedClusters.push(`${policy.cluster.namespace}/${policy.cluster.name}`);
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

  describe('drill schedules', () => {
    it('sync gives each cluster with a policy its drill schedule (its own interval, the default, or none), and the schedule runs the drill', async () => {
      const target = { client: worker.client, taskQueue: worker.taskQueue };
      const own = filePolicy({ state: state() });
      const byDefault = filePolicy({ state: state() });
      const off = filePolicy({ state: state() });
      await snapshotOf(own);
      const report = await syncDrillSchedules(
        target,
        [
          { cluster: own.cluster, policy: own, drillIntervalSeconds: 3600 },
          { cluster: byDefault.cluster, policy: byDefault },
          { cluster: off.cluster, policy: off, drillIntervalSeconds: null },
        ],
        7 * 86_400,
      );
      try {
        assert.deepEqual(report.failed, []);
        // Schedule listing goes through visibility, which is eventually consistent.
        const ids = await eventually('both drill schedules in the listing', async () => {
          const listed = (await listDrillSchedules(target)).map((s) => s.scheduleId);
          return listed.includes(drillScheduleIdFor(own.cluster)) && listed.includes(drillScheduleIdFor(byDefault.cluster)) && listed;
        });
        assert.ok(!ids.includes(drillScheduleIdFor(off.cluster)));
        const every = async (policy: SnapshotPolicy) => (await worker.client.schedule.getHandle(drillScheduleIdFor(policy.cluster)).describe()).spec.intervals?.[0]?.every;
        assert.equal(await every(own), 3600 * 1000);
        assert.equal(await every(byDefault), 7 * 86_400 * 1000);
        assert.equal(await applyDrillSchedule(target, own, 3600, 'discovery'), 'unchanged');
        const handle = worker.client.schedule.getHandle(drillScheduleIdFor(own.cluster));
        await handle.trigger();
        const run = await eventually('the scheduled drill', async () => (await describeWhilePolling(handle))?.info.recentActions[0]?.action.workflow);
        const result = (await worker.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result()) as DrillResult;
        assert.equal(result.outcome, 'passed', result.reason);
        // A cluster gone from discovery loses the drill schedule sync made for it.
        const after = await syncDrillSchedules(target, [{ cluster: own.cluster, policy: own, drillIntervalSeconds: 3600 }], 7 * 86_400);
        assert.deepEqual(after.deleted, [drillScheduleIdFor(byDefault.cluster)]);
      } finally {
        await syncDrillSchedules(target, [], undefined);
      }
    });
  });

  describe('alerts', () => {
    it('a Failed snapshot notifies once, after retries while the receiver answers 503, without holding up the snapshot', async () => {
      receiver.failNext(2);
      const attemptsBefore = receiver.attempts;
      const policy = filePolicy({ engine: 'direct', state: { endpoints: [], origin: 'none', unavailableReason: 'no etcd endpoint configured' } });
      const started = Date.now();
      const run = worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('drill-failed-source'), args: [{ policy }] });
      await assert.rejects(run, (err: Error) => /state not reachable: no etcd endpoint configured/.test(String(err.cause)));
      const snapshotSeconds = (Date.now() - started) / 1000;
      const mine = () => receiver.received.filter((r) => r.body.commonLabels?.vcluster === policy.cluster.name);
      assert.equal(mine().length, 0, 'the snapshot ended before its alert got through');
      const [alert] = await eventually('the snapshot alert', () => mine().length > 0 && mine(), 60_000);
      const alertSeconds = (Date.now() - started) / 1000;
      assert.equal(alert!.body.commonLabels?.alertname, 'VcsnapSnapshotFailed');
      assert.match(alert!.body.commonAnnotations?.description ?? '', /no etcd endpoint configured/);
      assert.equal(receiver.attempts - attemptsBefore, 3, 'two 503s, then delivered');
      // The same event raised again (a retried writeRecord does that) starts nothing: its workflow ID is taken.
      const notifyHandle = worker.client.workflow.getHandle(alertWorkflowIdFor({ key: alert!.idempotencyKey! } as AlertEvent));
      assert.deepEqual(await notifyHandle.result(), { sent: true, status: 200 }, 'the notify workflow ran under the event key');
      await replayAndCapture('notify-sent-after-retries', await notifyHandle.fetchHistory());
      await assert.rejects(
        worker.client.workflow.start('notifyWorkflow', { taskQueue: worker.taskQueue, workflowId: alertWorkflowIdFor({ key: alert!.idempotencyKey! } as AlertEvent), args: [{}], workflowIdReusePolicy: 'REJECT_DUPLICATE' }),
        WorkflowExecutionAlreadyStartedError,
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal(mine().length, 1, 'exactly one notification');
      console.log(`      snapshot Failed after ${snapshotSeconds.toFixed(1)}s; its alert delivered after ${alertSeconds.toFixed(1)}s (two 503s)`);
    });
  });

  describe('alerts across a worker restart', () => {
    it('a worker stopped mid-send: the next worker sends again with the same key, and the event is delivered once', async () => {
      const taskQueue = `drill-restart-${uniqueName('q')}`;
      const deps = { alertWebhookSecret: { namespace: alertsNamespace, name: 'webhook' } };
      let first: TestWorker | undefined = await startTestWorker(deps, undefined, taskQueue);
      let second: TestWorker | undefined;
      const cluster = { name: uniqueName('vc'), namespace: 'team-a' };
      const event: AlertEvent = { key: `test.${cluster.name}`, kind: 'SnapshotFailed', cluster, summary: `Snapshot of team-a/${cluster.name} ended Failed`, at: new Date().toISOString() };
      try {
        receiver.holdNext(1);
        const handle = await worker.client.workflow.start('notifyWorkflow', { taskQueue, workflowId: alertWorkflowIdFor(event), args: [event] });
        await eventually('the first send to reach the receiver', () => receiver.keys.includes(event.key));
        await first.stop();
        first = undefined;
        second = await startTestWorker(deps, undefined, taskQueue);
        assert.deepEqual(await handle.result(), { sent: true, status: 200 });
        const sends = receiver.keys.filter((k) => k === event.key).length;
        const delivered = new Set(receiver.received.filter((r) => r.idempotencyKey === event.key).map((r) => r.idempotencyKey));
        assert.equal(sends, 2, 'sent by the stopped worker, then by the next one');
        assert.equal(delivered.size, 1, 'one event for a receiver that drops keys it has seen');
        assert.equal(receiver.received.filter((r) => r.idempotencyKey === event.key).length, 1);
      } finally {
        await first?.stop();
        await second?.stop();
      }
    });
  });

  describe('recovery point', () => {
    it('grows in vcsnap status and the metrics while the schedule is paused, and resets after a successful run', async () => {
      const target = { client: worker.client, taskQueue: worker.taskQueue };
      const policy = filePolicy({ state: state(), schedule: '0 0 1 1 *' });
      await applyPolicy(target, policy);
      try {
        await triggerNow(target, policy.cluster);
        const first = await eventually('the first scheduled snapshot', async () => (await clusterStatuses(target, [policy.cluster]))[0]?.restorable, 60_000);
        await pause(target, policy.cluster);
        const labels = `vcluster="${policy.cluster.name}",vcluster_namespace="${policy.cluster.namespace}"`;
        const metricAge = async () => Number(new RegExp(`vcsnap_recovery_point_age_seconds\\{${labels}\\} (\\S+)`).exec(await scrape())?.[1]);
        const [statusBefore] = await clusterStatuses(target, [policy.cluster]);
        const metricBefore = await metricAge();
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const [statusPaused] = await clusterStatuses(target, [policy.cluster]);
        const metricPaused = await metricAge();
        assert.equal(statusPaused!.paused, true);
        assert.ok(statusPaused!.ageSeconds! >= statusBefore!.ageSeconds! + 2, `status age ${statusBefore!.ageSeconds} -> ${statusPaused!.ageSeconds}`);
        assert.ok(metricPaused >= metricBefore + 2, `metric age ${metricBefore} -> ${metricPaused}`);
        assert.equal(statusPaused!.restorable?.snapshotName, first.snapshotName);
        await resume(target, policy.cluster);
        await triggerNow(target, policy.cluster);
        const [statusAfter] = await eventually('the second snapshot', async () => {
          const statuses = await clusterStatuses(target, [policy.cluster]);
          return statuses[0]?.restorable?.snapshotName !== first.snapshotName && statuses;
        }, 60_000);
        // Both ages now count from the second snapshot. Compared with the snapshot's own finish time, not with the age
        // seen while paused: under load its record can land seconds after it finished, when the age has grown past that.
        const second = statusAfter!.restorable!;
        assert.ok(Date.parse(second.finishedAt) > Date.parse(first.finishedAt), `${first.finishedAt} -> ${second.finishedAt}`);
        const sinceSecond = () => (Date.now() - Date.parse(second.finishedAt)) / 1000;
        assert.ok(Math.abs(statusAfter!.ageSeconds! - sinceSecond()) <= 2, `status age ${statusAfter!.ageSeconds} s, ${sinceSecond()} s since ${second.finishedAt}`);
        // The worker counted the run before it wrote the record the status read: its metric already has it.
        const metricAfter = await metricAge();
        assert.ok(Math.abs(metricAfter - sinceSecond()) <= 2, `metric age ${metricAfter} s, ${sinceSecond()} s since ${second.finishedAt}`);
        assert.equal(statusAfter!.overdue, false);
      } finally {
        await removePolicy(target, policy.cluster);
      }
    });
  });

  describe('the CLI', () => {
    const VCSNAP = join(__dirname, '..', '..', 'bin', 'vcsnap.js');
    async function vcsnap(...args: string[]): Promise<{ code: number; stdout: string }> {
      const env = { ...process.env, TEMPORAL_ADDRESS: testEnv().temporal.address, TEMPORAL_NAMESPACE: testEnv().temporal.namespace, VCSNAP_TASK_QUEUE: worker.taskQueue };
      try {
        return { code: 0, stdout: (await promisify(execFile)(process.execPath, [VCSNAP, ...args], { env })).stdout };
      } catch (err) {
        const failed = err as { code: number; stdout: string };
        return { code: failed.code, stdout: failed.stdout };
      }
    }

    it('vcsnap drill runs one now; snapshots shows it as VERIFIED; status shows the cluster recoverable', async () => {
      const target = { client: worker.client, taskQueue: worker.taskQueue };
      const policy = filePolicy({ state: state(), schedule: '0 * * * *' });
      await applyPolicy(target, policy);
      try {
        const snapshotName = await snapshotOf(policy);
        const ref = `${policy.cluster.namespace}/${policy.cluster.name}`;
        const drilled = await vcsnap('drill', ref);
        assert.equal(drilled.code, 0, drilled.stdout);
        assert.match(drilled.stdout, new RegExp(`${ref} ${snapshotName}: passed in [\\d.]+s`));
        assert.match(drilled.stdout, /keys restored and checked, listed through a kube-apiserver/);
        const snapshots = await vcsnap('snapshots', ref);
        assert.match(snapshots.stdout, /VERIFIED/);
        assert.match(snapshots.stdout, new RegExp(`${snapshotName}\\s+Completed.*passed \\d{4}-`));
        const status = await vcsnap('status', ref);
        assert.equal(status.code, 0, status.stdout);
        const [header, row] = status.stdout.trim().split('\n');
        assert.match(header!, /^CLUSTER\s+LAST SUCCESS\s+LAST DRILL\s+RPO AGE\s+INTERVAL\s+RPO/);
        assert.match(row!, new RegExp(`^${ref}\\s+\\d{4}-\\S+Z\\s+passed \\S+Z\\s+\\d+s\\s+1h0m\\s+ok`));
      } finally {
        await removePolicy(target, policy.cluster);
      }
    });
  });

  describe('alert rules and dashboard (deploy/)', () => {
    const ROOT = join(__dirname, '..', '..');
    const RULES = join(ROOT, 'deploy', 'helm', 'vcsnap', 'files', 'alerts.yaml');
    const promtool = (...args: string[]) => execFileSync(toolPath('promtool', 'PROMETHEUS_VERSION'), args, { encoding: 'utf8' });

    it('promtool accepts the rules, and evaluates VclusterRestoreDrillFailed on the series this worker serves: one alert per refused drill', async () => {
      assert.match(promtool('check', 'rules', RULES), /SUCCESS: \d+ rules found/);
      assert.equal(refusedClusters.length, 3, 'the refused drills ran before');
      // The worker's real endpoint, as Prometheus would scrape it, held constant for the test's 10 minutes.
      const series = (await scrape())
        .split('\n')
        .filter((line) => line.startsWith('vcsnap_drill_total{'))
        .map((line) => {
          const [name, value] = [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)];
          return { series: name, values: `${value}+0x10` };
        });
      assert.ok(series.length >= 4, series.map((s) => s.series).join('\n'));
      const dir = mkdtempSync(join(tmpdir(), 'vcsnap-rules-'));
      const expected = refusedClusters.map((ref) => {
        const [namespace, name] = ref.split('/');
        return {
          exp_labels: { severity: 'critical', vcluster: name, vcluster_namespace: namespace, result: 'refused' },
          exp_annotations: { summary: `A restore drill of ${namespace}/${name}: refused` },
        };
      });
      const tests = { rule_files: [RULES], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: series, alert_rule_test: [{ eval_time: '5m', alertname: 'VclusterRestoreDrillFailed', exp_alerts: expected }] }] };
      writeFileSync(join(dir, 'drill.test.yaml'), toYaml(tests));
      try {
        assert.match(promtool('test', 'rules', join(dir, 'drill.test.yaml')), /SUCCESS/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the Grafana dashboard is JSON whose queries name only metrics the worker serves', async () => {
      const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'vcsnap-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
      const served = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
      const titles = dashboard.panels.map((p) => p.title);
      for (const title of ['Fleet: is every cluster recoverable?', 'Recovery point age', 'Snapshot duration (p95)', 'Archive bytes written', 'Snapshot failures']) assert.ok(titles.includes(title), title);
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets) {
          for (const [metric] of expr.matchAll(/vcsnap_\w+/g)) assert.ok(served.has(metric.replace(/_bucket$/, '')), `${panel.title}: ${metric} is not a metric of the worker`);
        }
      }
    });
  });
});
