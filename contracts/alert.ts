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
  /**
   * Set when this notification says an earlier one is over (an overdue recovery point that a snapshot brought back):
   * the earlier event's key and time. Sent as Alertmanager's `resolved`, with the earlier alert's fingerprint.
   */
  resolves?: { key: string; since: string };
}

/** A cluster whose recovery point is overdue and was notified: the episode's key and when it began. */
export interface OverdueEpisode {
  cluster: ClusterRef;
  /** The newest restorable snapshot when the episode began (`none` when there was none): a snapshot ends it. */
  episode: string;
  key: string;
  since: string;
}

/** The recovery point check's result, which the next scheduled run reads back (the schedule's last completion result). */
export interface RecoveryPointCheckState {
  open: OverdueEpisode[];
}

/** `notifyWorkflow`'s signature, for clients that start it by name. */
export type NotifyWorkflow = (event: AlertEvent) => Promise<{ sent: boolean; reason?: string }>;
