// Fault 6: the host cluster's kube-apiserver (an own instance) restarts while the volume phases run. Three PVCs are
// snapshotted by child workflows; while their VolumeSnapshots wait for the (test-played) CSI driver, the API server
// is stopped and started again on the same port, certificates and tokens. The children must resume and finish.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { readyz, startKube, type KubeServer } from '../../scripts/servers/kube';
import { startProcess, type RunningProcess } from '../../scripts/servers/process';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { addBoundCsiClaim, addDefaultSnapshotClass } from '../harness/csi-objects';
import { FakeCsiSnapshotController } from '../integration/fake-csi-snapshot-controller';
import { eventually } from './support/history';

const SNAPSHOT_API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;
const PVCS = ['data-a', 'data-b', 'data-c'];

describe('fault: kube-apiserver restarted during the volume phases', function () {
  this.timeout(180_000);
  let dir: string;
  let kube: KubeServer;
  let restarted: RunningProcess | undefined;
  let kubeConfig: k8s.KubeConfig;
  let worker: TestWorker;
  let controller: FakeCsiSnapshotController | undefined;

  before(async () => {
    dir = join(testEnv().runDir, 'faults', 'kube-restart');
    kube = await startKube({ dir });
    kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigFile);
    worker = await startTestWorker({ kube: kubeConfig, pollIntervalMs: 200 });
  });
  after(async () => {
    await controller?.stop();
    await worker?.stop();
    await restarted?.stop();
    await kube?.stop();
  });

  /**
   * Stops the API server and starts the same binary with the same arguments: same port, certificates and tokens. Its
   * graceful shutdown waits up to a minute for open watches; like a kubelet with a short grace period, this does not.
   */
  async function restartApiServer(): Promise<number> {
    const [command, ...args] = kube.child.spawnargs;
    const downAt = Date.now();
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => kube.child.kill('SIGKILL'), 2_000);
      kube.child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      kube.child.kill('SIGTERM');
    });
    restarted = await startProcess({ name: 'kube-apiserver-restarted', command, args, logDir: dir, ready: readyz(kube.server, kube.adminToken), timeoutMs: 120_000 });
    return Date.now() - downAt;
  }

  it('every child resumes after the restart and completes; nothing is left in the API server', async () => {
    const namespace = uniqueName('kube-restart');
    const cluster = { name: uniqueName('vc'), namespace };
    const driver = `${namespace}.csi.test`;
    await addHostObjects(kubeConfig, cluster, driver);
    controller = await FakeCsiSnapshotController.start(kubeConfig, { namespace, hold: PVCS });
    const policy = filePolicy({ cluster, volumes: { enabled: true, concurrency: 3 } });
    const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('kube-restart'), args: [{ policy }] });
    await eventually('three VolumeSnapshots waiting for the driver', () => controller!.inFlight.size === PVCS.length, 60_000);

    const downMs = await restartApiServer();
    for (const pvc of PVCS) controller.release(pvc);
    const view = await handle.result();

    assert.equal(view.status, 'Completed', view.error);
    assert.deepEqual(view.volumes.map((v) => [v.pvc, v.phase]), PVCS.map((pvc) => [pvc, 'Completed']));
    for (const volume of view.volumes) assert.equal(volume.snapshotHandle, controller.handles.get(volume.pvc));
    assert.deepEqual([...controller.creations.values()], [1, 1, 1], 'one VolumeSnapshot per PVC, none recreated');
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const left = (await custom.listNamespacedCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshots', namespace })) as { items: unknown[] };
    assert.deepEqual(left.items, []);
    console.log(`      API server down for ${downMs} ms; ${PVCS.length} children completed`);
  });
});

/** A namespace with a default VolumeSnapshotClass and bound CSI PVCs that the vCluster manages. */
async function addHostObjects(kubeConfig: k8s.KubeConfig, cluster: { name: string; namespace: string }, driver: string): Promise<void> {
  await kubeConfig.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: cluster.namespace } } });
  await addDefaultSnapshotClass(kubeConfig, uniqueName('vsc'), driver);
  for (const name of PVCS) await addBoundCsiClaim(kubeConfig, cluster, name, driver);
}

