// Pure retention planner (SPEC 8): which of a cluster's snapshots to delete, and why.
export interface RetentionCandidate {
  snapshotName: string;
  status: 'Completed' | 'PartiallyFailed' | 'Failed';
  /** ISO time the snapshot is named after. */
  nominalTime: string;
}

export interface RetentionPolicy {
  periodDays: number;
  maxSnapshots: number;
}

export interface RetentionDecision {
  snapshotName: string;
  reason: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Newest first; equal times fall back to the name so the plan is stable. */
function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  const byTime = Date.parse(b.nominalTime) - Date.parse(a.nominalTime);
  return byTime !== 0 ? byTime : b.snapshotName.localeCompare(a.snapshotName);
}

/**
 * Older than `periodDays` -> delete; beyond the newest `maxSnapshots` successful -> delete; failed records age out
 * by period and are capped at `maxSnapshots` on their own. The newest successful snapshot is never deleted.
 */
export function planRetention(records: RetentionCandidate[], policy: RetentionPolicy, now: Date): RetentionDecision[] {
  const cutoff = now.getTime() - policy.periodDays * DAY_MS;
  const successful = records.filter((r) => r.status !== 'Failed').sort(newestFirst);
  const failed = records.filter((r) => r.status === 'Failed').sort(newestFirst);
  const decisions: RetentionDecision[] = [];
  const decide = (group: RetentionCandidate[], kind: string, protectNewest: boolean) =>
    group.forEach((record, index) => {
      if (protectNewest && index === 0) return;
      if (Date.parse(record.nominalTime) < cutoff) {
        decisions.push({ snapshotName: record.snapshotName, reason: `older than ${policy.periodDays} days` });
      } else if (index >= policy.maxSnapshots) {
        decisions.push({ snapshotName: record.snapshotName, reason: `beyond the newest ${policy.maxSnapshots} ${kind} snapshots` });
      }
    });
  decide(successful, 'successful', true);
  decide(failed, 'failed', false);
  return decisions;
}
