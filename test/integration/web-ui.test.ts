// What an operator sees in the Temporal Web UI: Debian's chromium (driven by playwright-core) opens a dev server's
// UI, finds the demo schedule with its completed run, then the run with its SnapshotStatus and current details, then
// the restore drill of that snapshot with its outcome, and saves screenshots under the test run directory. The harness's server is headless, so this test starts its own.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { runDrill } from '../../client/drill';
import { applyPolicy, triggerNow } from '../../lib/schedules';
import { etcdBinary } from '../../scripts/servers/etcd';
import { startTemporal, type TemporalServer } from '../../scripts/servers/temporal';
import { scheduleIdFor } from '../../contracts/naming';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { basePolicy } from '../harness/fixtures';
import { adminKube, describeWhilePolling, startTestWorker, type TestWorker } from '../harness/temporal';

const CHROMIUM = '/usr/bin/chromium';
const DEMO = { name: 'demo', namespace: 'vcluster-demo' };

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`      screenshot: ${path}`);
  return path;
}

describe('Temporal Web UI (chromium via playwright-core)', function () {
  this.timeout(240_000);
  let dir: string;
  let temporal: TemporalServer;
  let worker: TestWorker;
  let browser: BrowserContext;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
    dir = join(testEnv().runDir, 'web-ui');
    mkdirSync(dir, { recursive: true });
    temporal = await startTemporal({ dir, ui: true });
    worker = await startTestWorker({ drillEtcdBinary: etcdBinary() }, { address: temporal.address, namespace: temporal.namespace });
    browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 1000 },
    });
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
    await temporal?.stop();
  });

  it('shows the demo schedule, its completed run, the run status and current details', async () => {
    // The harness kube-apiserver's etcd, with the demo's ConfigMaps written through the API: every value is a
    // Kubernetes object, as the drill at the end wants.
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: DEMO.namespace } } });
    for (let i = 0; i < 20; i++) await core.createNamespacedConfigMap({ namespace: DEMO.namespace, body: { metadata: { name: `sample-${i}` }, data: { value: `value-${i}` } } });
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    const state = { endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' as const };
    const policy = basePolicy({ type: 'container', path: join(dir, 'snapshots') }, { cluster: DEMO, schedule: '*/5 * * * *', state });
    assert.equal(await applyPolicy(target, policy), 'created');
    await triggerNow(target, DEMO);
    const scheduleId = scheduleIdFor(DEMO);
    const schedule = worker.client.schedule.getHandle(scheduleId);
    const action = await eventually('the trigger to start a run', async () => (await describeWhilePolling(schedule))?.info.recentActions[0]?.action.workflow, 30_000);
    const run = worker.client.workflow.getHandle(action.workflowId, action.firstExecutionRunId);
    const view = await run.result();
    assert.equal(view.status, 'Completed');
    assert.ok(view.keysWritten >= 20);

    const page = await browser.newPage();
    const ui = `${temporal.uiUrl}/namespaces/${temporal.namespace}`;
    // The UI renders user markdown (summary, current details) in iframes: read every frame's text.
    const pageText = async () => (await Promise.all(page.frames().map((frame) => frame.locator('body').innerText().catch(() => '')))).join('\n');
    const shows = async (pattern: RegExp) => {
      let text = '';
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await page.waitForTimeout(250)) {
        text = await pageText();
        if (pattern.test(text)) return;
      }
      assert.match(text, pattern);
    };

    // The schedule, with the triggered run completed under Recent Runs.
    await page.goto(`${ui}/schedules/${encodeURIComponent(scheduleId)}`);
    await shows(new RegExp(`${escaped(scheduleId)}\\s+Running[\\s\\S]*Recent Runs[\\s\\S]*?Completed\\s+${escaped(action.workflowId)}`));
    await screenshot(page, dir, 'web-ui-schedule');

    // The run: status and result, then its current details and search attributes.
    await page.goto(`${ui}/workflows/${encodeURIComponent(action.workflowId)}/${action.firstExecutionRunId}/history`);
    await shows(new RegExp(`Completed\\s+${escaped(action.workflowId)}[\\s\\S]*"snapshotName": "${view.snapshotName}"`));
    await screenshot(page, dir, 'web-ui-run');
    await page.getByText('User Metadata', { exact: true }).click();
    await shows(new RegExp(`Completed \\(done\\) — ${DEMO.namespace}/${DEMO.name}\\s+snapshot:\\s+${view.snapshotName}[\\s\\S]*written: ${view.keysWritten} keys`));
    await screenshot(page, dir, 'web-ui-run-current-details');
    await page.getByText('Search Attributes', { exact: true }).click();
    await shows(/"SnapshotStatus": "Completed"[\s\S]*"VclusterName": "demo",\s+"VclusterNamespace": "vcluster-demo"/);
    await screenshot(page, dir, 'web-ui-run-search-attributes');

    // Operators find it by the product's search attributes (a slow machine may have fired the schedule again by now:
    // the list may hold more than this run, all Completed).
    await page.goto(`${ui}/workflows?query=${encodeURIComponent('VclusterName="demo" AND SnapshotStatus="Completed"')}`);
    await shows(new RegExp(`\\d+\\s+(Workflows?|Completed)[\\s\\S]*Completed\\s+${escaped(action.workflowId)}`));
    await screenshot(page, dir, 'web-ui-list');

    // A restore drill of that snapshot: its outcome, time, duration and objects per resource in the run's details,
    // naming the snapshot run it proves restorable; listed with the cluster's snapshot runs.
    const drill = await runDrill(target, policy);
    assert.equal(drill.outcome, 'passed', drill.reason);
    assert.equal(drill.snapshotName, view.snapshotName);
    const drillRun = await worker.client.workflow.getHandle(drill.workflowId!).describe();
    await page.goto(`${ui}/workflows/${encodeURIComponent(drillRun.workflowId)}/${drillRun.runId}/history`);
    await shows(new RegExp(`Completed\\s+${escaped(drillRun.workflowId)}[\\s\\S]*"outcome": "passed"`));
    await page.getByText('User Metadata', { exact: true }).click();
    await shows(
      new RegExp(
        `passed — restore drill of ${DEMO.namespace}/${DEMO.name}\\s+snapshot:\\s+${view.snapshotName}\\s+snapshot run:\\s+${escaped(action.workflowId)}[\\s\\S]*` +
          `verifiedAt: ${escaped(drill.verifiedAt)}\\s+duration: ${drill.durationSeconds}s\\s+keys: ${drill.keys} restored and checked[\\s\\S]*` +
          `resource\\s+objects[\\s\\S]*ConfigMap\\s+${drill.objects!.ConfigMap}`,
      ),
    );
    assert.ok(drill.objects!.ConfigMap! >= 20, `ConfigMaps counted: ${drill.objects!.ConfigMap}`);
    await screenshot(page, dir, 'web-ui-drill-details');
    await page.goto(`${ui}/workflows?query=${encodeURIComponent('VclusterName="demo" AND VclusterNamespace="vcluster-demo"')}`);
    await shows(new RegExp(`Completed\\s+${escaped(drillRun.workflowId)}[\\s\\S]*Completed\\s+${escaped(action.workflowId)}`));
    await screenshot(page, dir, 'web-ui-list-with-drill');
  });
});
