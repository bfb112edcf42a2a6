// Pure catalog rules: records plus the archive listing make the stored side of a cluster's catalog.
import type { StoredSnapshotEntry } from '../contracts/catalog';
import type { SnapshotPolicy, SnapshotRecord } from '../contracts/definitions';

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
