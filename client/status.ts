// `vcsnap status`: per cluster, the last success, the last drill and the recovery point age against the schedule's
// interval (lib/recovery-point), from the same catalog `vcsnap snapshots` reads.
import type { ClusterRef } from '../contracts/definitions';
import { shortestIntervalSeconds } from '../lib/policy/cron';
import { recoveryPoint, scheduleIntervalSeconds, type RecoveryPoint } from '../lib/recovery-point';
import type { ScheduleTarget } from '../lib/schedules';
import { listSnapshotsOf } from './catalog';

export interface ClusterStatus extends RecoveryPoint {
  cluster: ClusterRef;
  paused: boolean;
  /** The catalog could not be read (storage), so the recovery point is unknown. */
  error?: string;
}

/** Every cluster with a schedule (or the given ones), as of `now`. */
export async function clusterStatuses(target: ScheduleTarget, clusters?: ClusterRef[], now = new Date()): Promise<ClusterStatus[]> {
  const catalogs = await listSnapshotsOf(target, clusters);
  return catalogs.map((catalog) => {
    const schedule = catalog.schedule;
    const interval = scheduleIntervalSeconds(schedule?.nextFireTimes ?? [], schedule?.cron ? shortestIntervalSeconds(schedule.cron) : undefined);
    return { cluster: catalog.cluster, paused: schedule?.paused ?? false, ...recoveryPoint(catalog.entries, interval, now), ...(catalog.error ? { error: catalog.error } : {}) };
  });
}
