import { describe, type PolicyDescription } from '../../../lib/schedules';
import { clusterArg } from '../args';
import { reportCommand } from '../command';
import { renderTable } from '../output';

function formatDescription(d: PolicyDescription): string {
  return [
    `schedule:  ${d.scheduleId}`,
    `cron:      ${d.policy?.schedule ?? '?'} (${d.policy?.timezone ?? '?'})`,
    `storage:   ${d.policy ? JSON.stringify(d.policy.storage) : '?'}`,
    `paused:    ${d.paused}${d.note ? ` (${d.note})` : ''}`,
    `next:      ${d.nextFireTimes.map((t) => t.toISOString()).join(', ')}`,
    `running:   ${d.runningWorkflowIds.join(', ') || '-'}`,
    '',
    renderTable(['SCHEDULED', 'STARTED', 'WORKFLOW'], d.recentRuns.map((r) => [r.scheduledAt.toISOString(), r.takenAt.toISOString(), r.workflowId])),
  ].join('\n');
}

export const describeCommand = reportCommand(
  { name: 'describe', usage: 'describe NS/NAME', summary: 'next fire times, recent runs, pause state' },
  { fetch: ({ target, options }, connection) => describe(connection, clusterArg(target, options)), format: formatDescription },
);
