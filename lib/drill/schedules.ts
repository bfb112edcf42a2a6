// One drill schedule per cluster (`vcsnap-drill.<namespace>.<name>`), beside its snapshot schedule: every interval
// (the worker's VCSNAP_DRILL_INTERVAL, or the cluster's `vcsnap.io/drill-interval` annotation) it starts the drill
// workflow. Sync keeps them in step with discovery, as it does the snapshot schedules.
import { ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import type { DrillWorkflowInput } from '../../contracts/drill';
import { SEARCH_ATTRIBUTES, TASK_QUEUE, WORKFLOW_TYPES, type ClusterRef, type SnapshotPolicy } from '../../contracts/definitions';
import { drillScheduleIdFor } from '../../contracts/naming';
import { mapLimit } from '../concurrency';
import { listWithRecords, type ListedSchedule } from '../schedule-update';
import {
  applySchedule,
  applyListed,
  removeSchedule,
  scheduleDigest,
  SYNC_CONCURRENCY,
  type ApplyOutcome,
  type ListedAs,
  type PolicyOrigin,
  type ScheduleTarget,
  type WantedSchedule,
} from '../schedules';

export const DRILL_SCHEDULE_PREFIX = 'vcsnap-drill.';

function desired(policy: SnapshotPolicy, intervalSeconds: number, taskQueue: string) {
  const input: DrillWorkflowInput = { policy };
  return {
    spec: { intervals: [{ every: intervalSeconds * 1000 }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: WORKFLOW_TYPES.drill,
      workflowId: drillScheduleIdFor(policy.cluster),
      taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.clusterName, value: policy.cluster.name },
        { key: SEARCH_ATTRIBUTES.clusterNamespace, value: policy.cluster.namespace },
      ],
      staticSummary: `Restore drill of vCluster ${policy.cluster.namespace}/${policy.cluster.name}`,
    },
    // A drill that is still running when the next is due makes that one redundant.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60 * 60 * 1000, pauseOnFailure: false },
  };
}

function sameAs(description: ScheduleDescription, policy: SnapshotPolicy, intervalSeconds: number, taskQueue: string): boolean {
  const action = description.action as { taskQueue?: string; args?: unknown[] };
  const input = action.args?.[0] as DrillWorkflowInput | undefined;
  const every = description.spec.intervals?.[0]?.every;
  const everyMs = typeof every === 'number' ? every : undefined;
  return JSON.stringify(input?.policy) === JSON.stringify(policy) && action.taskQueue === taskQueue && everyMs === intervalSeconds * 1000;
}

function wantedDrillSchedule(policy: SnapshotPolicy, intervalSeconds: number, taskQueue: string, origin: PolicyOrigin): WantedSchedule {
  return {
    scheduleId: drillScheduleIdFor(policy.cluster),
    options: desired(policy, intervalSeconds, taskQueue),
    memo: { cluster: policy.cluster, managedBy: 'vcsnap', origin, kind: 'drill' },
    searchAttributes: [],
    digest: scheduleDigest('drill', policy, intervalSeconds, taskQueue),
    matches: (existing) => sameAs(existing, policy, intervalSeconds, taskQueue),
  };
}

/** Creates or updates the cluster's drill schedule (idempotent); an operator's pause survives it. */
export function applyDrillSchedule(target: ScheduleTarget, policy: SnapshotPolicy, intervalSeconds: number, origin: PolicyOrigin = 'api', listed?: ListedAs): Promise<ApplyOutcome> {
  return applySchedule(target, wantedDrillSchedule(policy, intervalSeconds, target.taskQueue ?? TASK_QUEUE, origin), listed);
}

export function removeDrillSchedule(target: ScheduleTarget, cluster: ClusterRef): Promise<boolean> {
  return removeSchedule(target, drillScheduleIdFor(cluster));
}

export interface DrillScheduleSummary {
  scheduleId: string;
  cluster?: ClusterRef;
  origin?: PolicyOrigin;
  paused: boolean;
  nextFireTime?: Date;
  /** The digest of what vcsnap last applied (lib/schedules scheduleDigest). */
  appliedPolicy?: string;
}

export async function listDrillSchedules(target: ScheduleTarget): Promise<DrillScheduleSummary[]> {
  return (await listForSync(target)).map(({ basis: _basis, ...summary }) => summary);
}

/** The listing with what sync needs besides: the basis of an update without a describe. */
function listForSync(target: ScheduleTarget): Promise<Array<DrillScheduleSummary & ListedSchedule>> {
  return listWithRecords(target.client, DRILL_SCHEDULE_PREFIX, () => ({}));
}

export interface DrillSyncReport {
  applied: Array<{ scheduleId: string; outcome: ApplyOutcome; everySeconds: number }>;
  deleted: string[];
  failed: Array<{ scheduleId: string; error: string }>;
}

/**
 * Drill schedules for every discovered cluster with a policy: its own interval, else `defaultIntervalSeconds`;
 * `null` (annotation `off`, or no default) = no drill schedule. Clusters in error keep theirs. Only schedules sync
 * created are deleted.
 */
export async function syncDrillSchedules(
  target: ScheduleTarget,
  clusters: ReadonlyArray<{ cluster: ClusterRef; policy: SnapshotPolicy | null; error?: string; drillIntervalSeconds?: number | null }>,
  defaultIntervalSeconds: number | undefined,
): Promise<DrillSyncReport> {
  const report: DrillSyncReport = { applied: [], deleted: [], failed: [] };
  const keep = new Set<string>();
  const toApply: Array<{ policy: SnapshotPolicy; every: number }> = [];
  for (const { cluster, policy, error, drillIntervalSeconds } of clusters) {
    const every = drillIntervalSeconds === undefined ? defaultIntervalSeconds : (drillIntervalSeconds ?? undefined);
    if (error) keep.add(drillScheduleIdFor(cluster));
    else if (policy && every) {
      keep.add(drillScheduleIdFor(cluster));
      toApply.push({ policy, every });
    }
  }
  // One listing says what exists and what was last applied to it, as for the snapshot schedules (lib/schedules sync).
  const taskQueue = target.taskQueue ?? TASK_QUEUE;
  const listed = new Map((await listForSync(target)).map((summary) => [summary.scheduleId, summary]));
  await mapLimit(toApply, SYNC_CONCURRENCY, async ({ policy, every }) => {
    const wanted = wantedDrillSchedule(policy, every, taskQueue, 'discovery');
    const { scheduleId } = wanted;
    try {
      report.applied.push({ scheduleId, outcome: await applyListed(target, wanted, listed), everySeconds: every });
    } catch (err) {
      report.failed.push({ scheduleId, error: err instanceof Error ? err.message : String(err) });
    }
  });
  for (const existing of listed.values()) {
    if (keep.has(existing.scheduleId) || existing.origin !== 'discovery') continue;
    if (await removeSchedule(target, existing.scheduleId)) report.deleted.push(existing.scheduleId);
  }
  report.applied.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  return report;
}
