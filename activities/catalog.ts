// The stored side of the catalog: every metadata record of a cluster, with NotFound where its archive is gone, plus
// archives under the same location that the product did not take (listed, never pruned).
import type { SnapshotPolicy, SnapshotRecord } from '../workflows/definitions';
import type { ActivityDeps } from './index';
import { openStore } from './store';

export interface StoredSnapshotEntry {
  snapshotName: string;
  status: 'Completed' | 'PartiallyFailed' | 'Failed' | 'NotFound';
  url: string;
  nominalTime?: string;
  finishedAt?: string;
  bytes?: number;
  keys?: number;
  error?: string;
  /** 'vcsnap' = has our metadata record; 'external' = an archive someone else put there. */
  origin: 'vcsnap' | 'external';
}

/** Pure: combine records and the archive listing. */
export function catalogEntries(records: SnapshotRecord[], archiveNames: Set<string>, urlFor: (name: string) => string): StoredSnapshotEntry[] {
  const entries: StoredSnapshotEntry[] = records.map((record) => ({
    snapshotName: record.snapshotName,
    status: record.status !== 'Failed' && !archiveNames.has(record.snapshotName) ? 'NotFound' : record.status,
    url: record.archiveUrl || urlFor(record.snapshotName),
    nominalTime: record.nominalTime,
    finishedAt: record.finishedAt,
    bytes: record.bytes,
    keys: record.keys,
    error: record.error,
    origin: 'vcsnap',
  }));
  const recorded = new Set(records.map((r) => r.snapshotName));
  for (const name of archiveNames) {
    if (!recorded.has(name)) entries.push({ snapshotName: name, status: 'Completed', url: urlFor(name), origin: 'external' });
  }
  return entries.sort((a, b) => b.snapshotName.localeCompare(a.snapshotName));
}

export function isClusterRecord(policy: SnapshotPolicy, record: SnapshotRecord): boolean {
  return record.cluster.name === policy.cluster.name && record.cluster.namespace === policy.cluster.namespace;
}

export function createCatalogActivities(deps: ActivityDeps) {
  return {
    async listStoredSnapshots(args: { policy: SnapshotPolicy }): Promise<StoredSnapshotEntry[]> {
      const store = await openStore(deps, args.policy);
      const [records, archives] = await Promise.all([store.listRecords(), store.listArchives()]);
      const prefix = `${args.policy.cluster.name}-`;
      const archiveNames = new Set(archives.map((a) => a.snapshotName).filter((name) => name.startsWith(prefix)));
      return catalogEntries(records.filter((r) => isClusterRecord(args.policy, r)), archiveNames, (name) => store.urlFor(name));
    },
  };
}
