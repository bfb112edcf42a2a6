// Part 4: one snapshot of a cluster with many PVCs on the real kube-apiserver, the CSI snapshot controller played by
// the integration tests' fake: seconds end to end and the parent workflow's history against Temporal's limits.
import * as k8s from '@kubernetes/client-node';
import { DEFAULT_CLASS_ANNOTATION, MANAGED_BY_LABEL } from '../../activities/volumes';
import { mapLimit } from '../../activities/storage/common';
import { FakeCsiSnapshotController } from '../../test/integration/fake-csi-snapshot-controller';
import { snapshotWorkflow } from '../../workflows';
import type { ClusterRef, SnapshotPolicy } from '../../workflows/definitions';
import type { BenchWorker } from './worker';

/** Temporal's default hard limits on one workflow's history. */
export const HISTORY_LIMITS = { events: 51_200, bytes: 50 * 1024 * 1024 } as const;

export interface VolumeFigures {
  pvcs: number;
  concurrency: number;
  seconds: number;
  status: string;
  completedVolumes: number;
  historyEvents: number;
  historyBytes?: number;
  controllerErrors: number;
}

async function addPvcs(kube: k8s.KubeConfig, cluster: ClusterRef, driver: string, count: number): Promise<void> {
  const { namespace } = cluster;
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await custom.createClusterCustomObject({
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    plural: 'volumesnapshotclasses',
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name: `${namespace}-class`, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
      driver,
      deletionPolicy: 'Delete',
    },
  });
  const names = Array.from({ length: count }, (_, i) => `data-${String(i).padStart(4, '0')}`);
  // As in test/integration/volumes.test.ts: a CSI PV, a claim synced by vCluster, bound the way the PV controller would.
  await mapLimit(names, 16, async (name) => {
    const pvName = `${namespace}-${name}`;
    await core.createPersistentVolume({
      body: { metadata: { name: pvName }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], csi: { driver, volumeHandle: `vol-${name}` } } },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name, labels: { [MANAGED_BY_LABEL]: cluster.name } },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeName: pvName },
      },
    });
    await core.patchNamespacedPersistentVolumeClaimStatus({ name, namespace, body: { status: { phase: 'Bound' } } }, mergePatch);
  });
}

export async function measureVolumes(
  worker: BenchWorker,
  kube: k8s.KubeConfig,
  policy: SnapshotPolicy,
  pvcs: number,
  log: (line: string) => void,
): Promise<VolumeFigures> {
  await addPvcs(kube, policy.cluster, `${policy.cluster.namespace}.csi.bench`, pvcs);
  log(`[bench] ${pvcs} PVCs created; snapshotting them, ${policy.volumes.concurrency} at once`);
  const controller = await FakeCsiSnapshotController.start(kube, { namespace: policy.cluster.namespace });
  try {
    const started = performance.now();
    const handle = await worker.client.workflow.start(snapshotWorkflow, {
      taskQueue: worker.taskQueue,
      workflowId: `bench-volumes-${Date.now()}`,
      args: [{ policy }],
    });
    const view = await handle.result();
    const seconds = (performance.now() - started) / 1000;
    const description = await handle.describe();
    return {
      pvcs,
      concurrency: policy.volumes.concurrency,
      seconds,
      status: view.status,
      completedVolumes: view.volumes.filter((v) => v.phase === 'Completed').length,
      historyEvents: description.historyLength,
      historyBytes: description.historySize,
      controllerErrors: controller.errors.length,
    };
  } finally {
    await controller.stop();
  }
}
