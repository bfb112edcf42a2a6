// CSI volume snapshots on the host cluster (SPEC 6): which PVCs to take, the VolumeSnapshot each gets, and the
// calls that create, read, release and delete them.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { ClusterRef } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import type { PlannedVolume, VolumeSnapshotInput } from '../../contracts/volume';
import { kubeCall, unlessNotFound } from './errors';

export const MANAGED_BY_LABEL = 'vcluster.loft.sh/managed-by';
export const SNAPSHOT_CLASS_LABEL = 'vcluster.loft.sh/csi-volumesnapshot-class';
export const DEFAULT_CLASS_ANNOTATION = 'snapshot.storage.kubernetes.io/is-default-class';
/** Labels on the VolumeSnapshots this product creates: which snapshot and which PVC they belong to. */
export const SNAPSHOT_NAME_LABEL = 'vcsnap.io/snapshot';
export const PVC_LABEL = 'vcsnap.io/pvc';

const SNAPSHOT_API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;
const VOLUME_SNAPSHOTS = 'volumesnapshots';
const CONTENTS = 'volumesnapshotcontents';
const CLASSES = 'volumesnapshotclasses';

interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}
interface CsiError {
  message?: string;
}
export interface VolumeSnapshotClass {
  metadata: ObjectMeta;
  driver: string;
  deletionPolicy: string;
}
export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { source: { persistentVolumeClaimName?: string }; volumeSnapshotClassName?: string };
  status?: { boundVolumeSnapshotContentName?: string; readyToUse?: boolean; restoreSize?: string | number; error?: CsiError };
}
interface VolumeSnapshotContent {
  metadata: ObjectMeta;
  spec: { driver: string; deletionPolicy: string };
  status?: { readyToUse?: boolean; snapshotHandle?: string; restoreSize?: number; error?: CsiError };
}

export interface ReadyVolumeSnapshot {
  volumeSnapshotName: string;
  contentName: string;
  snapshotHandle: string;
  driver?: string;
  restoreSize?: string;
}

// ---- Pure rules: naming, class choice, PVC planning ----

function fitWithHash(value: string, max: number): string {
  if (value.length <= max) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 10);
  const head = value.slice(0, max - hash.length - 1).replace(/[^a-zA-Z0-9]+$/, '');
  return `${head}-${hash}`;
}

/** `<pvc>-<snapshot>` as a DNS subdomain: lowercase (snapshot names carry `T`/`Z`), at most 253 characters. */
export function volumeSnapshotNameFor(pvcName: string, snapshotName: string): string {
  return fitWithHash(`${pvcName}-${snapshotName}`.toLowerCase(), 253);
}

/** Label values are limited to 63 characters; longer ones keep a readable head and a hash. */
export function labelValueFor(value: string): string {
  return fitWithHash(value, 63);
}

/** What a later restore needs to recreate the PVC, without status, uid or binding. */
export function sanitizePvcSpec(spec: k8s.V1PersistentVolumeClaimSpec | undefined): Record<string, unknown> {
  const resources = {
    ...(spec?.resources?.requests ? { requests: { ...spec.resources.requests } } : {}),
    ...(spec?.resources?.limits ? { limits: { ...spec.resources.limits } } : {}),
  };
  return {
    ...(spec?.accessModes ? { accessModes: [...spec.accessModes] } : {}),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    ...(spec?.storageClassName !== undefined ? { storageClassName: spec.storageClassName } : {}),
    ...(spec?.volumeMode ? { volumeMode: spec.volumeMode } : {}),
  };
}

/**
 * The PVC label wins; else the driver's single default class. A lone class that is not marked default is not used:
 * Kubernetes' own snapshot controller would not pick it either, and guessing could snapshot with the wrong policy.
 */
export function chooseSnapshotClass(requested: string | undefined, driver: string, classes: VolumeSnapshotClass[]): { className: string } | { skipReason: string } {
  if (requested) {
    const chosen = classes.find((c) => c.metadata.name === requested);
    if (!chosen) return { skipReason: `VolumeSnapshotClass ${requested} (from label ${SNAPSHOT_CLASS_LABEL}) not found` };
    if (chosen.driver !== driver) {
      return { skipReason: `VolumeSnapshotClass ${requested} (from label ${SNAPSHOT_CLASS_LABEL}) is for driver ${chosen.driver}, but the volume uses ${driver}` };
    }
    return { className: requested };
  }
  const forDriver = classes.filter((c) => c.driver === driver);
  const names = (list: VolumeSnapshotClass[]) => list.map((c) => c.metadata.name).sort().join(', ');
  const defaults = forDriver.filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (defaults.length === 1) return { className: defaults[0].metadata.name };
  if (defaults.length > 1) {
    return { skipReason: `${defaults.length} VolumeSnapshotClasses are marked default for CSI driver ${driver} (${names(defaults)}); choose one with the PVC label ${SNAPSHOT_CLASS_LABEL}` };
  }
  if (forDriver.length === 0) return { skipReason: `no VolumeSnapshotClass for CSI driver ${driver}` };
  return {
    skipReason: `no default VolumeSnapshotClass for CSI driver ${driver} (found ${names(forDriver)}); annotate one with ${DEFAULT_CLASS_ANNOTATION}: "true" or set the PVC label ${SNAPSHOT_CLASS_LABEL}`,
  };
}

const NOT_A_SOURCE = new Set(['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeAttributesClassName', 'volumeMode']);

function volumeSourceOf(pv: k8s.V1PersistentVolume): string {
  const spec = (pv.spec ?? {}) as Record<string, unknown>;
  return Object.keys(spec).find((key) => spec[key] !== undefined && !NOT_A_SOURCE.has(key)) ?? 'unknown';
}

/** Whether and how one PVC can be snapshotted; `pv` is its bound PersistentVolume, when found. */
export function planVolume(pvc: k8s.V1PersistentVolumeClaim, pv: k8s.V1PersistentVolume | undefined, classes: VolumeSnapshotClass[]): PlannedVolume {
  const planned: PlannedVolume = { pvc: pvc.metadata?.name ?? '', namespace: pvc.metadata?.namespace ?? '', pvcSpec: sanitizePvcSpec(pvc.spec) };
  const volumeName = pvc.spec?.volumeName;
  if (pvc.status?.phase !== 'Bound' || !volumeName) return { ...planned, skipReason: `PVC is not bound to a volume (phase ${pvc.status?.phase ?? 'unknown'})` };
  if (!pv) return { ...planned, skipReason: `bound PersistentVolume ${volumeName} not found` };
  const driver = pv.spec?.csi?.driver;
  if (!driver) return { ...planned, skipReason: `PersistentVolume ${volumeName} is not a CSI volume (${volumeSourceOf(pv)}); only CSI volumes can be snapshotted` };
  const choice = chooseSnapshotClass(pvc.metadata?.labels?.[SNAPSHOT_CLASS_LABEL], driver, classes);
  return 'className' in choice ? { ...planned, driver, volumeSnapshotClass: choice.className } : { ...planned, driver, skipReason: choice.skipReason };
}

export function volumeSnapshotManifest(input: VolumeSnapshotInput): VolumeSnapshot {
  const { volume, snapshotName } = input;
  return {
    apiVersion: `${SNAPSHOT_API.group}/${SNAPSHOT_API.version}`,
    kind: 'VolumeSnapshot',
    metadata: {
      name: volumeSnapshotNameFor(volume.pvc, snapshotName),
      namespace: volume.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'vcsnap', [SNAPSHOT_NAME_LABEL]: labelValueFor(snapshotName), [PVC_LABEL]: labelValueFor(volume.pvc) },
    },
    spec: {
      source: { persistentVolumeClaimName: volume.pvc },
      ...(volume.volumeSnapshotClass ? { volumeSnapshotClassName: volume.volumeSnapshotClass } : {}),
    },
  };
}

/** A VolumeSnapshot found under our name was made by this snapshot for this PVC (a retry), not by someone else. */
export function isOurs(existing: VolumeSnapshot, input: VolumeSnapshotInput): boolean {
  const wanted = volumeSnapshotManifest(input);
  const labels = existing.metadata.labels ?? {};
  return (
    labels[SNAPSHOT_NAME_LABEL] === wanted.metadata.labels?.[SNAPSHOT_NAME_LABEL] &&
    labels[PVC_LABEL] === wanted.metadata.labels?.[PVC_LABEL] &&
    existing.spec.source.persistentVolumeClaimName === input.volume.pvc
  );
}

/** The host-cluster calls volume snapshots make; `kube` absent = the worker has no host cluster (KubeUnavailable). */
export function csiClient(kube: k8s.KubeConfig | undefined) {
  if (!kube) throw failure('KubeUnavailable', 'volume snapshots need a host-cluster connection, but the worker has none (set KUBECONFIG)');
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const snapshotResource = (plural: string) => `${plural}.${SNAPSHOT_API.group}`;
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  return {
    async listManagedPvcs(cluster: ClusterRef): Promise<k8s.V1PersistentVolumeClaim[]> {
      const items: k8s.V1PersistentVolumeClaim[] = [];
      let _continue: string | undefined;
      do {
        const page = await kubeCall('list', 'persistentvolumeclaims', cluster.namespace, () =>
          core.listNamespacedPersistentVolumeClaim({ namespace: cluster.namespace, labelSelector: `${MANAGED_BY_LABEL}=${cluster.name}`, limit: 500, _continue }),
        );
        items.push(...page.items);
        _continue = page.metadata?._continue || undefined;
      } while (_continue);
      return items;
    },
    readVolume: (name: string) => kubeCall('get', 'persistentvolumes', undefined, () => unlessNotFound(core.readPersistentVolume({ name }))),
    listSnapshotClasses: async (): Promise<VolumeSnapshotClass[]> =>
      ((await kubeCall('list', snapshotResource(CLASSES), undefined, () => custom.listClusterCustomObject({ ...SNAPSHOT_API, plural: CLASSES }))) as { items: VolumeSnapshotClass[] }).items,
    createSnapshot: (body: VolumeSnapshot) =>
      kubeCall('create', snapshotResource(VOLUME_SNAPSHOTS), body.metadata.namespace, () =>
        custom.createNamespacedCustomObject({ ...SNAPSHOT_API, plural: VOLUME_SNAPSHOTS, namespace: body.metadata.namespace ?? '', body }),
      ),
    getSnapshot: async (namespace: string, name: string): Promise<VolumeSnapshot | undefined> =>
      kubeCall('get', snapshotResource(VOLUME_SNAPSHOTS), namespace, () => unlessNotFound(custom.getNamespacedCustomObject({ ...SNAPSHOT_API, plural: VOLUME_SNAPSHOTS, namespace, name }))),
    deleteSnapshot: (namespace: string, name: string) =>
      kubeCall('delete', snapshotResource(VOLUME_SNAPSHOTS), namespace, () => unlessNotFound(custom.deleteNamespacedCustomObject({ ...SNAPSHOT_API, plural: VOLUME_SNAPSHOTS, namespace, name }))),
    getContent: async (name: string): Promise<VolumeSnapshotContent | undefined> =>
      kubeCall('get', snapshotResource(CONTENTS), undefined, () => unlessNotFound(custom.getClusterCustomObject({ ...SNAPSHOT_API, plural: CONTENTS, name }))),
    setContentDeletionPolicy: (name: string, deletionPolicy: 'Retain' | 'Delete') =>
      kubeCall('patch', snapshotResource(CONTENTS), undefined, () =>
        unlessNotFound(custom.patchClusterCustomObject({ ...SNAPSHOT_API, plural: CONTENTS, name, body: { spec: { deletionPolicy } } }, mergePatch)),
      ),
    deleteContent: (name: string) =>
      kubeCall('delete', snapshotResource(CONTENTS), undefined, () => unlessNotFound(custom.deleteClusterCustomObject({ ...SNAPSHOT_API, plural: CONTENTS, name }))),
  };
}
