// The retention step: prune a cluster's snapshots by its policy, after a successful store. Only snapshots with the
// product's metadata record are ever deleted; a deletion that fails is reported and retried by the next run.
import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { RetentionReport, SnapshotPolicy, SnapshotRecord, VolumeResult } from '../contracts/definitions';
import { locationText } from '../contracts/naming';
import { isClusterRecord } from '../lib/catalog';
import { statusCodeOf, unlessNotFound } from '../lib/kube/errors';
import { verifyRecord } from '../lib/record-signature';
import { planRetention } from '../lib/retention-plan';
import type { ActivityDeps } from './deps';
import type { SnapshotStore } from '../lib/storage/types';
import { openCopyStore, openStore } from './store';

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

/** What pruning one location found and did. */
interface LocationReport {
  deleted: string[];
  failed: { name: string; reason: string }[];
  locked: NonNullable<RetentionReport['locked']>;
}

interface PruneJob {
  policy: SnapshotPolicy;
  store: SnapshotStore;
  /** Names the location in reports and logs. */
  location: string;
  justTaken: string;
  /** Release retained CSI snapshots of pruned records (the primary only: the copy's records name the same handles). */
  releaseVolumes: boolean;
  /** Snapshots pruned elsewhere this run that go here too, when stored here (the copy follows the primary). */
  alsoPrune?: ReadonlyArray<string>;
}

/**
 * Prunes one location by its own records: the plan over them, minus anything still under an Object Lock (kept, and
 * said so, until the lock expires; the next run after that prunes it).
 */
async function pruneLocation(deps: ActivityDeps, job: PruneJob): Promise<LocationReport> {
  const { policy, store } = job;
  const context = Context.current();
  const [allRecords, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
  const records = allRecords.filter((r) => isClusterRecord(policy, r));
  const archiveNames = new Set(archives.map((a) => a.snapshotName));
  // A record whose archive is gone (NotFound) no longer protects or counts as a snapshot: drop the record.
  const notFound = records.filter((r) => r.status !== 'Failed' && r.snapshotName !== job.justTaken && !archiveNames.has(r.snapshotName));
  const present = records.filter((r) => !notFound.includes(r));
  const plan = [
    ...notFound.map((r) => ({ snapshotName: r.snapshotName, reason: 'archive not found in storage' })),
    ...planRetention(present, policy.retention, deps.clock()).filter((d) => d.snapshotName !== job.justTaken),
  ];
  const byName = new Map(records.map((r) => [r.snapshotName, r]));
  const planned = new Set(plan.map((d) => d.snapshotName));
  // Followed from the primary: only snapshots with this cluster's record here (retention deletes only what the product
  // took, SPEC 8), never the one just taken.
  const followed = (job.alsoPrune ?? []).filter((name) => !planned.has(name) && name !== job.justTaken && byName.has(name));
  const locking = (await store.objectLockSupport?.().catch(() => undefined))?.enabled === true;
  const report: LocationReport = { deleted: [], failed: [], locked: [] };
  for (const snapshotName of [...plan.map((d) => d.snapshotName), ...followed]) {
    context.heartbeat(snapshotName);
    const record = byName.get(snapshotName)!;
    try {
      const lock = locking ? await store.lockedUntil?.(snapshotName, deps.clock()) : undefined;
      if (lock) {
        report.locked.push({ name: snapshotName, until: lock.retainUntil, mode: lock.mode, location: job.location });
        context.log.info('retention keeps a snapshot under Object Lock until its lock expires', { snapshotName, location: job.location, lockedUntil: lock.retainUntil, mode: lock.mode });
        continue;
      }
      const handles = job.releaseVolumes ? record.volumes.filter((volume) => volume.snapshotHandle) : [];
      // Handles come from the tenant's storage: act only on those the worker itself signed.
      const trusted = deps.recordKey !== undefined && verifyRecord(record, deps.recordKey);
      if (handles.length > 0 && !trusted) {
        report.failed.push({
          name: snapshotName,
          reason: `${handles.length} volume snapshot(s) left in place: the record is not signed by this worker's key (written by hand, changed, or by a worker without VCSNAP record signing)`,
        });
      }
      for (const volume of trusted ? handles : []) {
        if (deps.kube) await releaseRetainedVolume(deps.kube, record, volume);
      }
      // On a locked bucket an archive hidden behind a delete marker (a plain DELETE by anyone) still holds its
      // versions: they go too, or they would stay forever.
      if (archiveNames.has(snapshotName) || locking) await store.deleteArchive(snapshotName);
      // The record goes last: while it exists, a failed prune is retried by the next run.
      await store.deleteRecord(snapshotName);
      report.deleted.push(snapshotName);
    } catch (err) {
      report.failed.push({ name: snapshotName, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return report;
}

export function createRetentionActivities(deps: ActivityDeps) {
  return {
    async applyRetention(args: { policy: SnapshotPolicy; justTaken: string }): Promise<RetentionReport> {
      const { policy } = args;
      const store = await openStore(deps, policy);
      const primary = await pruneLocation(deps, { policy, store, location: locationText(policy.storage), justTaken: args.justTaken, releaseVolumes: true });
      const report: RetentionReport = { deleted: primary.deleted, failed: primary.failed };
      const locked = [...primary.locked];
      if (policy.copy) {
        // The copy is pruned by the same rules over its own records (so a copy that was down catches up at the next
        // run), and follows this run's deletions from the primary. A snapshot merely missing from the primary is
        // never a reason to prune its copy: the copy is there for when the primary is lost.
        const where = locationText(policy.copy);
        try {
          const copyStore = (await openCopyStore(deps, policy))!;
          const copy = await pruneLocation(deps, { policy, store: copyStore, location: where, justTaken: args.justTaken, releaseVolumes: false, alsoPrune: primary.deleted });
          report.copy = { deleted: copy.deleted, failed: copy.failed };
          locked.push(...copy.locked);
        } catch (err) {
          report.copy = { deleted: [], failed: [{ name: '*', reason: `copy location ${where}: ${err instanceof Error ? err.message : String(err)}` }] };
        }
      }
      if (locked.length > 0) report.locked = locked;
      deps.metrics?.retentionApplied(policy.cluster, report);
      return report;
    },
  };
}
