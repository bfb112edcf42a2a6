// Part 4: one snapshot of a cluster with many PVCs on the real kube-apiserver, the CSI snapshot controller played by
// the integration tests' fake: seconds end to end and the parent workflow's history against Temporal's limits.
import * as k8s from '@kubernetes/client-node';
import { mapLimit } from '../../lib/concurrency';
import { addBoundCsiClaim, addDefaultSnapshotClass } from '../../test/harness/csi-objects';
import { FakeCsiSnapshotController } from '../../test/integration/fake-csi-snapshot-controller';
import { snapshotWorkflow } from '../../workflows';
import type { ClusterRef, SnapshotPolicy } from '../../contracts/definitions';
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
  await kube.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: cluster.namespace } } });
  await addDefaultSnapshotClass(kube, `${cluster.namespace}-class`, driver);
  const names = Array.from({ length: count }, (_, i) => `data-${String(i).padStart(4, '0')}`);
  await mapLimit(names, 16, (name) => addBoundCsiClaim(kube, cluster, name, driver));
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
