// What the fault tests read back from Temporal: activity attempts and timings from a run's history, the pending
// activity of a running one (attempt, heartbeat details). The bounded wait is the harness's `eventually`.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';

const EventType = temporal.api.enums.v1.EventType;

export interface ActivityOutcome {
  activityType: string;
  /** The attempt that closed the activity (history records only the last one). */
  attempt: number;
  scheduledMs: number;
  closedMs: number;
  outcome: 'completed' | 'failed' | 'timedOut' | 'cancelled' | 'open';
  failureMessage?: string;
}

/** Every activity the run scheduled, in order, with its final attempt and how it closed. */
export async function activityOutcomes(handle: WorkflowHandle): Promise<ActivityOutcome[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const byScheduledId = new Map<string, ActivityOutcome>();
  for (const event of events) {
    const eventMs = tsToMs(event.eventTime);
    const id = String(event.eventId);
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const activityType = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
      byScheduledId.set(id, { activityType, attempt: 0, scheduledMs: eventMs, closedMs: 0, outcome: 'open' });
      continue;
    }
    const attributes =
      event.activityTaskStartedEventAttributes ??
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const outcome = attributes && byScheduledId.get(String(attributes.scheduledEventId));
    if (!outcome) continue;
    if (event.activityTaskStartedEventAttributes) outcome.attempt = event.activityTaskStartedEventAttributes.attempt ?? 0;
    else {
      outcome.closedMs = eventMs;
      outcome.outcome = event.activityTaskCompletedEventAttributes ? 'completed' : event.activityTaskFailedEventAttributes ? 'failed' : event.activityTaskTimedOutEventAttributes ? 'timedOut' : 'cancelled';
      outcome.failureMessage = (event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes)?.failure?.message ?? undefined;
    }
  }
  return [...byScheduledId.values()];
}

export interface PendingActivity {
  activityType: string;
  attempt: number;
  /** The last heartbeat the server recorded, decoded; undefined before the first one. */
  heartbeat?: unknown;
  lastFailure?: string;
  /** While waiting for a retry: the backoff between the last attempt's failure and the next attempt. */
  backoffMs?: number;
  /** When the server last recorded a heartbeat of the current attempt (ms since the epoch). */
  lastHeartbeatMs?: number;
  /** PENDING_ACTIVITY_STATE_SCHEDULED: waiting in its task queue for a worker to take it. */
  scheduled: boolean;
  /** The identity of the worker running the current attempt. */
  workerIdentity?: string;
}

export async function pendingActivities(handle: WorkflowHandle): Promise<PendingActivity[]> {
  const description = await handle.describe();
  return (description.raw.pendingActivities ?? []).map((pending) => {
    const payload = pending.heartbeatDetails?.payloads?.[0];
    return {
      activityType: pending.activityType?.name ?? '',
      attempt: pending.attempt ?? 0,
      heartbeat: payload ? defaultPayloadConverter.fromPayload(payload as Payload) : undefined,
      lastFailure: pending.lastFailure?.message ?? undefined,
      backoffMs: pending.nextAttemptScheduleTime && pending.lastAttemptCompleteTime ? tsToMs(pending.nextAttemptScheduleTime) - tsToMs(pending.lastAttemptCompleteTime) : undefined,
      lastHeartbeatMs: pending.lastHeartbeatTime ? tsToMs(pending.lastHeartbeatTime) : undefined,
      scheduled: pending.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
      workerIdentity: pending.lastWorkerIdentity || undefined,
    };
  });
}

export { eventually } from '../../harness/eventually';
