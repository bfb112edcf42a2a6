// Pure recovery-point rules for `vcsnap status`: a cluster's newest restorable snapshot (Completed, archive present,
// drilled or not), its age against the schedule's interval, and its last drill.
import type { OverdueEpisode } from '../contracts/alert';
import type { ClusterRef } from '../contracts/definitions';
import type { DrillSummary } from '../contracts/drill';

/** How many intervals a recovery point may fall behind before it is overdue (a missed or failed fire, and then some). */
export const OVERDUE_MARGIN = 2;

export interface RecoveryPointEntry {
  snapshotName: string;
  status: string;
  finishedAt?: string;
  origin?: string;
  drill?: Pick<DrillSummary, 'verifiedAt' | 'outcome' | 'refusal' | 'reason'>;
}

export interface RecoveryPoint {
  /** Newest Completed or PartiallyFailed run with its archive stored. */
  lastSuccess?: { snapshotName: string; finishedAt: string };
  /** Newest Completed snapshot whose archive is there: what a restore would bring back. */
  restorable?: { snapshotName: string; finishedAt: string };
  /** Newest drill of any snapshot. */
  lastDrill?: { snapshotName: string } & NonNullable<RecoveryPointEntry['drill']>;
  /** Newest passed drill. */
  lastVerified?: { snapshotName: string; verifiedAt: string };
  /** Seconds since `restorable` finished; absent when there is none. */
  ageSeconds?: number;
  /** Longest expected gap between two snapshots, in seconds. */
  intervalSeconds?: number;
  /** No restorable snapshot, or one older than twice the interval (a fire was missed or failed, and then some). */
  overdue: boolean;
}

const latest = <T>(items: T[], time: (item: T) => string | undefined): T | undefined =>
  items.reduce<T | undefined>((best, item) => ((time(item) ?? '') > (best === undefined ? '' : (time(best) ?? '')) ? item : best), undefined);

/**
 * The longest gap between consecutive upcoming fires (a weekday schedule's weekend counts), else the shortest
 * interval of its cron (a paused schedule lists no upcoming fires).
 */
export function scheduleIntervalSeconds(nextFireTimes: readonly Date[], shortestSeconds?: number): number | undefined {
  let longest = 0;
  for (let i = 1; i < nextFireTimes.length; i++) longest = Math.max(longest, (nextFireTimes[i]!.getTime() - nextFireTimes[i - 1]!.getTime()) / 1000);
  return longest > 0 ? longest : shortestSeconds && shortestSeconds > 0 ? shortestSeconds : undefined;
}

export function recoveryPoint(entries: readonly RecoveryPointEntry[], intervalSeconds: number | undefined, now: Date): RecoveryPoint {
  const stored = entries.filter((e) => e.finishedAt && (e.status === 'Completed' || e.status === 'PartiallyFailed'));
  const success = latest(stored, (e) => e.finishedAt);
  const restorable = latest(stored.filter((e) => e.status === 'Completed'), (e) => e.finishedAt);
  const drilled = entries.filter((e) => e.drill);
  const lastDrill = latest(drilled, (e) => e.drill!.verifiedAt);
  const lastVerified = latest(drilled.filter((e) => e.drill!.outcome === 'passed'), (e) => e.drill!.verifiedAt);
  const ageSeconds = restorable ? Math.max(0, Math.round((now.getTime() - Date.parse(restorable.finishedAt!)) / 1000)) : undefined;
  return {
    ...(success ? { lastSuccess: { snapshotName: success.snapshotName, finishedAt: success.finishedAt! } } : {}),
    ...(restorable ? { restorable: { snapshotName: restorable.snapshotName, finishedAt: restorable.finishedAt! } } : {}),
    ...(lastDrill ? { lastDrill: { snapshotName: lastDrill.snapshotName, ...lastDrill.drill! } } : {}),
    ...(lastVerified ? { lastVerified: { snapshotName: lastVerified.snapshotName, verifiedAt: lastVerified.drill!.verifiedAt } } : {}),
    ...(ageSeconds !== undefined ? { ageSeconds } : {}),
    ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
    overdue: ageSeconds === undefined || (intervalSeconds !== undefined && ageSeconds > OVERDUE_MARGIN * intervalSeconds),
  };
}

export interface CheckedCluster {
  cluster: ClusterRef;
  point: RecoveryPoint;
  /** When its schedule was created: a cluster that never had a snapshot is overdue only once it has had time for one. */
  scheduledSince: Date;
  /** Its catalog could not be read: its state is unknown, its episode (if any) stays as it was. */
  error?: string;
}

export interface OverdueTransitions {
  /** Episodes to notify now (new since the last check). */
  firing: OverdueEpisode[];
  /** Open episodes whose cluster is back within its interval, with the restorable snapshot that ended each. */
  resolved: Array<{ episode: OverdueEpisode; restorable?: string }>;
  /** Episodes still open after this check, resolved ones excluded (the caller keeps those it failed to send). */
  open: OverdueEpisode[];
}

const clusterKey = (cluster: ClusterRef) => `${cluster.namespace}/${cluster.name}`;

/**
 * One check's overdue episodes against the last one's: an episode is named by the cluster's newest restorable snapshot
 * when it began (`none` if there was none), so however often the check runs, and whatever it forgot, it is notified
 * once; an open episode whose cluster is no longer overdue is resolved; a cluster whose catalog could not be read
 * keeps its episode; a cluster no longer checked (schedule removed) drops it.
 */
export function overdueTransitions(previous: readonly OverdueEpisode[], checked: readonly CheckedCluster[], now: Date): OverdueTransitions {
  const before = new Map(previous.map((e) => [clusterKey(e.cluster), e]));
  const result: OverdueTransitions = { firing: [], resolved: [], open: [] };
  for (const { cluster, point, scheduledSince, error } of checked) {
    const known = before.get(clusterKey(cluster));
    if (error) {
      if (known) result.open.push(known);
      continue;
    }
    const neverHadTime =
      point.restorable === undefined && point.intervalSeconds !== undefined && now.getTime() - scheduledSince.getTime() <= OVERDUE_MARGIN * point.intervalSeconds * 1000;
    if (point.overdue && !neverHadTime) {
      const episode = point.restorable?.snapshotName ?? 'none';
      if (known?.episode === episode) {
        result.open.push(known);
        continue;
      }
      if (known) result.resolved.push({ episode: known, restorable: point.restorable?.snapshotName });
      const opened = { cluster, episode, key: `rpo.${cluster.namespace}.${cluster.name}.${episode}`, since: now.toISOString() };
      result.firing.push(opened);
      result.open.push(opened);
    } else if (known) {
      result.resolved.push({ episode: known, restorable: point.restorable?.snapshotName });
    }
  }
  return result;
}

/** `90` -> `1m30s`, `93784` -> `1d2h3m`: ages in a table. */
export function formatAge(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d > 0) return `${d}d${h}h${m}m`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
