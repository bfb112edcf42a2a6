// The retention step: prune a cluster's snapshots by its policy, after a successful store. Only snapshots with the
// product's metadata record are ever deleted; a deletion that fails is reported and retried by the next run.
import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { RetentionReport, SnapshotPolicy, SnapshotRecord, VolumeResult } from '../contracts/definitions';
import { isClusterRecord } from '../lib/catalog';
import { statusCodeOf, unlessNotFound } from '../lib/kube/errors';
import { verifyRecord } from '../lib/record-signature';
import { planRetention } from '../lib/retention-plan';
import type { ActivityDeps } from './deps';
import { heartbeatWhile } from './liveness';
import { openStore } from './store';

const SNAPSHOT_API = { group: 'snapshot.storage.k8s.io', version: 'v1' } as const;

/** One name per backend snapshot (driver and handle): handles longer than a name never share one. */
export function pruneObjectName(driver: string, handle: string): string {
  return `vcsnap-prune-${createHash('sha256').update(`${driver}\n${handle}`).digest('hex').slice(0, 32)}`;
}

/** Creates `create()`'s object, or accepts the one there if it is ours (same handle); anything else is refused. */
async function createOrAdopt(create: () => Promise<unknown>, read: () => Promise<unknown>, handle: string, what: string): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
    const existing = (await read()) as { spec?: { source?: { snapshotHandle?: string; volumeSnapshotContentName?: string } } };
    const source = existing.spec?.source;
    if (source?.snapshotHandle !== undefined && source.snapshotHandle !== handle) throw new Error(`${what} already exists for another snapshot handle; not deleting through it`);
  }
}

/**
 * A retained CSI snapshot is released the way the CSI external-snapshotter documents for pre-provisioned
 * snapshots: a VolumeSnapshotContent with `deletionPolicy: Delete` pointing at the handle, bound to a
 * VolumeSnapshot; deleting that VolumeSnapshot makes the driver delete the backend snapshot.
 */
async function releaseRetainedVolume(kube: k8s.KubeConfig, record: SnapshotRecord, volume: VolumeResult): Promise<void> {
  if (!volume.snapshotHandle || !volume.driver) return;
  const handle = volume.snapshotHandle;
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const namespace = record.cluster.namespace;
  const name = pruneObjectName(volume.driver, handle);
  const content = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name },
    spec: {
      deletionPolicy: 'Delete',
      driver: volume.driver,
      source: { snapshotHandle: handle },
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
  await createOrAdopt(
    () => custom.createClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents', body: content }),
    () => custom.getClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents', name }),
    handle,
    `VolumeSnapshotContent ${name}`,
  );
  await createOrAdopt(
    () => custom.createNamespacedCustomObject({ ...SNAPSHOT_API, namespace, plural: 'volumesnapshots', body: snapshot }),
    () => custom.getNamespacedCustomObject({ ...SNAPSHOT_API, namespace, plural: 'volumesnapshots', name }),
    handle,
    `VolumeSnapshot ${namespace}/${name}`,
  );
  await unlessNotFound(custom.deleteNamespacedCustomObject({ ...SNAPSHOT_API, namespace, plural: 'volumesnapshots', name }));
  await unlessNotFound(custom.deleteClusterCustomObject({ ...SNAPSHOT_API, plural: 'volumesnapshotcontents', name }));
}

export function createRetentionActivities(deps: ActivityDeps) {
  return {
    async applyRetention(args: { policy: SnapshotPolicy; justTaken: string }): Promise<RetentionReport> {
      // Each plan step is several storage and API calls, each with its own request timeout: alive meanwhile.
      return heartbeatWhile(Context.current(), () => applyRetentionPlan(args));
    },
  };

  async function applyRetentionPlan(args: { policy: SnapshotPolicy; justTaken: string }): Promise<RetentionReport> {
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
        const handles = record.volumes.filter((volume) => volume.snapshotHandle);
        // Handles come from the tenant's storage: act only on those the worker itself signed.
        const trusted = deps.recordKey !== undefined && verifyRecord(record, deps.recordKey);
        if (handles.length > 0 && !trusted) {
          report.failed.push({
            name: record.snapshotName,
            reason: `${handles.length} volume snapshot(s) left in place: the record is not signed by this worker's key (written by hand, changed, or by a worker without VCSNAP record signing)`,
          });
        }
        for (const volume of trusted ? handles : []) {
          if (deps.kube) await releaseRetainedVolume(deps.kube, record, volume);
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
  }
}
