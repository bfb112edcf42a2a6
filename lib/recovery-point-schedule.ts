// The recovery point check's schedule: one per task queue (`vcsnap-recovery-point.<queue>`), ensured by each worker
// at start (idempotent: the first creates it, the others find it), every VCSNAP_RECOVERY_POINT_CHECK (default 5m).
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../contracts/definitions';
import { recoveryPointScheduleIdFor } from '../contracts/naming';
import { applySchedule, removeSchedule, scheduleDigest, type ApplyOutcome, type ScheduleTarget } from './schedules';

export function applyRecoveryPointSchedule(target: Required<ScheduleTarget>, everySeconds: number): Promise<ApplyOutcome> {
  const scheduleId = recoveryPointScheduleIdFor(target.taskQueue);
  const wanted = {
    spec: { intervals: [{ every: everySeconds * 1000 }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: WORKFLOW_TYPES.recoveryPoint,
      workflowId: scheduleId,
      taskQueue: target.taskQueue,
      args: [{ taskQueue: target.taskQueue }],
      workflowExecutionTimeout: 30 * 60 * 1000,
      staticSummary: `Recovery point check of the clusters on task queue ${target.taskQueue}`,
    },
    // One check at a time; a missed one is made up by the next.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60 * 1000, pauseOnFailure: false },
  };
  return applySchedule(target, {
    scheduleId,
    options: wanted,
    memo: { managedBy: 'vcsnap', kind: 'recovery-point' },
    searchAttributes: [],
    digest: scheduleDigest('recovery-point', everySeconds, target.taskQueue),
    matches: (existing) => {
      const every = existing.spec.intervals?.[0]?.every;
      return (typeof every === 'number' ? every : undefined) === everySeconds * 1000;
    },
  });
}

export function removeRecoveryPointSchedule(target: Required<ScheduleTarget>): Promise<boolean> {
  return removeSchedule(target, recoveryPointScheduleIdFor(target.taskQueue));
}
