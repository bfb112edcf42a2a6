// One notification: its workflow ID is the event's key (raiseAlert), so the event is sent once; the send is retried
// by Temporal with backoff for up to a day while the receiver is down, without holding up anything else.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { AlertEvent } from '../contracts/alert';
import { NON_RETRYABLE_ERROR_TYPES, rootMessage } from '../contracts/errors';

const { sendAlert } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '23 hours',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function notifyWorkflow(event: AlertEvent): Promise<{ sent: boolean; reason?: string }> {
  try {
    return await sendAlert(event);
  } catch (err) {
    return { sent: false, reason: rootMessage(err) };
  }
}
