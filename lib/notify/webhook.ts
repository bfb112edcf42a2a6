// Alert webhooks: one JSON body that is both an Alertmanager webhook payload (version 4: receivers written for
// Alertmanager read it as is) and a Slack incoming-webhook message (`text`; Slack ignores the other fields), or
// `format: slack` for the text alone. Sent with an `Idempotency-Key` header naming the event: delivery is at least
// once (a worker that dies mid-send retries), and a receiver drops repeats of a key it has seen.
// Plain fetch: one POST does not need a client library.
import { createHash } from 'node:crypto';
import type { AlertEvent } from '../../contracts/alert';
import { failure } from '../../contracts/errors';

export type WebhookFormat = 'alertmanager' | 'slack';

export interface Webhook {
  url: string;
  format: WebhookFormat;
}

const SEVERITY: Record<AlertEvent['kind'], 'critical' | 'warning'> = {
  SnapshotFailed: 'critical',
  SnapshotPartiallyFailed: 'warning',
  SnapshotNotFound: 'critical',
  DrillFailed: 'critical',
  RecoveryPointOverdue: 'critical',
};

export function alertText(event: AlertEvent): string {
  return `[${event.resolves ? 'resolved' : SEVERITY[event.kind]}] ${event.summary}${event.description ? `\n${event.description}` : ''}`;
}

export function webhookPayload(event: AlertEvent, format: WebhookFormat): Record<string, unknown> {
  if (format === 'slack') return { text: alertText(event) };
  const labels: Record<string, string> = {
    alertname: `Vcsnap${event.kind}`,
    severity: SEVERITY[event.kind],
    vcluster: event.cluster.name,
    vcluster_namespace: event.cluster.namespace,
    ...(event.snapshotName ? { snapshot: event.snapshotName } : {}),
  };
  // A resolved notification repeats its firing one's identity (group key, fingerprint, start), as Alertmanager does.
  const status = event.resolves ? 'resolved' : 'firing';
  const identity = event.resolves?.key ?? event.key;
  const annotations = { summary: event.summary, ...(event.description ? { description: event.description.slice(0, 2000) } : {}) };
  return {
    version: '4',
    groupKey: identity,
    truncatedAlerts: 0,
    status,
    receiver: 'vcsnap',
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: '',
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: event.resolves?.since ?? event.at,
        endsAt: event.resolves ? event.at : '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: createHash('sha256').update(identity).digest('hex').slice(0, 16),
      },
    ],
    text: alertText(event),
  };
}

/** The host only: a webhook URL's path is often its secret (Slack's is). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** POSTs the event; 5xx, 408, 429 and network errors throw retryable errors, other 4xx a non-retryable AlertRejected. */
export async function sendWebhook(webhook: Webhook, event: AlertEvent, signal?: AbortSignal): Promise<number> {
  const host = hostOf(webhook.url);
  let response: Response;
  try {
    response = await fetch(webhook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': event.key, 'user-agent': 'vcsnap' },
      body: JSON.stringify(webhookPayload(event, webhook.format)),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(15_000)]) : AbortSignal.timeout(15_000),
      redirect: 'error',
    });
  } catch (err) {
    throw new Error(`alert webhook at ${host} is not reachable: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.ok) return response.status;
  if (response.status >= 500 || response.status === 408 || response.status === 429) throw new Error(`alert webhook at ${host} answered ${response.status}`);
  throw failure('AlertRejected', `alert webhook at ${host} refused the notification with ${response.status}`);
}
