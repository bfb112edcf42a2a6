// Volume snapshots end to end on the real kube-apiserver (with the CSI snapshot CRDs) and the real Temporal server.
// There is no CSI driver, so the test plays the CSI snapshot controller (fake-csi-snapshot-controller.ts).
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { DEFAULT_CLASS_ANNOTATION, MANAGED_BY_LABEL, SNAPSHOT_CLASS_LABEL, volumeSnapshotNameFor } from '../../lib/kube/csi';
import { statusQuery, type ClusterRef, type SnapshotRecord, type SnapshotPolicy, type SnapshotStatusView, type VolumeResult } from '../../contracts/definitions';
import { snapshotWorkflow, volumeSnapshotWorkflow } from '../../workflows';
import { volumeWorkflowIdFor } from '../../contracts/naming';
import type { PlannedVolume } from '../../contracts/volume';
import { testEnv } from '../harness/env';
import { eventually } from '../harness/eventually';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';
import { FakeCsiSnapshotController, type FakeCsiSnapshotControllerOptions } from './fake-csi-snapshot-controller';
import { createDumpWorker, runWorkers } from '../../worker/dump-worker';

const SNAPSHOT_API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;
const NOMINAL_TIME = '2026-11-23T12:00:00Z';
// Set in `before`: the harness writes the API server's address only once its global setup has run.
let kube: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

// ---- Host-cluster fixtures: one namespace (= one vCluster) and one CSI driver name per test ----

interface HostCluster {
  cluster: ClusterRef;
  driver: string;
}

async function newHostCluster(): Promise<HostCluster> {
  const namespace = uniqueName('vols');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  return { cluster: { name: uniqueName('vc'), namespace }, driver: `${namespace}.csi.test` };
}

async function addSnapshotClass(driver: string, opts: { name?: string; isDefault?: boolean } = {}): Promise<string> {
  const name = opts.name ?? uniqueName('vsc');
  await custom.createClusterCustomObject({
    ...SNAPSHOT_API,
    plural: 'volumesnapshotclasses',
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name, annotations: opts.isDefault === false ? {} : { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
      driver,
      deletionPolicy: 'Delete',
    },
  });
  return name;
}

/** A vCluster-synced PVC: bound to a CSI PV of `driver` by default; `driver: null` makes a hostPath PV. */
async function addPvc(host: HostCluster, name: string, opts: { driver?: string | null; bound?: boolean; labels?: Record<string, string> } = {}): Promise<void> {
  const { namespace } = host.cluster;
  const bound = opts.bound ?? true;
  const pvName = `${namespace}-${name}`;
  if (bound) {
    const driver = opts.driver === undefined ? host.driver : opts.driver;
    await core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          ...(driver ? { csi: { driver, volumeHandle: `vol-${name}` } } : { hostPath: { path: `/data/${name}` } }),
        },
      },
    });
  }
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name, labels: { [MANAGED_BY_LABEL]: host.cluster.name, ...opts.labels } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', ...(bound ? { volumeName: pvName } : {}) },
    },
  });
  // No PV controller runs here: bind the claim the way it would.
  if (bound) await core.patchNamespacedPersistentVolumeClaimStatus({ name, namespace, body: { status: { phase: 'Bound' } } }, mergePatch);
}

async function leftovers(namespace: string): Promise<{ snapshots: string[]; contents: string[] }> {
  const snapshots = (await custom.listNamespacedCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshots', namespace })) as { items: { metadata: { name: string } }[] };
  const contents = (await custom.listClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents' })) as {
    items: { metadata: { name: string }; spec: { volumeSnapshotRef: { namespace: string } } }[];
  };
  return {
    snapshots: snapshots.items.map((s) => s.metadata.name),
    contents: contents.items.filter((c) => c.spec.volumeSnapshotRef.namespace === namespace).map((c) => c.metadata.name),
  };
}

function recordOf(policy: SnapshotPolicy): SnapshotRecord {
  const snapshotName = `${policy.cluster.name}-2026-11-23T12-00-00Z`;
  return JSON.parse(readFileSync(join((policy.storage as { path: string }).path, `${snapshotName}.json`), 'utf8')) as SnapshotRecord;
}

const byPvc = (volumes: VolumeResult[]) => Object.fromEntries(volumes.map((v) => [v.pvc, v]));

describe('volume snapshots (real kube-apiserver; the test plays the CSI snapshot controller)', function () {
  let worker: TestWorker;
  const controllers: FakeCsiSnapshotController[] = [];

  before(async () => {
    kube = adminKube();
    core = kube.makeApiClient(k8s.CoreV1Api);
    custom = kube.makeApiClient(k8s.CustomObjectsApi);
    worker = await startTestWorker({ pollIntervalMs: 100 });
  });
  afterEach(async () => {
    for (const controller of controllers.splice(0)) {
      await controller.stop();
      assert.deepEqual(controller.errors, [], 'the fake CSI snapshot controller hit errors');
    }
  });
  after(async () => {
    await worker?.stop();
  });

  async function playCsiController(host: HostCluster, options: Omit<FakeCsiSnapshotControllerOptions, 'namespace'> = {}): Promise<FakeCsiSnapshotController> {
    const controller = await FakeCsiSnapshotController.start(kube, { namespace: host.cluster.namespace, ...options });
    controllers.push(controller);
    return controller;
  }

  function startSnapshot(host: HostCluster, concurrency = 10) {
    const policy = filePolicy({ cluster: host.cluster, volumes: { enabled: true, concurrency } });
    const workflowId = uniqueName('vol-snapshot');
    const started = worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId, args: [{ policy, nominalTime: NOMINAL_TIME }] });
    return { policy, workflowId, started };
  }

  function runVolume(host: HostCluster, volume: Omit<PlannedVolume, 'namespace'>, extra: { readyTimeoutSeconds?: number } = {}) {
    return worker.client.workflow.start(volumeSnapshotWorkflow, {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('vol-child'),
      args: [{ cluster: host.cluster, snapshotName: `${host.cluster.name}-2026-11-23T12-00-00Z`, volume: { ...volume, namespace: host.cluster.namespace }, ...extra }],
    });
  }

  it('a cluster without PVCs completes with no volumes', async () => {
    const host = await newHostCluster();
    const view = await (await startSnapshot(host).started).result();
    assert.equal(view.status, 'Completed');
    assert.deepEqual(view.volumes, []);
  });

  it('three healthy PVCs: Completed, three handles recorded, nothing left in the API server', async () => {
    const host = await newHostCluster();
    const className = await addSnapshotClass(host.driver);
    for (const pvc of ['data-c', 'data-a', 'data-b']) await addPvc(host, pvc);
    const controller = await playCsiController(host);
    const { policy, started } = startSnapshot(host);
    const view = await (await started).result();

    assert.equal(view.status, 'Completed');
    assert.deepEqual(view.volumes.map((v) => v.pvc), ['data-a', 'data-b', 'data-c']);
    for (const volume of view.volumes) {
      assert.equal(volume.phase, 'Completed');
      assert.equal(volume.snapshotHandle, controller.handles.get(volume.pvc));
      assert.equal(volume.driver, host.driver);
      assert.equal(volume.volumeSnapshotClass, className);
      assert.equal(volume.restoreSize, '1Gi');
      assert.deepEqual(volume.pvcSpec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeMode: 'Filesystem' });
    }
    const record = recordOf(policy);
    assert.equal(record.status, 'Completed');
    assert.deepEqual(record.volumes.map((v) => v.snapshotHandle).sort(), [...controller.handles.values()].sort());
    assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
  });

  it('one PVC whose content reports a CSI error: PartiallyFailed with that PVC and reason', async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    for (const pvc of ['db', 'logs', 'web']) await addPvc(host, pvc);
    await playCsiController(host, { failContent: { logs: 'rpc error: code = Internal desc = disk on fire' } });
    const { policy, started } = startSnapshot(host);
    const view = await (await started).result();

    assert.equal(view.status, 'PartiallyFailed');
    assert.match(view.error ?? '', /^1 of 3 volume snapshots failed: logs: .*disk on fire/);
    const volumes = byPvc(view.volumes);
    assert.equal(volumes.logs.phase, 'Failed');
    assert.match(volumes.logs.reason ?? '', /disk on fire/);
    assert.equal(volumes.db.phase, 'Completed');
    assert.equal(recordOf(policy).status, 'PartiallyFailed');
    assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
  });

  it('every PVC failing: Failed, no archive, each reason recorded', async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    for (const pvc of ['a', 'b']) await addPvc(host, pvc);
    await playCsiController(host, { failContent: { a: 'quota exceeded' }, failSnapshot: { b: 'snapshot controller says no' } });
    const { policy, started } = startSnapshot(host);
    await assert.rejects((await started).result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /2 of 2 volume snapshots failed/);
      return true;
    });
    const record = recordOf(policy);
    assert.equal(record.status, 'Failed');
    const volumes = byPvc(record.volumes);
    assert.match(volumes.a.reason ?? '', /quota exceeded/);
    assert.match(volumes.b.reason ?? '', /snapshot controller says no/);
    assert.equal(existsSync(join((policy.storage as { path: string }).path, `${record.snapshotName}.tar.gz`)), false, 'no archive');
    assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
  });

  it('unbound, non-CSI and class-less PVCs are Skipped with distinct reasons', async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    await addPvc(host, 'healthy');
    await addPvc(host, 'pending', { bound: false });
    await addPvc(host, 'hostpath', { driver: null });
    await addPvc(host, 'classless', { driver: `other-${host.driver}` });
    await addPvc(host, 'wrong-label', { labels: { [SNAPSHOT_CLASS_LABEL]: 'no-such-class' } });
    await playCsiController(host);
    const view = await (await startSnapshot(host).started).result();

    assert.equal(view.status, 'Completed');
    const volumes = byPvc(view.volumes);
    assert.equal(volumes.healthy.phase, 'Completed');
    const skipped = ['pending', 'hostpath', 'classless', 'wrong-label'].map((pvc) => volumes[pvc]);
    for (const volume of skipped) assert.equal(volume.phase, 'Skipped', volume.pvc);
    assert.match(volumes.pending.reason ?? '', /not bound to a volume \(phase Pending\)/);
    assert.match(volumes.hostpath.reason ?? '', /is not a CSI volume \(hostPath\)/);
    assert.match(volumes.classless.reason ?? '', /no VolumeSnapshotClass for CSI driver other-/);
    assert.match(volumes['wrong-label'].reason ?? '', /VolumeSnapshotClass no-such-class .* not found/);
    assert.equal(new Set(skipped.map((v) => v.reason)).size, skipped.length);
  });

  it('50 PVCs with concurrency 10: never more than 10 VolumeSnapshots in flight, all complete', async function () {
    this.timeout(300_000);
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    const names = Array.from({ length: 50 }, (_, i) => `data-${String(i).padStart(2, '0')}`);
    for (let i = 0; i < names.length; i += 10) await Promise.all(names.slice(i, i + 10).map((pvc) => addPvc(host, pvc)));
    const controller = await playCsiController(host, { readyAfterMs: 300 });
    const view = await (await startSnapshot(host, 10).started).result();

    assert.equal(view.status, 'Completed');
    assert.equal(view.volumes.filter((v) => v.phase === 'Completed').length, 50);
    assert.equal(controller.creations.size, 50);
    assert.ok(controller.maxInFlight <= 10, `saw ${controller.maxInFlight} VolumeSnapshots at once`);
    assert.ok(controller.maxInFlight >= 5, `children should run in parallel (saw at most ${controller.maxInFlight})`);
    assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
  });

  it('status shows each PVC phase during a run; cancelling the parent cancels the children and removes their VolumeSnapshots', async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    for (const pvc of ['a', 'b', 'c']) await addPvc(host, pvc);
    const controller = await playCsiController(host, { hold: ['a', 'b', 'c'] });
    const { started } = startSnapshot(host, 2);
    const handle = await started;
    await eventually('two VolumeSnapshots in flight', () => controller.inFlight.size === 2);
    const during = await handle.query(statusQuery);
    assert.equal(during.status, 'InProgress');
    assert.deepEqual(during.volumes.map((v) => v.phase), ['InProgress', 'InProgress', 'NotStarted']);

    await handle.cancel();
    await handle.result().catch(() => undefined);
    await eventually('the VolumeSnapshots to be removed', async () => (await leftovers(host.cluster.namespace)).snapshots.length === 0);
    for (const pvc of ['a', 'b']) {
      const child = worker.client.workflow.getHandle(volumeWorkflowIdFor(handle.workflowId, pvc));
      await eventually(`child ${pvc} to close`, async () => (await child.describe()).status.name !== 'RUNNING');
      assert.equal((await child.describe()).status.name, 'CANCELLED', pvc);
    }
  });

  it('a snapshot that never becomes ready fails at its deadline with a timeout reason and is cleaned up', async () => {
    const host = await newHostCluster();
    const className = await addSnapshotClass(host.driver);
    await addPvc(host, 'stuck');
    await playCsiController(host, { hold: ['stuck'] });
    const result = await (await runVolume(host, { pvc: 'stuck', driver: host.driver, volumeSnapshotClass: className }, { readyTimeoutSeconds: 2 })).result();
    assert.equal(result.phase, 'Failed');
    assert.match(result.reason ?? '', /not ready after 2s/);
    assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
  });

  it("the worker's ready timeout (VCSNAP_VOLUME_READY_TIMEOUT) bounds the wait of a scheduled run", async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    for (const pvc of ['stuck', 'fine']) await addPvc(host, pvc);
    await playCsiController(host, { hold: ['stuck'] });
    const impatient = await startTestWorker({ pollIntervalMs: 100, volumeReadyTimeoutSeconds: 3 });
    try {
      const policy = filePolicy({ cluster: host.cluster, volumes: { enabled: true, concurrency: 2 } });
      const handle = await impatient.client.workflow.start(snapshotWorkflow, { taskQueue: impatient.taskQueue, workflowId: uniqueName('vol-timeout'), args: [{ policy, nominalTime: NOMINAL_TIME }] });
      const view = await handle.result();
      assert.equal(view.status, 'PartiallyFailed');
      const volumes = byPvc(view.volumes);
      assert.equal(volumes.fine.phase, 'Completed');
      assert.equal(volumes.stuck.phase, 'Failed');
      assert.match(volumes.stuck.reason ?? '', /not ready after 3s: still waiting for a bound VolumeSnapshotContent/);
      assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
    } finally {
      await impatient.stop();
    }
  });

  it('the parent status shows CompletedCleaningUp and FailedCleaningUp while the children clean up', async () => {
    const host = await newHostCluster();
    await addSnapshotClass(host.driver);
    for (const pvc of ['db', 'logs']) await addPvc(host, pvc);
    await playCsiController(host, { failContent: { logs: 'rpc error: code = Internal desc = disk on fire' } });
    // The product's own activities, except that the release of a ready snapshot and the removal of a failed one wait
    // for the test, so the cleaning-up phases last long enough to be seen.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const activities = createActivities({ kube, pollIntervalMs: 100 });
    const env = testEnv();
    const connection = await NativeConnection.connect({ address: env.temporal.address });
    const taskQueue = uniqueName('cleanup');
    const gated = await Worker.create({
      connection,
      namespace: env.temporal.namespace,
      taskQueue,
      workflowBundle: { codePath: env.workflowBundlePath },
      activities: {
        ...activities,
        retainAndReleaseVolumeSnapshot: async (...args: Parameters<typeof activities.retainAndReleaseVolumeSnapshot>) => gate.then(() => activities.retainAndReleaseVolumeSnapshot(...args)),
        deleteVolumeSnapshot: async (...args: Parameters<typeof activities.deleteVolumeSnapshot>) => gate.then(() => activities.deleteVolumeSnapshot(...args)),
      },
    });
    // The dump runs on the dump task queue: a worker there too (as every worker process runs one).
    const dumps = await createDumpWorker({ connection, namespace: env.temporal.namespace, taskQueue, activities, maxConcurrentDumps: 1 });
    const running = runWorkers([gated, dumps]);
    try {
      const policy = filePolicy({ cluster: host.cluster, volumes: { enabled: true, concurrency: 2 } });
      const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('vol-cleanup'), args: [{ policy, nominalTime: NOMINAL_TIME }] });
      let during: SnapshotStatusView | undefined;
      await eventually('both volumes to be cleaning up', async () => {
        during = await handle.query(statusQuery);
        return during.volumes.length === 2 && during.volumes.every((v) => v.phase.endsWith('CleaningUp'));
      });
      const phases = byPvc(during!.volumes);
      assert.equal(phases.db.phase, 'CompletedCleaningUp');
      assert.equal(phases.logs.phase, 'FailedCleaningUp');
      assert.match(phases.logs.reason ?? '', /disk on fire/);
      open();
      const view = await handle.result();
      assert.equal(view.status, 'PartiallyFailed');
      assert.deepEqual(view.volumes.map((v) => v.phase), ['Completed', 'Failed']);
      assert.deepEqual(await leftovers(host.cluster.namespace), { snapshots: [], contents: [] });
    } finally {
      open();
      gated.shutdown();
      await running;
      await connection.close();
    }
  });

  it('restarting the worker mid-wait resumes without a second VolumeSnapshot', async () => {
    const host = await newHostCluster();
    const className = await addSnapshotClass(host.driver);
    await addPvc(host, 'data');
    const controller = await playCsiController(host, { hold: ['data'] });
    const env = testEnv();
    const connection = await NativeConnection.connect({ address: env.temporal.address });
    const taskQueue = uniqueName('restart');
    const startWorker = () =>
      Worker.create({ connection, namespace: env.temporal.namespace, taskQueue, workflowBundle: { codePath: env.workflowBundlePath }, activities: createActivities({ kube, pollIntervalMs: 100 }) });
    try {
      const first = await startWorker();
      const firstRun = first.run();
      const handle = await worker.client.workflow.start(volumeSnapshotWorkflow, {
        taskQueue,
        workflowId: uniqueName('vol-restart'),
        args: [{ cluster: host.cluster, snapshotName: `${host.cluster.name}-2026-11-23T12-00-00Z`, volume: { pvc: 'data', namespace: host.cluster.namespace, driver: host.driver, volumeSnapshotClass: className } }],
      });
      await eventually('the VolumeSnapshot to exist', () => controller.inFlight.size === 1);
      first.shutdown();
      await firstRun;

      const second = await startWorker();
      const secondRun = second.run();
      controller.release('data');
      const result = await handle.result();
      second.shutdown();
      await secondRun;
      assert.equal(result.phase, 'Completed');
      assert.deepEqual([...controller.creations.entries()], [[volumeSnapshotNameFor('data', `${host.cluster.name}-2026-11-23T12-00-00Z`), 1]]);
    } finally {
      await connection.close();
    }
  });

  it('a 403 from the API server fails the volume with the verb and resource that are forbidden', async () => {
    const host = await newHostCluster();
    const className = await addSnapshotClass(host.driver);
    await addPvc(host, 'data');
    // The harness's `restricted` user has no RBAC grants at all.
    const restricted = new k8s.KubeConfig();
    restricted.loadFromOptions({
      clusters: [{ name: 'test', server: testEnv().kube.server, skipTLSVerify: true }],
      users: [{ name: 'restricted', token: testEnv().kube.tokens.restricted }],
      contexts: [{ name: 'test', cluster: 'test', user: 'restricted' }],
      currentContext: 'test',
    });
    const restrictedWorker = await startTestWorker({ kube: restricted, pollIntervalMs: 100 });
    try {
      const result = await (
        await restrictedWorker.client.workflow.start(volumeSnapshotWorkflow, {
          taskQueue: restrictedWorker.taskQueue,
          workflowId: uniqueName('vol-403'),
          args: [{ cluster: host.cluster, snapshotName: `${host.cluster.name}-2026-11-23T12-00-00Z`, volume: { pvc: 'data', namespace: host.cluster.namespace, driver: host.driver, volumeSnapshotClass: className } }],
        })
      ).result();
      assert.equal(result.phase, 'Failed');
      assert.equal(result.reason, `forbidden: cannot create volumesnapshots.snapshot.storage.k8s.io in namespace ${host.cluster.namespace}`);
    } finally {
      await restrictedWorker.stop();
    }
  });
});
