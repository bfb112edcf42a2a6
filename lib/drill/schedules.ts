// One drill schedule per cluster (`vcsnap-drill.<namespace>.<name>`), beside its snapshot schedule: every interval
// (the worker's VCSNAP_DRILL_INTERVAL, or the cluster's `vcsnap.io/drill-interval` annotation) it starts the drill
// workflow. Sync keeps them in step with discovery, as it does the snapshot schedules.
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import type { DrillWorkflowInput } from '../../contracts/drill';
import { SEARCH_ATTRIBUTES, TASK_QUEUE, WORKFLOW_TYPES, type ClusterRef, type SnapshotPolicy } from '../../contracts/definitions';
import { drillScheduleIdFor } from '../../contracts/naming';
import { mapLimit } from '../concurrency';
import { SYNC_CONCURRENCY, type ApplyOutcome, type PolicyOrigin, type ScheduleTarget } from '../schedules';

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

/** Creates or updates the cluster's drill schedule (idempotent); an operator's pause survives it. */
export async function applyDrillSchedule(target: ScheduleTarget, policy: SnapshotPolicy, intervalSeconds: number, origin: PolicyOrigin = 'api'): Promise<ApplyOutcome> {
  const taskQueue = target.taskQueue ?? TASK_QUEUE;
  const scheduleId = drillScheduleIdFor(policy.cluster);
  const handle = target.client.schedule.getHandle(scheduleId);
  const wanted = desired(policy, intervalSeconds, taskQueue);
  let existing: ScheduleDescription | undefined;
  try {
    existing = await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  if (!existing) {
    await target.client.schedule.create({ scheduleId, ...wanted, memo: { cluster: policy.cluster, managedBy: 'vcsnap', origin, kind: 'drill' } });
    return 'created';
  }
  if (sameAs(existing, policy, intervalSeconds, taskQueue)) return 'unchanged';
  await handle.update((previous) => ({ ...previous, ...wanted, state: previous.state }));
  return 'updated';
}

export async function removeDrillSchedule(target: ScheduleTarget, cluster: ClusterRef): Promise<boolean> {
  try {
    await target.client.schedule.getHandle(drillScheduleIdFor(cluster)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

export interface DrillScheduleSummary {
  scheduleId: string;
  cluster?: ClusterRef;
  origin?: PolicyOrigin;
  paused: boolean;
  nextFireTime?: Date;
}

export async function listDrillSchedules(target: ScheduleTarget): Promise<DrillScheduleSummary[]> {
  const found: DrillScheduleSummary[] = [];
  for await (const schedule of target.client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(DRILL_SCHEDULE_PREFIX)) continue;
    found.push({
      scheduleId: schedule.scheduleId,
      cluster: schedule.memo?.cluster as ClusterRef | undefined,
      origin: schedule.memo?.origin as PolicyOrigin | undefined,
      paused: schedule.state.paused,
      nextFireTime: schedule.info.nextActionTimes[0],
    });
  }
  return found.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
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
  await mapLimit(toApply, SYNC_CONCURRENCY, async ({ policy, every }) => {
    const scheduleId = drillScheduleIdFor(policy.cluster);
    try {
      report.applied.push({ scheduleId, outcome: await applyDrillSchedule(target, policy, every, 'discovery'), everySeconds: every });
    } catch (err) {
      report.failed.push({ scheduleId, error: err instanceof Error ? err.message : String(err) });
    }
  });
  for (const existing of await listDrillSchedules(target)) {
    if (keep.has(existing.scheduleId) || existing.origin !== 'discovery') continue;
    await target.client.schedule.getHandle(existing.scheduleId).delete();
    report.deleted.push(existing.scheduleId);
  }
  report.applied.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  return report;
}
