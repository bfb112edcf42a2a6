// The Helm chart (deploy/helm/vcsnap) with the pinned helm (built by scripts/install-servers.sh): lint, schema
// refusals naming the value, deploy/ as its rendering (one source of truth), and its manifests created on the real
// kube-apiserver in both RBAC scopes. The RBAC itself is exercised by rbac.test.ts through deploy/, which is this
// chart rendered.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CHART, helm, renderedDeploy } from '../../scripts/render-deploy';
import { toolPath } from '../../scripts/servers/process';
import { uniqueName } from '../harness/fixtures';
import { adminKube } from '../harness/temporal';

const ROOT = join(__dirname, '..', '..');

/** helm's exit status and stderr. */
function helmFails(...args: string[]): string {
  try {
    helm(...args);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  assert.fail(`helm ${args.join(' ')} succeeded`);
}

function template(release: string, namespace: string, ...set: string[]): k8s.KubernetesObject[] {
  const output = helm('template', release, CHART, '--namespace', namespace, ...set.flatMap((value) => ['--set', value]));
  return parseAllDocuments(output)
    .map((doc) => doc.toJS() as k8s.KubernetesObject | null)
    .filter((o): o is k8s.KubernetesObject => o !== null);
}

describe('Helm chart (deploy/helm/vcsnap)', function () {
  this.timeout(120_000);

  it('passes helm lint with the default values and in the namespaced scope', () => {
    assert.match(helm('lint', CHART), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.match(helm('lint', CHART, '--set', 'rbac.scope=namespaced', '--set', 'rbac.namespaces={team-a,team-b}'), /0 chart\(s\) failed/);
  });

  it('refuses a wrong value at install, naming it', () => {
    assert.match(helmFails('template', 'x', CHART, '--set', 'worker.maxConcurrentDumps=-1'), /at '\/worker\/maxConcurrentDumps': minimum: got -1, want 1/);
    assert.match(helmFails('template', 'x', CHART, '--set', 'rbac.scope=namespaced'), /at '\/rbac\/namespaces': minItems: got 0, want 1/);
    assert.match(helmFails('template', 'x', CHART, '--set', 'rbac.scope=everywhere'), /at '\/rbac\/scope'/);
    assert.match(helmFails('template', 'x', CHART, '--set', 'temporal.address=http://temporal:7233'), /at '\/temporal\/address'/);
    assert.match(helmFails('template', 'x', CHART, '--set', 'worker.replicaz=3'), /additional properties 'replicaz' not allowed/);
  });

  it('deploy/ is this chart rendered, byte for byte (npm run render-deploy)', () => {
    for (const [file, content] of renderedDeploy()) {
      assert.equal(readFileSync(join(ROOT, 'deploy', file), 'utf8'), content, `deploy/${file} differs from the chart: run npm run render-deploy`);
    }
  });

  it('probes the worker on /livez and /readyz, sized per dump, with a PDB and a NetworkPolicy', () => {
    const objects = template('vcsnap', 'vcsnap');
    const deployment = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
    const container = deployment.spec!.template.spec!.containers[0];
    assert.equal(container.livenessProbe?.httpGet?.path, '/livez');
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(container.resources?.requests?.cpu, '1');
    assert.equal(deployment.spec!.template.spec!.terminationGracePeriodSeconds, 120);
    assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget'));
    assert.ok(objects.some((o) => o.kind === 'NetworkPolicy'));
    assert.ok(!objects.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule'), 'no monitoring objects without the Prometheus Operator CRDs');
  });

  it('sets the drill and alert settings on the worker (the drill interval on the sync job too); namespaced mode may read the webhook Secret and the record key, no other Secret of its namespace', () => {
    const env = (objects: k8s.KubernetesObject[], kind: string) => {
      const pod = kind === 'CronJob' ? (objects.find((o) => o.kind === kind) as k8s.V1CronJob).spec!.jobTemplate.spec!.template.spec! : (objects.find((o) => o.kind === kind) as k8s.V1Deployment).spec!.template.spec!;
      return Object.fromEntries((pod.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    };
    const defaults = template('vcsnap', 'vcsnap');
    assert.equal(env(defaults, 'Deployment').VCSNAP_DRILL_INTERVAL, '168h');
    assert.equal(env(defaults, 'Deployment').VCSNAP_RECOVERY_POINT_CHECK, '5m');
    assert.equal(env(defaults, 'Deployment').VCSNAP_ALERT_WEBHOOK_SECRET, undefined, 'no notifications unless a Secret is named');
    assert.equal(env(defaults, 'Deployment').VCSNAP_DRILL_ETCD, undefined, "the image's etcd (its ENV)");
    const set = ['alerts.webhookSecret=vcsnap-alerts', 'alerts.recoveryPointCheck=off', 'drills.interval=24h', 'drills.etcdEndpoint=http://drill-etcd:2379', 'drills.kubeApiserver=/opt/kubernetes/kube-apiserver'];
    const objects = template('vcsnap', 'ops', 'rbac.scope=namespaced', 'rbac.namespaces={team-a}', ...set);
    assert.deepEqual(
      Object.fromEntries(Object.entries(env(objects, 'Deployment')).filter(([name]) => /DRILL|ALERT|RECOVERY/.test(name))),
      {
        VCSNAP_DRILL_INTERVAL: '24h',
        VCSNAP_RECOVERY_POINT_CHECK: 'off',
        VCSNAP_DRILL_ETCD_ENDPOINT: 'http://drill-etcd:2379',
        VCSNAP_DRILL_KUBE_APISERVER: '/opt/kubernetes/kube-apiserver',
        VCSNAP_ALERT_WEBHOOK_SECRET: 'ops/vcsnap-alerts',
      },
    );
    assert.equal(env(objects, 'CronJob').VCSNAP_DRILL_INTERVAL, '24h');
    assert.equal(env(objects, 'CronJob').VCSNAP_ALERT_WEBHOOK_SECRET, undefined);
    const own = objects.find((o) => o.kind === 'Role' && o.metadata?.namespace === 'ops') as k8s.V1Role;
    assert.deepEqual(own.rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['vcsnap-record-key', 'vcsnap-alerts'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    assert.match(helmFails('template', 'x', CHART, '--set', 'drills.interval=weekly'), /at '\/drills\/interval'/);
    assert.match(helmFails('template', 'x', CHART, '--set', 'alerts.webhookSecret=ops/hook'), /at '\/alerts\/webhookSecret'/);
  });

  it('adds a ServiceMonitor and the alert rules when the Prometheus Operator is there; promtool accepts the rules', () => {
    const output = helm('template', 'vcsnap', CHART, '--namespace', 'vcsnap', '--api-versions', 'monitoring.coreos.com/v1');
    const monitoring = parseAllDocuments(output).map((doc) => doc.toJS() as k8s.KubernetesObject).filter(Boolean);
    assert.ok(monitoring.some((o) => o.kind === 'ServiceMonitor'));
    const rule = monitoring.find((o) => o.kind === 'PrometheusRule') as k8s.KubernetesObject & { spec: { groups: Array<{ rules: unknown[] }> } };
    assert.ok(rule.spec.groups[0].rules.length >= 4);
    const checked = execFileSync(toolPath('promtool', 'PROMETHEUS_VERSION'), ['check', 'rules', join(CHART, 'files', 'alerts.yaml')], { encoding: 'utf8' });
    assert.match(checked, /SUCCESS: \d+ rules found/);
  });

  for (const scope of ['cluster', 'namespaced'] as const) {
    it(`its manifests are created on the real kube-apiserver (${scope} scope)`, async () => {
      const release = uniqueName('helm');
      const namespace = uniqueName('vcsnap');
      const served = uniqueName('team');
      const api = k8s.KubernetesObjectApi.makeApiClient(adminKube());
      for (const name of [namespace, served]) await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      const objects = template(release, namespace, `rbac.scope=${scope}`, ...(scope === 'namespaced' ? [`rbac.namespaces={${served}}`] : []));
      for (const object of objects) await api.create(object);
      const kinds = objects.map((o) => `${o.kind}/${o.metadata?.namespace ?? ''}`);
      if (scope === 'namespaced') assert.ok(kinds.includes(`Role/${served}`) && kinds.includes(`RoleBinding/${served}`), kinds.join(' '));
      else assert.ok(kinds.includes('ClusterRole/') && !kinds.includes(`Role/${served}`), kinds.join(' '));
      const deployment = await api.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `${release}-vcsnap-worker`, namespace } });
      assert.equal((deployment as k8s.V1Deployment).spec?.replicas, 2);
    });
  }
});
