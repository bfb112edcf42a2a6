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
      const archiveNames = new Set(archives.map((a) => a.snapshotName).filter((name) => isClusterArchive(args.policy.cluster, name)));
      return catalogEntries(records.filter((r) => isClusterRecord(args.policy, r)), archiveNames, (name) => store.urlFor(name));
    },
  };
}
