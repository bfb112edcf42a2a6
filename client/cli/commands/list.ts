import { listPolicies, type PolicySummary } from '../../../lib/schedules';
import { reportCommand } from '../command';
import { renderTable } from '../output';

function formatPolicies(policies: PolicySummary[]): string {
  return renderTable(
    ['SCHEDULE', 'TIMEZONE', 'PAUSED', 'NEXT FIRE', 'NOTE'],
    policies.map((p) => [p.scheduleId, p.timezone ?? '', String(p.paused), p.nextFireTime?.toISOString() ?? '', p.note ?? '']),
  );
}

export const listCommand = reportCommand(
  { name: 'list', usage: 'list', summary: 'all snapshot schedules' },
  { fetch: (_commandLine, connection) => listPolicies(connection), format: formatPolicies },
);
