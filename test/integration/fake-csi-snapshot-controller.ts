// The test plays the CSI snapshot controller. The test cluster is a real kube-apiserver with the snapshot CRDs but no
// snapshot-controller and no CSI driver, so this helper does their part against the real API server: for every
// VolumeSnapshot in one namespace it creates the VolumeSnapshotContent (source volumeHandle from the PV, driver,
// deletionPolicy Delete, volumeSnapshotRef) and sets both statuses through the status subresources, or reports a CSI
// error. It also counts VolumeSnapshots in flight, from the watch, so tests can check the product's concurrency bound.
import * as k8s from '@kubernetes/client-node';
import type { VolumeSnapshot } from '../../lib/kube/csi';

const API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;

export interface FakeCsiSnapshotControllerOptions {
  namespace: string;
  /** PVC name -> CSI error reported on the VolumeSnapshotContent (what a failing driver does). */
  failContent?: Record<string, string>;
  /** PVC name -> error reported on the VolumeSnapshot itself (what the snapshot-controller does, e.g. bad class). */
  failSnapshot?: Record<string, string>;
  /** PVCs whose snapshot is created but never becomes ready (a slow or stuck driver). */
  hold?: string[];
  /** How long the "driver" takes to cut a snapshot. */
  readyAfterMs?: number;
}

export class FakeCsiSnapshotController {
  /** VolumeSnapshots that exist right now, and the most that ever existed at once. */
  readonly inFlight = new Set<string>();
  maxInFlight = 0;
  /** How often each VolumeSnapshot name was created (a duplicate would show as 2). */
  readonly creations = new Map<string, number>();
  /** snapshot handles handed out, by PVC name. */
  readonly handles = new Map<string, string>();
  /** Anything that went wrong inside the fake; a test should assert it stays empty. */
  readonly errors: unknown[] = [];

  private readonly held = new Map<string, Array<VolumeSnapshot & { metadata: { uid?: string } }>>();
  private readonly released = new Set<string>();
  private abort?: AbortController;
  private stopped = false;
  private resourceVersion?: string;
  private readonly pending = new Set<Promise<void>>();
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  private constructor(
    private readonly kube: k8s.KubeConfig,
    private readonly options: FakeCsiSnapshotControllerOptions,
  ) {
    this.core = kube.makeApiClient(k8s.CoreV1Api);
    this.custom = kube.makeApiClient(k8s.CustomObjectsApi);
  }

  static async start(kube: k8s.KubeConfig, options: FakeCsiSnapshotControllerOptions): Promise<FakeCsiSnapshotController> {
    const controller = new FakeCsiSnapshotController(kube, options);
    await controller.watch();
    return controller;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await Promise.allSettled([...this.pending]);
  }

  /** Lets a held PVC's snapshots (and later ones) become ready, like a driver that recovers. */
  release(pvcName: string): void {
    this.released.add(pvcName);
    for (const snapshot of this.held.get(pvcName) ?? []) this.track(this.cutSnapshot(snapshot));
    this.held.delete(pvcName);
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      if (!this.stopped) this.errors.push(err);
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async watch(): Promise<void> {
    const path = `/apis/${API.group}/${API.version}/namespaces/${this.options.namespace}/volumesnapshots`;
    this.abort = await new k8s.Watch(this.kube).watch(
      path,
      { resourceVersion: this.resourceVersion },
      (type: string, object: VolumeSnapshot & { metadata: { uid?: string; resourceVersion?: string } }) => this.onEvent(type, object),
      (err: unknown) => {
        if (this.stopped) return;
        // The API server ends watches now and then; pick up where it left off.
        if (err) this.resourceVersion = undefined;
        setTimeout(() => void this.watch().catch((e: unknown) => this.errors.push(e)), 100);
      },
    );
  }

  private onEvent(type: string, snapshot: VolumeSnapshot & { metadata: { uid?: string; resourceVersion?: string } }): void {
    if (type === 'ERROR') {
      // Usually 410 Gone: the next watch starts from the current state.
      this.resourceVersion = undefined;
      return;
    }
    this.resourceVersion = snapshot.metadata.resourceVersion;
    const name = snapshot.metadata.name;
    if (type === 'DELETED') {
      this.inFlight.delete(name);
      return;
    }
    if (type !== 'ADDED' || this.inFlight.has(name)) return;
    this.inFlight.add(name);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
    this.creations.set(name, (this.creations.get(name) ?? 0) + 1);
    this.track(this.cutSnapshot(snapshot));
  }

  /** What snapshot-controller plus csi-snapshotter would do for one dynamically provisioned VolumeSnapshot. */
  private async cutSnapshot(snapshot: VolumeSnapshot & { metadata: { uid?: string } }): Promise<void> {
    const { namespace } = this.options;
    const pvcName = snapshot.spec.source.persistentVolumeClaimName ?? '';
    if (this.options.hold?.includes(pvcName) && !this.released.has(pvcName)) {
      this.held.set(pvcName, [...(this.held.get(pvcName) ?? []), snapshot]);
      return;
    }
    if (this.options.readyAfterMs) await new Promise((resolve) => setTimeout(resolve, this.options.readyAfterMs));
    const snapshotError = this.options.failSnapshot?.[pvcName];
    if (snapshotError) {
      await this.patchSnapshotStatus(snapshot.metadata.name, { readyToUse: false, error: { message: snapshotError, time: new Date().toISOString() } });
      return;
    }
    const pvc = await this.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace });
    const pv = await this.core.readPersistentVolume({ name: pvc.spec?.volumeName ?? '' });
    const csi = pv.spec?.csi;
    if (!csi) throw new Error(`fake CSI controller: PV ${pv.metadata?.name} is not CSI`);
    const uid = snapshot.metadata.uid ?? '';
    const contentName = `snapcontent-${uid}`;
    await this.custom.createClusterCustomObject({
      ...API,
      plural: 'volumesnapshotcontents',
      body: {
        apiVersion: `${API.group}/${API.version}`,
        kind: 'VolumeSnapshotContent',
        metadata: { name: contentName },
        spec: {
          deletionPolicy: 'Delete',
          driver: csi.driver,
          source: { volumeHandle: csi.volumeHandle },
          ...(snapshot.spec.volumeSnapshotClassName ? { volumeSnapshotClassName: snapshot.spec.volumeSnapshotClassName } : {}),
          volumeSnapshotRef: { apiVersion: `${API.group}/${API.version}`, kind: 'VolumeSnapshot', name: snapshot.metadata.name, namespace, uid },
        },
      },
    });
    const contentError = this.options.failContent?.[pvcName];
    const snapshotHandle = `snap-${csi.volumeHandle}-${uid.slice(0, 8)}`;
    const restoreSize = pv.spec?.capacity?.storage ?? '1Gi';
    await this.custom.patchClusterCustomObjectStatus(
      {
        ...API,
        plural: 'volumesnapshotcontents',
        name: contentName,
        body: {
          status: contentError
            ? { readyToUse: false, error: { message: contentError, time: new Date().toISOString() } }
            : { readyToUse: true, snapshotHandle, restoreSize: quantityToBytes(restoreSize) },
        },
      },
      this.mergePatch,
    );
    if (!contentError) this.handles.set(pvcName, snapshotHandle);
    await this.patchSnapshotStatus(snapshot.metadata.name, {
      boundVolumeSnapshotContentName: contentName,
      readyToUse: !contentError,
      ...(contentError ? {} : { restoreSize, creationTime: new Date().toISOString() }),
    });
  }

  private async patchSnapshotStatus(name: string, status: Record<string, unknown>): Promise<void> {
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        { ...API, plural: 'volumesnapshots', namespace: this.options.namespace, name, body: { status } },
        this.mergePatch,
      );
    } catch (err) {
      // Deleted meanwhile (cleanup after a cancellation): nothing left to report to.
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}

function quantityToBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!match) return 0;
  const power = { Ki: 1, Mi: 2, Gi: 3, Ti: 4 }[match[2] ?? ''] ?? 0;
  return Number(match[1]) * 1024 ** power;
}
