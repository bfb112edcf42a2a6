// Volume snapshot activities (SPEC 6), over lib/kube/csi: find a vCluster's PVCs on the host cluster and take one CSI VolumeSnapshot per
// PVC. Only the backend snapshot handle is kept: once it is known the content is set to Retain and both Kubernetes
// objects are released, as vCluster does.
import { Context } from '@temporalio/activity';
import type { ClusterRef } from '../contracts/definitions';
import { failure } from '../contracts/errors';
import type { PlannedVolume, VolumeSnapshotInput } from '../contracts/volume';
import { csiClient, isOurs, planVolume, volumeSnapshotManifest, type ReadyVolumeSnapshot } from '../lib/kube/csi';
import { statusCodeOf } from '../lib/kube/errors';
import type { ActivityDeps } from './deps';

export function createVolumeActivities(deps: ActivityDeps) {
  return {
    /** The cluster's PVCs, sorted by name, each either planned for a snapshot or carrying why it is skipped. */
    async discoverVolumes({ cluster }: { cluster: ClusterRef }): Promise<PlannedVolume[]> {
      const kube = csiClient(deps.kube);
      const pvcs = await kube.listManagedPvcs(cluster);
      const classes = pvcs.length > 0 ? await kube.listSnapshotClasses() : [];
      const planned = await Promise.all(
        pvcs.map(async (pvc) => planVolume(pvc, pvc.spec?.volumeName ? await kube.readVolume(pvc.spec.volumeName) : undefined, classes)),
      );
      return planned.sort((a, b) => (a.pvc < b.pvc ? -1 : a.pvc > b.pvc ? 1 : 0));
    },

    /** Idempotent: a retry (or a resumed run) finds its own VolumeSnapshot and carries on. */
    async createVolumeSnapshot(input: VolumeSnapshotInput): Promise<{ volumeSnapshotName: string }> {
      const kube = csiClient(deps.kube);
      const body = volumeSnapshotManifest(input);
      const { name, namespace = '' } = body.metadata;
      try {
        await kube.createSnapshot(body);
      } catch (err) {
        if (statusCodeOf(err) !== 409) throw err;
        const existing = await kube.getSnapshot(namespace, name);
        if (existing && !isOurs(existing, input)) {
          throw failure('VolumeSnapshotFailed', `VolumeSnapshot ${namespace}/${name} already exists and was not created by vcsnap for snapshot ${input.snapshotName} of PVC ${input.volume.pvc}`);
        }
        // Gone between the 409 and the read: let the retry create it again.
        if (!existing) throw err;
      }
      return { volumeSnapshotName: name };
    },

    /** Polls until the VolumeSnapshot and its content are ready with a handle; the CSI error or the deadline fails it. */
    async waitForVolumeSnapshot(input: VolumeSnapshotInput): Promise<ReadyVolumeSnapshot> {
      const kube = csiClient(deps.kube);
      const ctx = Context.current();
      const { name, namespace = '' } = volumeSnapshotManifest(input).metadata;
      const where = `VolumeSnapshot ${namespace}/${name} of PVC ${input.volume.pvc}`;
      const timeoutSeconds = input.readyTimeoutSeconds ?? deps.volumeReadyTimeoutSeconds;
      // Anchored to the first attempt, so retries and worker restarts do not extend the wait.
      const deadline = ctx.info.scheduledTimestampMs + timeoutSeconds * 1000;
      for (;;) {
        const snapshot = await kube.getSnapshot(namespace, name);
        if (!snapshot) throw failure('VolumeSnapshotFailed', `${where} was deleted before it became ready`);
        if (snapshot.status?.error?.message) throw failure('VolumeSnapshotFailed', `${where} failed: ${snapshot.status.error.message}`);
        const contentName = snapshot.status?.boundVolumeSnapshotContentName;
        const content = contentName ? await kube.getContent(contentName) : undefined;
        if (content?.status?.error?.message) throw failure('VolumeSnapshotFailed', `${where} failed: ${content.status.error.message} (VolumeSnapshotContent ${contentName})`);
        const snapshotHandle = content?.status?.snapshotHandle;
        if (contentName && snapshot.status?.readyToUse && content?.status?.readyToUse && snapshotHandle) {
          const restoreSize = snapshot.status.restoreSize ?? content.status.restoreSize;
          return { volumeSnapshotName: name, contentName, snapshotHandle, driver: content.spec.driver, restoreSize: restoreSize === undefined ? undefined : String(restoreSize) };
        }
        const waitingFor = !contentName ? 'a bound VolumeSnapshotContent' : !content ? `VolumeSnapshotContent ${contentName} to appear` : `readyToUse with a snapshotHandle`;
        if (Date.now() >= deadline) throw failure('VolumeSnapshotFailed', `${where} not ready after ${timeoutSeconds}s: still waiting for ${waitingFor}`);
        ctx.heartbeat({ waitingFor });
        await ctx.sleep(deps.pollIntervalMs);
      }
    },

    /** Keeps the backend snapshot (Retain) and removes both Kubernetes objects, waiting until they are gone. */
    async retainAndReleaseVolumeSnapshot(input: VolumeSnapshotInput & { contentName: string }): Promise<void> {
      const kube = csiClient(deps.kube);
      const ctx = Context.current();
      const { name, namespace = '' } = volumeSnapshotManifest(input).metadata;
      await kube.setContentDeletionPolicy(input.contentName, 'Retain');
      await kube.deleteSnapshot(namespace, name);
      await kube.deleteContent(input.contentName);
      // Leave time to report what blocks the release before the activity's own timeout hits.
      const giveUpAt = Date.now() + Math.max(ctx.info.startToCloseTimeoutMs - 5000, deps.pollIntervalMs);
      for (;;) {
        const [snapshot, content] = await Promise.all([kube.getSnapshot(namespace, name), kube.getContent(input.contentName)]);
        if (!snapshot && !content) return;
        if (Date.now() >= giveUpAt) {
          const blocked = [snapshot && `VolumeSnapshot ${namespace}/${name}`, content && `VolumeSnapshotContent ${input.contentName}`].filter(Boolean).join(' and ');
          const finalizers = [...(snapshot?.metadata.finalizers ?? []), ...(content?.metadata.finalizers ?? [])];
          throw failure('VolumeSnapshotNotReleased', `${blocked} still present after delete (finalizers: ${finalizers.join(', ') || 'none'})`);
        }
        ctx.heartbeat();
        await ctx.sleep(deps.pollIntervalMs);
      }
    },

    /**
     * Cleanup after a failure or cancellation. A failed volume snapshot is not part of the snapshot, so its backend
     * snapshot is deleted too (content set to Delete) instead of leaking. Never touches a VolumeSnapshot that is not ours.
     */
    async deleteVolumeSnapshot(input: VolumeSnapshotInput & { contentName?: string }): Promise<void> {
      const kube = csiClient(deps.kube);
      const { name, namespace = '' } = volumeSnapshotManifest(input).metadata;
      const snapshot = await kube.getSnapshot(namespace, name);
      const ours = snapshot && isOurs(snapshot, input) ? snapshot : undefined;
      const contentName = input.contentName ?? ours?.status?.boundVolumeSnapshotContentName;
      if (contentName) await kube.setContentDeletionPolicy(contentName, 'Delete');
      if (ours) await kube.deleteSnapshot(namespace, name);
      if (contentName) await kube.deleteContent(contentName);
    },
  };
}
