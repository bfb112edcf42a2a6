// Pure catalog rules: records plus the archive listing make the stored side of a cluster's catalog.
import type { StoredSnapshotEntry } from '../contracts/catalog';
import type { ClusterRef, SnapshotPolicy, SnapshotRecord } from '../contracts/definitions';
import { nominalTimeOf, snapshotNameFor } from '../contracts/naming';

/** Pure: combine records and the archive listing. */
/** `copyNames`: the archives in the policy's copy location, when it has one. */
export function catalogEntries(records: SnapshotRecord[], archiveNames: Set<string>, urlFor: (name: string) => string, copyNames?: Set<string>): StoredSnapshotEntry[] {
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
    ...(record.lock?.retainUntil ? { lockedUntil: record.lock.retainUntil } : {}),
    ...(copyNames && record.status !== 'Failed' ? { copy: copyStateOf(record, copyNames) } : {}),
    ...(record.drill ? { drill: { verifiedAt: record.drill.verifiedAt, outcome: record.drill.outcome, refusal: record.drill.refusal, reason: record.drill.reason } } : {}),
  }));
  const recorded = new Set(records.map((r) => r.snapshotName));
  for (const name of archiveNames) {
    if (!recorded.has(name)) entries.push({ snapshotName: name, status: 'Completed', url: urlFor(name), origin: 'external' });
  }
  return entries.sort((a, b) => b.snapshotName.localeCompare(a.snapshotName));
}

function copyStateOf(record: SnapshotRecord, copyNames: Set<string>): NonNullable<StoredSnapshotEntry['copy']> {
  if (copyNames.has(record.snapshotName)) return 'copied';
  return record.copy?.sha256 ? 'missing' : 'failed';
}

/**
 * An archive is this cluster's when its name is exactly `<cluster>-<timestamp>`: `demo-2-<timestamp>` belongs to
 * `demo-2`, not to `demo` (a prefix match would list one cluster's snapshots in another's catalog).
 */
export function isClusterArchive(cluster: ClusterRef, snapshotName: string): boolean {
  const taken = nominalTimeOf(snapshotName);
  return taken !== undefined && snapshotNameFor(cluster.name, taken) === snapshotName;
}

export function isClusterRecord(policy: SnapshotPolicy, record: SnapshotRecord): boolean {
  return record.cluster.name === policy.cluster.name && record.cluster.namespace === policy.cluster.namespace;
}
