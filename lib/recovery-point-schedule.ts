// The recovery point check's schedule: one per task queue (`vcsnap-recovery-point.<queue>`), ensured by each worker
// at start (idempotent: the first creates it, the others find it), every VCSNAP_RECOVERY_POINT_CHECK (default 5m).
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../contracts/definitions';
import { recoveryPointScheduleIdFor } from '../contracts/naming';
import type { ApplyOutcome, ScheduleTarget } from './schedules';

export async function applyRecoveryPointSchedule(target: Required<ScheduleTarget>, everySeconds: number): Promise<ApplyOutcome> {
  const scheduleId = recoveryPointScheduleIdFor(target.taskQueue);
  const handle = target.client.schedule.getHandle(scheduleId);
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
  let existing: ScheduleDescription | undefined;
  try {
    existing = await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  if (!existing) {
    try {
      await target.client.schedule.create({ scheduleId, ...wanted, memo: { managedBy: 'vcsnap', kind: 'recovery-point' } });
      return 'created';
    } catch (err) {
      // Another worker of the fleet, starting at the same time, created it.
      if (err instanceof ScheduleAlreadyRunning) return 'unchanged';
      throw err;
    }
  }
  const every = existing.spec.intervals?.[0]?.every;
  if ((typeof every === 'number' ? every : undefined) === everySeconds * 1000) return 'unchanged';
  await handle.update((previous) => ({ ...previous, ...wanted, state: previous.state }));
  return 'updated';
}

export async function removeRecoveryPointSchedule(target: Required<ScheduleTarget>): Promise<boolean> {
  try {
    await target.client.schedule.getHandle(recoveryPointScheduleIdFor(target.taskQueue)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
