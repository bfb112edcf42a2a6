// The stored side of the catalog: every metadata record of a cluster, with NotFound where its archive is gone, plus
// archives under the same location that the product did not take (listed, never pruned).
import type { StoredSnapshotEntry } from '../contracts/catalog';
import type { SnapshotPolicy } from '../contracts/definitions';
import { catalogEntries, isClusterArchive, isClusterRecord } from '../lib/catalog';
import type { ActivityDeps } from './deps';
import { raiseAlertFromActivity } from './notify';
import { openCopyStore, openStore } from './store';

/** Every stored entry of the policy's cluster; refreshes its recovery point metric and alerts on NotFound archives. */
export async function storedSnapshotsOf(deps: ActivityDeps, policy: SnapshotPolicy): Promise<StoredSnapshotEntry[]> {
  const store = await openStore(deps, policy);
  const [records, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
  // An archive whose record names another cluster (one with the same name sharing the location) is that one's.
  const othersNames = new Set(records.filter((r) => !isClusterRecord(policy, r)).map((r) => r.snapshotName));
  const archiveNames = new Set(archives.map((a) => a.snapshotName).filter((name) => isClusterArchive(policy.cluster, name) && !othersNames.has(name)));
  // A copy location that cannot be read leaves the COPY column empty rather than hiding the primary's catalog.
  const copyNames = await openCopyStore(deps, policy)
    .then(async (copyStore) => copyStore && new Set((await copyStore.listArchives()).map((a) => a.snapshotName)))
    .catch(() => undefined);
  const encrypted = new Set(archives.filter((a) => a.encrypted).map((a) => a.snapshotName));
  const entries = catalogEntries(records.filter((r) => isClusterRecord(policy, r)), archiveNames, (name) => store.urlFor(name, encrypted.has(name)), copyNames);
  const { cluster } = policy;
  const restorable = entries.find((e) => e.status === 'Completed' && e.origin === 'vcsnap' && e.finishedAt);
  if (restorable) deps.metrics?.restorableSnapshotSeen?.(cluster, restorable.finishedAt!);
  // A record whose archive is gone: told once per snapshot (the alert's key), however often the catalog is read.
  for (const entry of entries.filter((e) => e.status === 'NotFound')) {
    await raiseAlertFromActivity(deps, {
      key: `notfound.${cluster.namespace}.${cluster.name}.${entry.snapshotName}`,
      kind: 'SnapshotNotFound',
      cluster,
      snapshotName: entry.snapshotName,
      summary: `The archive of snapshot ${entry.snapshotName} of ${cluster.namespace}/${cluster.name} is gone from storage`,
      description: `its record is there, the archive ${entry.url} is not: it cannot be restored`,
      at: deps.clock().toISOString(),
    });
  }
  return entries;
}

export function createCatalogActivities(deps: ActivityDeps) {
  return {
    listStoredSnapshots(args: { policy: SnapshotPolicy }): Promise<StoredSnapshotEntry[]> {
      return storedSnapshotsOf(deps, args.policy);
    },
  };
}
