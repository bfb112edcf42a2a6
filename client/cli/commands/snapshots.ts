import { listSnapshotsOf, type CatalogEntry, type ClusterCatalog } from '../../catalog';
import { clusterArg } from '../args';
import { reportCommand } from '../command';
import { renderTable } from '../output';

const clusterName = ({ cluster }: ClusterCatalog) => `${cluster.namespace}/${cluster.name}`;

/** `passed 2026-11-28T06:00:00Z`, `refused: digest-mismatch 2026-...`, or empty when never drilled. */
export function verifiedCell(e: CatalogEntry): string {
  if (!e.drill) return '';
  const what = e.drill.outcome === 'refused' ? `refused: ${e.drill.refusal ?? ''}` : e.drill.outcome;
  return `${what} ${e.drill.verifiedAt.replace(/\.\d{3}Z$/, 'Z')}`;
}

function entryRow(catalog: ClusterCatalog, e: CatalogEntry): string[] {
  const detail = e.error ?? (e.origin === 'external' ? 'not taken by vcsnap' : e.url ?? '');
  const lockedUntil = e.lockedUntil?.replace(/\.\d{3}Z$/, 'Z') ?? '';
  return [clusterName(catalog), e.snapshotName, e.status, e.time ?? '', e.bytes === undefined ? '' : String(e.bytes), e.keys === undefined ? '' : String(e.keys), verifiedCell(e), lockedUntil, e.copy ?? '', detail];
}

function formatCatalogs(catalogs: ClusterCatalog[]): string {
  return [
    renderTable(
      ['CLUSTER', 'SNAPSHOT', 'STATUS', 'TIME', 'SIZE', 'KEYS', 'VERIFIED', 'LOCKED UNTIL', 'COPY', 'DETAIL'],
      catalogs.flatMap((c) => c.entries.map((e) => entryRow(c, e))),
    ),
    ...catalogs.filter((c) => c.error).map((c) => `${clusterName(c)}: storage not readable: ${c.error}`),
  ].join('\n');
}

export const snapshotsCommand = reportCommand(
  { name: 'snapshots', usage: 'snapshots NS/NAME | --all', summary: 'the catalog: Scheduled, InProgress, Completed, PartiallyFailed, Failed, NotFound' },
  {
    fetch: ({ target, options }, connection) => listSnapshotsOf(connection, options.all ? undefined : [clusterArg(target, options)]),
    format: formatCatalogs,
  },
);
