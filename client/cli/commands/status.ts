import { clusterStatuses, type ClusterStatus } from '../../status';
import { formatAge } from '../../../lib/recovery-point';
import { clusterArg } from '../args';
import { reportCommand } from '../command';
import { renderTable } from '../output';

const time = (iso?: string) => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-');

function row(s: ClusterStatus): string[] {
  const drill = s.lastDrill ? `${s.lastDrill.outcome === 'refused' ? `refused: ${s.lastDrill.refusal ?? ''}` : s.lastDrill.outcome} ${time(s.lastDrill.verifiedAt)}` : 'never';
  return [
    `${s.cluster.namespace}/${s.cluster.name}`,
    time(s.lastSuccess?.finishedAt),
    drill,
    s.ageSeconds === undefined ? '-' : formatAge(s.ageSeconds),
    s.intervalSeconds === undefined ? '-' : formatAge(s.intervalSeconds),
    s.error ? 'unknown' : s.overdue ? 'OVERDUE' : 'ok',
    [s.paused ? 'schedule paused' : '', s.error ? `storage not readable: ${s.error}` : ''].filter(Boolean).join('; '),
  ];
}

export const statusCommand = reportCommand(
  { name: 'status', usage: 'status [NS/NAME]', summary: 'is every cluster recoverable: last success, last drill, recovery point age, overdue' },
  {
    fetch: ({ target, options }, connection) => clusterStatuses(connection, target ? [clusterArg(target, options)] : undefined),
    format: (statuses) => renderTable(['CLUSTER', 'LAST SUCCESS', 'LAST DRILL', 'RPO AGE', 'INTERVAL', 'RPO', 'NOTE'], statuses.map(row)),
    // Scripts and probes can gate on it: 1 when any cluster is overdue.
    exitCode: (statuses) => (statuses.some((s) => s.overdue) ? 1 : 0),
  },
);
