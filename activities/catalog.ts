// The stored side of the catalog: every metadata record of a cluster, with NotFound where its archive is gone, plus
// archives under the same location that the product did not take (listed, never pruned).
import type { StoredSnapshotEntry } from '../contracts/catalog';
import type { SnapshotPolicy } from '../contracts/definitions';
import { catalogEntries, isClusterArchive, isClusterRecord } from '../lib/catalog';
import type { ActivityDeps } from './deps';
import { openStore } from './store';

export function createCatalogActivities(deps: ActivityDeps) {
  return {
    async listStoredSnapshots(args: { policy: SnapshotPolicy }): Promise<StoredSnapshotEntry[]> {
      const store = await openStore(deps, args.policy);
      const [records, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
      // An archive whose record names another cluster (one with the same name sharing the location) is that one's.
      const othersNames = new Set(records.filter((r) => !isClusterRecord(args.policy, r)).map((r) => r.snapshotName));
      const archiveNames = new Set(archives.map((a) => a.snapshotName).filter((name) => isClusterArchive(args.policy.cluster, name) && !othersNames.has(name)));
      return catalogEntries(records.filter((r) => isClusterRecord(args.policy, r)), archiveNames, (name) => store.urlFor(name));
    },
  };
}
