// The retention step: prune a cluster's snapshots by its policy, after a successful store. Only snapshots with the
// product's metadata record are ever deleted; a deletion that fails is reported and retried by the next run.
import { Context } from '@temporalio/activity';
import * as k8s from '@kubernetes/client-node';
import type { RetentionReport, SnapshotPolicy, SnapshotRecord, VolumeResult } from '../contracts/definitions';
import { isClusterRecord } from '../lib/catalog';
import { planRetention } from '../lib/retention-plan';
import type { ActivityDeps } from './deps';
import { openStore } from './store';

const SNAPSHOT_API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;

function ignoreNotFound(err: unknown): void {
  if ((err as { code?: number }).code !== 404) throw err;
}

/**
 * A retained CSI snapshot is released the way the CSI external-snapshotter documents for pre-provisioned
 * snapshots: a VolumeSnapshotContent with `deletionPolicy: Delete` pointing at the handle, bound to a
 * VolumeSnapshot; deleting that VolumeSnapshot makes the driver delete the backend snapshot.
 */
async function releaseRetainedVolume(kube: k8s.KubeConfig, record: SnapshotRecord, volume: VolumeResult): Promise<void> {
  if (!volume.snapshotHandle || !volume.driver) return;
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const namespace = record.cluster.namespace;
  const name = `vcsnap-prune-${volume.snapshotHandle.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}`.slice(0, 63).replace(/-+$/, '');
  const content = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name },
    spec: {
      deletionPolicy: 'Delete',
      driver: volume.driver,
      source: { snapshotHandle: volume.snapshotHandle },
      volumeSnapshotClassName: volume.volumeSnapshotClass,
      volumeSnapshotRef: { name, namespace },
    },
  };
  const snapshot = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name, namespace },
    spec: { source: { volumeSnapshotContentName: name } },
  };
  for (const create of [
    () => custom.createClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents', body: content }),
    () => custom.createNamespacedCustomObject({ ...SNAPSHOT_API, namespace, plural: 'volumesnapshots', body: snapshot }),
  ]) {
    await create().catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }
  await custom.deleteNamespacedCustomObject({ ...SNAPSHOT_API, namespace, plural: 'volumesnapshots', name }).catch(ignoreNotFound);
  await custom.deleteClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents', name }).catch(ignoreNotFound);
}

export function createRetentionActivities(deps: ActivityDeps) {
  return {
    async applyRetention(args: { policy: SnapshotPolicy; justTaken: string }): Promise<RetentionReport> {
      const { policy } = args;
      const store = await openStore(deps, policy);
      const [allRecords, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
      const records = allRecords.filter((r) => isClusterRecord(policy, r));
      const archiveNames = new Set(archives.map((a) => a.snapshotName));
      // A record whose archive is gone (NotFound) no longer protects or counts as a snapshot: drop the record.
      const notFound = records.filter((r) => r.status !== 'Failed' && r.snapshotName !== args.justTaken && !archiveNames.has(r.snapshotName));
      const present = records.filter((r) => !notFound.includes(r));
      const plan = [
        ...notFound.map((r) => ({ snapshotName: r.snapshotName, reason: 'archive not found in storage' })),
        ...planRetention(present, policy.retention, deps.clock()).filter((d) => d.snapshotName !== args.justTaken),
      ];
      const byName = new Map(records.map((r) => [r.snapshotName, r]));
      const report: RetentionReport = { deleted: [], failed: [] };
      for (const decision of plan) {
        Context.current().heartbeat(decision.snapshotName);
        const record = byName.get(decision.snapshotName)!;
        try {
          for (const volume of record.volumes) {
            if (volume.snapshotHandle && deps.kube) await releaseRetainedVolume(deps.kube, record, volume);
          }
          if (archiveNames.has(record.snapshotName)) await store.deleteArchive(record.snapshotName);
          // The record goes last: while it exists, a failed prune is retried by the next run.
          await store.deleteRecord(record.snapshotName);
          report.deleted.push(record.snapshotName);
        } catch (err) {
          report.failed.push({ name: record.snapshotName, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      deps.metrics?.retentionApplied(policy.cluster, report);
      return report;
    },
  };
}
