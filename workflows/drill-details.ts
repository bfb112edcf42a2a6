// The drill's outcome as the Web UI shows it in the run's "current details" (markdown, hard line breaks): what was
// drilled, when, how long it took, and the objects counted per resource; the snapshot run it proves restorable.
import type { DrillResult } from '../contracts/drill';

export function drillDetails(result: DrillResult & { snapshotRun?: { workflowId: string; runId?: string } }): string {
  const who = `${result.cluster.namespace}/${result.cluster.name}`;
  const facts = [`**${result.outcome}**${result.refusal ? ` (${result.refusal})` : ''} — restore drill of ${who}`];
  facts.push(`snapshot: \`${result.snapshotName ?? '-'}\``);
  if (result.snapshotRun) facts.push(`snapshot run: \`${result.snapshotRun.workflowId}\`${result.snapshotRun.runId ? ` / \`${result.snapshotRun.runId}\`` : ''}`);
  facts.push(`verifiedAt: ${result.verifiedAt}`, `duration: ${result.durationSeconds}s`);
  if (result.keys !== undefined) facts.push(`keys: ${result.keys} restored and checked${result.apiServerChecked ? ', listed through a kube-apiserver' : ''}`);
  if (result.reason) facts.push(`reason: ${result.reason}`);
  const sections = [facts.join('  \n')];
  const objects = Object.entries(result.objects ?? {});
  if (objects.length > 0) sections.push(['| resource | objects |', '|---|---|', ...objects.map(([resource, count]) => `| ${resource} | ${count} |`)].join('\n'));
  return sections.join('\n\n');
}
