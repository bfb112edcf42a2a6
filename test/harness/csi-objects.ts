// Host-cluster objects a CSI volume snapshot needs, created on the real kube-apiserver the way the cluster's own
// controllers would leave them: a default VolumeSnapshotClass, and vCluster-synced claims bound to CSI volumes (no PV
// controller runs here, so the claim's status is set to Bound directly). Shared by tests and the bench.
import * as k8s from '@kubernetes/client-node';
import { DEFAULT_CLASS_ANNOTATION, MANAGED_BY_LABEL } from '../../lib/kube/csi';
import type { ClusterRef } from '../../contracts/definitions';

/** A VolumeSnapshotClass of `driver` marked as that driver's default. */
export async function addDefaultSnapshotClass(kube: k8s.KubeConfig, name: string, driver: string): Promise<void> {
  await kube.makeApiClient(k8s.CustomObjectsApi).createClusterCustomObject({
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    plural: 'volumesnapshotclasses',
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } }, driver, deletionPolicy: 'Delete' },
  });
}

/** A claim `name` in the cluster's host namespace, labelled as synced by the vCluster, bound to a new CSI PV. */
export async function addBoundCsiClaim(kube: k8s.KubeConfig, cluster: ClusterRef, name: string, driver: string): Promise<void> {
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const { namespace } = cluster;
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
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  await core.patchNamespacedPersistentVolumeClaimStatus({ name, namespace, body: { status: { phase: 'Bound' } } }, mergePatch);
}
