// deploy/'s least-privilege RBAC on the real kube-apiserver (RBAC authorization on): applied as written, a token of
// its ServiceAccount (TokenRequest API) runs discovery and a snapshot with volumes, retention included; with one verb
// removed the run fails with an error naming that verb and resource. The test plays the CSI snapshot controller
// with the admin credentials.
import { strict as assert } from 'node:assert';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { parseAllDocuments } from 'yaml';
import { readArchiveEntries } from '../../lib/archive/writer';
import { addBoundCsiClaim, addDefaultSnapshotClass } from '../harness/csi-objects';
import { discoverClusters } from '../../lib/kube/discovery';
import type { ClusterRef, SnapshotPolicy, SnapshotStatusView } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker } from '../harness/temporal';
import { FakeCsiSnapshotController } from './fake-csi-snapshot-controller';

const DEPLOY_DIR = join(__dirname, '..', '..', 'deploy');

function manifests(file: string): k8s.KubernetesObject[] {
  return parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8')).map((doc) => doc.toJS() as k8s.KubernetesObject);
}

function byKind<T extends k8s.KubernetesObject>(objects: k8s.KubernetesObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind} expected`);
  return found[0] as T;
}

/** The ClusterRole's rules as `resource -> sorted verbs`. */
function grants(role: k8s.V1ClusterRole): Record<string, string[]> {
  const table: Record<string, string[]> = {};
  for (const rule of role.rules ?? []) for (const resource of rule.resources ?? []) table[resource] = [...(table[resource] ?? []), ...rule.verbs].sort();
  return table;
}

let admin: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let objects: k8s.KubernetesObjectApi;

async function createIgnoringConflict(object: k8s.KubernetesObject): Promise<void> {
  await objects.create(object).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
}

/**
 * Applies deploy/'s ServiceAccount, ClusterRole and binding (renamed with `suffix` for a variant, with `edit` applied
 * to the role) and returns a kube config holding a fresh token of that ServiceAccount.
 */
async function serviceAccountKube(suffix = '', edit: (role: k8s.V1ClusterRole) => void = () => undefined): Promise<k8s.KubeConfig> {
  await createIgnoringConflict(byKind(manifests('namespace.yaml'), 'Namespace'));
  const account = structuredClone(byKind<k8s.V1ServiceAccount>(manifests('serviceaccount.yaml'), 'ServiceAccount'));
  const rbac = manifests('rbac.yaml');
  const role = structuredClone(byKind<k8s.V1ClusterRole>(rbac, 'ClusterRole'));
  const binding = structuredClone(byKind<k8s.V1ClusterRoleBinding>(rbac, 'ClusterRoleBinding'));
  account.metadata!.name += suffix;
  role.metadata!.name += suffix;
  binding.metadata!.name += suffix;
  binding.roleRef.name = role.metadata!.name!;
  assert.equal(binding.subjects?.length, 1);
  binding.subjects[0].name = account.metadata!.name!;
  edit(role);
  for (const object of [account, role, binding]) await objects.create(object);

  const { name, namespace } = account.metadata as { name: string; namespace: string };
  const tokenRequest = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kube = new k8s.KubeConfig();
  kube.loadFromOptions({
    clusters: [{ name: 'test', server: testEnv().kube.server, skipTLSVerify: true }],
    users: [{ name, token: tokenRequest.status!.token }],
    contexts: [{ name: 'test', cluster: 'test', user: name }],
    currentContext: 'test',
  });
  return kube;
}

/** A token of a fresh ServiceAccount given deploy/namespaced/'s RBAC, with `namespace` as its one served namespace. */
async function namespacedServiceAccountKube(namespace: string): Promise<k8s.KubeConfig> {
  await createIgnoringConflict(byKind(manifests('namespace.yaml'), 'Namespace'));
  const account = structuredClone(byKind<k8s.V1ServiceAccount>(manifests('serviceaccount.yaml'), 'ServiceAccount'));
  account.metadata!.name += `-${namespace}`;
  const subject = { kind: 'ServiceAccount', name: account.metadata!.name!, namespace: account.metadata!.namespace! };
  const rbac = [...manifests('namespaced/rbac.yaml')].map((o) => structuredClone(o));
  for (const object of rbac) {
    object.metadata!.name += `-${namespace}`;
    if (object.metadata!.namespace === 'team-a') object.metadata!.namespace = namespace;
    const binding = object as k8s.V1RoleBinding;
    if (binding.roleRef) {
      binding.roleRef.name += `-${namespace}`;
      binding.subjects = [subject];
    }
  }
  await objects.create(account);
  for (const object of rbac) await createIgnoringConflict(object);
  const tokenRequest = await core.createNamespacedServiceAccountToken({ name: subject.name, namespace: subject.namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kube = new k8s.KubeConfig();
  kube.loadFromOptions({
    clusters: [{ name: 'test', server: testEnv().kube.server, skipTLSVerify: true }],
    users: [{ name: subject.name, token: tokenRequest.status!.token }],
    contexts: [{ name: 'test', cluster: 'test', user: subject.name }],
    currentContext: 'test',
  });
  return kube;
}

async function can(kube: k8s.KubeConfig, verb: string, resource: string, namespace?: string, group = '', name?: string): Promise<boolean> {
  const review = await kube.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { verb, resource, group, namespace, name } } },
  });
  return review.status?.allowed ?? false;
}

/** RBAC changes reach the authorizer through an informer: wait until a grant every variant keeps is visible. */
async function untilAuthorized(kube: k8s.KubeConfig): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await can(kube, 'get', 'persistentvolumes'))) {
    if (Date.now() > deadline) throw new Error('the ClusterRoleBinding never took effect');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A vCluster on the host: its namespace, vc-config Secret, a default snapshot class and one bound CSI PVC. */
async function newHostCluster(): Promise<ClusterRef> {
  const cluster = { name: uniqueName('vc'), namespace: uniqueName('rbac') };
  const driver = `${cluster.namespace}.csi.test`;
  const { namespace } = cluster;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: `vc-config-${cluster.name}`, labels: { app: 'vcluster', release: cluster.name } }, stringData: { 'config.yaml': 'snapshots:\n  auto:\n    schedule: "0 * * * *"\n    storage:\n      type: container\n      container:\n        path: /data\n' } },
  });
  await addDefaultSnapshotClass(admin, uniqueName('vsc'), driver);
  await addBoundCsiClaim(admin, cluster, 'data', driver);
  return cluster;
}

async function runSnapshot(kube: k8s.KubeConfig, policy: SnapshotPolicy, nominalTime: string): Promise<SnapshotStatusView> {
  const worker = await startTestWorker({ kube, pollIntervalMs: 100 });
  try {
    const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('rbac'), args: [{ policy, nominalTime }] });
    return await handle.result();
  } finally {
    await worker.stop();
  }
}

describe('deploy/ RBAC on the real kube-apiserver, with a ServiceAccount token', function () {
  const controllers: FakeCsiSnapshotController[] = [];

  before(() => {
    admin = adminKube();
    core = admin.makeApiClient(k8s.CoreV1Api);
    objects = k8s.KubernetesObjectApi.makeApiClient(admin);
  });
  afterEach(async () => {
    for (const controller of controllers.splice(0)) {
      await controller.stop();
      assert.deepEqual(controller.errors, [], 'the fake CSI snapshot controller hit errors');
    }
  });

  async function playCsiController(cluster: ClusterRef): Promise<FakeCsiSnapshotController> {
    const controller = await FakeCsiSnapshotController.start(admin, { namespace: cluster.namespace });
    controllers.push(controller);
    return controller;
  }

  it('grants exactly what the code calls, and nothing it does not', async () => {
    assert.deepEqual(grants(byKind(manifests('rbac.yaml'), 'ClusterRole')), {
      secrets: ['create', 'delete', 'get', 'list'],
      configmaps: ['create', 'delete', 'get'],
      persistentvolumeclaims: ['list'],
      persistentvolumes: ['get'],
      volumesnapshotclasses: ['list'],
      volumesnapshots: ['create', 'delete', 'get'],
      volumesnapshotcontents: ['create', 'delete', 'get', 'patch'],
    });
    const kube = await serviceAccountKube('-review');
    await untilAuthorized(kube);
    assert.equal(await can(kube, 'get', 'secrets', 'kube-system'), true);
    for (const [verb, resource, group] of [
      ['update', 'secrets', ''],
      ['watch', 'secrets', ''],
      ['update', 'configmaps', ''],
      ['delete', 'persistentvolumeclaims', ''],
      ['create', 'pods', ''],
      ['update', 'volumesnapshots', 'snapshot.storage.k8s.io'],
      ['delete', 'volumesnapshotclasses', 'snapshot.storage.k8s.io'],
    ]) {
      assert.equal(await can(kube, verb, resource, 'default', group), false, `${verb} ${resource} must not be granted`);
    }
  });

  it('as written: discovery, a snapshot with volumes (release entry from vc-config) and retention of its CSI snapshot all work', async () => {
    const kube = await serviceAccountKube();
    await untilAuthorized(kube);
    const cluster = await newHostCluster();
    const found = (await discoverClusters(kube)).find((d) => d.cluster.name === cluster.name && d.cluster.namespace === cluster.namespace);
    assert.ok(found?.policy, 'discovery finds the vc-config Secret and its policy');

    const controller = await playCsiController(cluster);
    const policy = filePolicy({
      cluster,
      volumes: { enabled: true, concurrency: 2 },
      retention: { periodDays: 30, maxSnapshots: 1 },
      release: { chartName: 'vcluster', chartVersion: '0.30.0' },
    });
    const first = await runSnapshot(kube, policy, '2026-11-23T12:00:00Z');
    assert.equal(first.status, 'Completed', first.error);
    assert.equal(first.volumes[0]?.phase, 'Completed');
    assert.equal(first.volumes[0]?.snapshotHandle, controller.handles.get('data'));
    const archive = join((policy.storage as { path: string }).path, `${first.snapshotName}.tar.gz`);
    const entries: string[] = [];
    for await (const entry of readArchiveEntries(createReadStream(archive))) entries.push(entry.name);
    assert.equal(entries[0], '/vcluster/snapshot/release', 'the release entry comes from the vc-config Secret read with the token');

    // maxSnapshots 1: the next run prunes the first, releasing its retained CSI snapshot (recreate content, delete).
    await controller.stop();
    const second = await runSnapshot(kube, { ...policy, volumes: { enabled: false, concurrency: 2 } }, '2026-11-23T13:00:00Z');
    assert.equal(second.status, 'Completed', second.error);
    assert.deepEqual(second.retention, { deleted: [first.snapshotName], failed: [] });
  });

  it('namespaced mode (deploy/namespaced/): only the served namespace is discovered and snapshotted; Secrets elsewhere are forbidden', async () => {
    const served = await newHostCluster();
    const other = await newHostCluster();
    const kube = await namespacedServiceAccountKube(served.namespace);
    await untilAuthorized(kube);
    assert.equal(await can(kube, 'get', 'secrets', served.namespace), true);
    assert.equal(await can(kube, 'get', 'secrets', other.namespace), false, 'no Secret outside the served namespaces');
    assert.equal(await can(kube, 'list', 'secrets'), false, 'no cluster-wide Secret listing');
    // Its own namespace: the record key (read, or created on first start), and no other Secret.
    assert.equal(await can(kube, 'get', 'secrets', 'vcsnap', '', 'vcsnap-record-key'), true);
    assert.equal(await can(kube, 'create', 'secrets', 'vcsnap'), true);
    assert.equal(await can(kube, 'get', 'secrets', 'vcsnap', '', 'another-secret'), false, 'no other Secret of its own namespace');
    await assert.rejects(discoverClusters(kube), /forbidden|403/i, 'cluster-wide discovery is refused in this mode');
    const found = await discoverClusters(kube, 'auto', undefined, [served.namespace]);
    assert.deepEqual(found.map((d) => d.cluster), [served], 'discovery sees the served namespace only');

    await playCsiController(served);
    const policy = filePolicy({ cluster: served, volumes: { enabled: true, concurrency: 2 } });
    const view = await runSnapshot(kube, policy, '2026-11-23T12:00:00Z');
    assert.equal(view.status, 'Completed', view.error);
    assert.equal(view.volumes[0]?.phase, 'Completed');
  });

  const removals = [
    { verb: 'create', resource: 'volumesnapshots', message: (ns: string) => `forbidden: cannot create volumesnapshots.snapshot.storage.k8s.io in namespace ${ns}` },
    { verb: 'list', resource: 'persistentvolumeclaims', message: (ns: string) => `forbidden: cannot list persistentvolumeclaims in namespace ${ns}` },
    { verb: 'patch', resource: 'volumesnapshotcontents', message: () => 'forbidden: cannot patch volumesnapshotcontents.snapshot.storage.k8s.io' },
  ];
  for (const removal of removals) {
    it(`without ${removal.verb} on ${removal.resource}: the run fails with an error naming it`, async () => {
      const kube = await serviceAccountKube(`-no-${removal.verb}-${removal.resource}`, (role) => {
        const rule = role.rules?.find((r) => r.resources?.includes(removal.resource));
        assert.ok(rule && rule.verbs.includes(removal.verb), `deploy/rbac.yaml grants ${removal.verb} on ${removal.resource}`);
        rule.verbs = rule.verbs.filter((v) => v !== removal.verb);
        // A rule must keep at least one verb.
        role.rules = role.rules?.filter((r) => r.verbs.length > 0);
      });
      await untilAuthorized(kube);
      const cluster = await newHostCluster();
      await playCsiController(cluster);
      const policy = filePolicy({ cluster, volumes: { enabled: true, concurrency: 2 } });
      await assert.rejects(runSnapshot(kube, policy, '2026-11-23T12:00:00Z'), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(String(err.cause?.message).includes(removal.message(cluster.namespace)), String(err.cause?.message));
        return true;
      });
    });
  }
});
