// Alerts: the events the product notifies people about, and the notify workflow's input. Deterministic.
import type { ClusterRef } from './definitions';

export const ALERT_KINDS = ['SnapshotFailed', 'SnapshotPartiallyFailed', 'SnapshotNotFound', 'DrillFailed', 'RecoveryPointOverdue'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertEvent {
  /** Names the event once: its notify workflow's ID and the webhook's idempotency key (one notification per event). */
  key: string;
  kind: AlertKind;
  cluster: ClusterRef;
  snapshotName?: string;
  /** One line: what happened. */
  summary: string;
  /** What to look at (the failure's reason). */
  description?: string;
  /** When the event happened (ISO). */
  at: string;
}

/** `notifyWorkflow`'s signature, for clients that start it by name. */
export type NotifyWorkflow = (event: AlertEvent) => Promise<{ sent: boolean; reason?: string }>;
