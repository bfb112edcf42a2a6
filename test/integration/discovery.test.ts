// Discovery of vc-config-<name> Secrets on the real kube-apiserver, and sync run by the worker (syncWorkflow), the
// way the `vcsnap-sync` schedule runs it.
import { strict as assert } from 'node:assert';
import * as k8s from '@kubernetes/client-node';
import { discoverClusters } from '../../lib/kube/discovery';
import { SYNC_SCHEDULE_ID, listPolicies, removePolicy, scheduleSync } from '../../lib/schedules';
import { scheduleIdFor } from '../../contracts/naming';
import { syncWorkflow } from '../../workflows';
import { uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const VALID = ['snapshots:', '  auto:', '    schedule: "@hourly"', '    storage:', '      type: container', '      container:', '        path: /snapshots', ''].join('\n');
const DISABLED = ['external:', '  platform:', '    autoSnapshot:', '      enabled: false', '      schedule: "@hourly"', ''].join('\n');
const INVALID = ['snapshots:', '  auto:', '    schedule: "every day"', '    storage:', '      type: container', '      container:', '        path: /snapshots', ''].join('\n');

describe('discovery and sync', function () {
  this.timeout(120_000);
  let worker: TestWorker;
  const namespace = uniqueName('discovery');
  const names = { valid: uniqueName('valid'), disabled: uniqueName('off'), invalid: uniqueName('bad') };

  before(async () => {
    worker = await startTestWorker();
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const secret = (name: string, config: string, labels: Record<string, string> = { app: 'vcluster', release: name }) =>
      core.createNamespacedSecret({ namespace, body: { metadata: { name: `vc-config-${name}`, labels }, stringData: { 'config.yaml': config } } });
    await secret(names.valid, VALID, { app: 'vcluster', release: names.valid, chart: 'vcluster-0.30.0' });
    await secret(names.disabled, DISABLED);
    await secret(names.invalid, INVALID);
    // Not a vCluster config: wrong label, or not a vc-config- name.
    await secret(uniqueName('unlabelled'), VALID, { app: 'other' });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'something-else', labels: { app: 'vcluster' } }, stringData: { 'config.yaml': VALID } } });
  });
  after(async () => worker.stop());

  it('turns each vc-config Secret into a policy, "no policy", or an error naming the field', async () => {
    const found = (await discoverClusters(adminKube())).filter((d) => d.cluster.namespace === namespace);
    assert.deepEqual(found.map((d) => d.cluster.name).sort(), Object.values(names).sort());
    const byName = new Map(found.map((d) => [d.cluster.name, d]));
    const valid = byName.get(names.valid)!;
    assert.equal(valid.policy?.schedule, '@hourly');
    assert.deepEqual(valid.policy?.release, { chartName: 'vcluster', chartVersion: '0.30.0' });
    assert.equal(byName.get(names.disabled)!.policy, null);
    assert.equal(byName.get(names.disabled)!.reason, 'disabled');
    assert.match(byName.get(names.invalid)!.error ?? '', /snapshots\.auto\.schedule: /);
  });

  it('syncWorkflow on the worker creates the valid schedule only, and scheduleSync installs the sync schedule', async () => {
    const report = await worker.client.workflow.execute(syncWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('sync'), args: [{ taskQueue: worker.taskQueue }] });
    const validId = scheduleIdFor({ name: names.valid, namespace });
    assert.ok(report.created.includes(validId) || report.unchanged.includes(validId));
    assert.ok(report.invalid.some((i) => i.scheduleId === scheduleIdFor({ name: names.invalid, namespace })));
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    const description = await worker.client.schedule.getHandle(validId).describe();
    assert.equal((description.memo as { origin?: string } | undefined)?.origin, 'discovery');
    await assert.rejects(worker.client.schedule.getHandle(scheduleIdFor({ name: names.disabled, namespace })).describe(), /not found/i);

    assert.equal(await scheduleSync(target, '*/10 * * * *'), 'created');
    assert.equal(await scheduleSync(target, '*/5 * * * *'), 'updated');
    const syncSchedule = await worker.client.schedule.getHandle(SYNC_SCHEDULE_ID).describe();
    assert.equal((syncSchedule.action as { workflowType: string }).workflowType, 'syncWorkflow');
    assert.ok(!(await listPolicies(target)).some((p) => p.scheduleId === SYNC_SCHEDULE_ID), 'the sync schedule is not a cluster policy');
    await worker.client.schedule.getHandle(SYNC_SCHEDULE_ID).delete();
    await removePolicy(target, { name: names.valid, namespace });
  });
});
