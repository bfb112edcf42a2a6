// Alerts: raiseAlert starts one notify workflow per event (its ID is the event's key, so an event raised twice is
// sent once), and sendAlert, the notify workflow's activity, posts it to the webhook named by the worker's Secret.
// Raising never fails its caller: a snapshot or drill is never held up by its notification.
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { AlertEvent, NotifyWorkflow } from '../contracts/alert';
import { WORKFLOW_TYPES } from '../contracts/definitions';
import { pick, readSecret } from '../lib/kube/secrets';
import { sendWebhook, type WebhookFormat } from '../lib/notify/webhook';
import type { ActivityDeps } from './deps';

export function alertWorkflowIdFor(event: AlertEvent): string {
  return `vcsnap-alert.${event.key}`;
}

/** Starts the event's notify workflow from inside an activity; logs instead of throwing. */
export async function raiseAlertFromActivity(deps: ActivityDeps, event: AlertEvent): Promise<boolean> {
  if (!deps.alertWebhookSecret) return false;
  const context = Context.current();
  try {
    await context.client.workflow.start<NotifyWorkflow>(WORKFLOW_TYPES.notify, {
      taskQueue: context.info.taskQueue,
      workflowId: alertWorkflowIdFor(event),
      args: [event],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowExecutionTimeout: '1 day',
      staticSummary: event.summary.slice(0, 200),
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
    context.log.warn('alert not raised', { key: event.key, error: err instanceof Error ? err.message : String(err) });
    return false;
  }
}

export function createNotifyActivities(deps: ActivityDeps) {
  return {
    raiseAlert(event: AlertEvent): Promise<boolean> {
      return raiseAlertFromActivity(deps, event);
    },

    async sendAlert(event: AlertEvent): Promise<{ sent: boolean; status?: number }> {
      const ref = deps.alertWebhookSecret;
      if (!ref) return { sent: false };
      const data = await readSecret(deps.kube, ref, 'alert webhook', { namespace: ref.namespace, sharedNamespaces: [] });
      const url = pick(data, ref, ['url'])!.toString('utf8').trim();
      const format: WebhookFormat = pick(data, ref, ['format'], true)?.toString('utf8').trim() === 'slack' ? 'slack' : 'alertmanager';
      const status = await sendWebhook({ url, format }, event, Context.current().cancellationSignal);
      Context.current().log.info('alert sent', { key: event.key, kind: event.kind, status });
      return { sent: true, status };
    },
  };
}
