// The stored side of the catalog: every metadata record of a cluster, with NotFound where its archive is gone, plus
// archives under the same location that the product did not take (listed, never pruned).
import type { StoredSnapshotEntry } from '../contracts/catalog';
import type { SnapshotPolicy } from '../contracts/definitions';
import { catalogEntries, isClusterArchive, isClusterRecord } from '../lib/catalog';
import type { ActivityDeps } from './deps';
import { raiseAlertFromActivity } from './notify';
import { openStore } from './store';

export function createCatalogActivities(deps: ActivityDeps) {
  return {
    async listStoredSnapshots(args: { policy: SnapshotPolicy }): Promise<StoredSnapshotEntry[]> {
      const store = await openStore(deps, args.policy);
      const [records, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
      // An archive whose record names another cluster (one with the same name sharing the location) is that one's.
      const othersNames = new Set(records.filter((r) => !isClusterRecord(args.policy, r)).map((r) => r.snapshotName));
      const archiveNames = new Set(archives.map((a) => a.snapshotName).filter((name) => isClusterArchive(args.policy.cluster, name) && !othersNames.has(name)));
      const encrypted = new Set(archives.filter((a) => a.encrypted).map((a) => a.snapshotName));
      const entries = catalogEntries(records.filter((r) => isClusterRecord(args.policy, r)), archiveNames, (name) => store.urlFor(name, encrypted.has(name)));
      const { cluster } = args.policy;
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
    },
  };
}
