// The recovery point check (workflows/recovery-point.ts): every cluster this task queue serves, its newest restorable
// snapshot against its schedule's interval (lib/recovery-point), and one notification per overdue episode, then one
// when it is over. Reads what `vcsnap status` reads, from the worker, where the storage credentials live.
import { Context } from '@temporalio/activity';
import type { AlertEvent, OverdueEpisode, RecoveryPointCheckState } from '../contracts/alert';
import { mapLimit } from '../lib/concurrency';
import { shortestIntervalSeconds } from '../lib/policy/cron';
import { formatAge, overdueTransitions, recoveryPoint, scheduleIntervalSeconds, type CheckedCluster, type RecoveryPoint } from '../lib/recovery-point';
import { SYNC_CONCURRENCY, describe, listPolicies } from '../lib/schedules';
import { storedSnapshotsOf } from './catalog';
import type { ActivityDeps } from './deps';
import { raiseAlertFromActivity } from './notify';

function overdueEvent(episode: OverdueEpisode, point: RecoveryPoint | undefined): AlertEvent {
  const who = `${episode.cluster.namespace}/${episode.cluster.name}`;
  const age = point?.ageSeconds === undefined ? 'no restorable snapshot' : `newest restorable snapshot ${episode.episode} is ${formatAge(point.ageSeconds)} old`;
  return {
    key: episode.key,
    kind: 'RecoveryPointOverdue',
    cluster: episode.cluster,
    ...(episode.episode === 'none' ? {} : { snapshotName: episode.episode }),
    summary: `Recovery point of ${who} is overdue: ${age}`,
    description: `the schedule expects one every ${point?.intervalSeconds ? formatAge(point.intervalSeconds) : 'interval'}; past twice that, a lost cluster loses more than its policy allows (paused schedule, failing runs, or no worker)`,
    at: episode.since,
  };
}

function resolvedEvent(episode: OverdueEpisode, restorable: string | undefined, at: string): AlertEvent {
  const who = `${episode.cluster.namespace}/${episode.cluster.name}`;
  return {
    key: `${episode.key}.resolved`,
    kind: 'RecoveryPointOverdue',
    cluster: episode.cluster,
    ...(episode.episode === 'none' ? {} : { snapshotName: episode.episode }),
    summary: `Recovery point of ${who} is back within its interval${restorable ? `: ${restorable}` : ''}`,
    at,
    resolves: { key: episode.key, since: episode.since },
  };
}

export function createRecoveryPointActivities(deps: ActivityDeps) {
  return {
    async checkRecoveryPoints(args: { taskQueue: string; open: OverdueEpisode[] }): Promise<RecoveryPointCheckState & { checked: number }> {
      const context = Context.current();
      const target = { client: context.client, taskQueue: args.taskQueue };
      const clusters = (await listPolicies(target)).flatMap((p) => (p.cluster ? [p.cluster] : []));
      const points = new Map<string, RecoveryPoint>();
      const checked: CheckedCluster[] = [];
      const notified = new Set(args.open.map((e) => `${e.cluster.namespace}/${e.cluster.name}`));
      await mapLimit(clusters, SYNC_CONCURRENCY, async (cluster) => {
        const schedule = await describe(target, cluster).catch((err: unknown) => {
          // Removed meanwhile, or Temporal did not answer: an episode already told stays open (unknown, not over).
          if (notified.has(`${cluster.namespace}/${cluster.name}`)) {
            checked.push({ cluster, point: { overdue: false }, scheduledSince: new Date(0), error: err instanceof Error ? err.message : String(err) });
          }
          return undefined;
        });
        if (!schedule) return;
        // Another fleet's cluster (namespaced mode: one worker deployment per set of namespaces) is that fleet's to check.
        if (!schedule.policy || schedule.taskQueue !== args.taskQueue) return;
        const interval = scheduleIntervalSeconds(schedule.nextFireTimes, shortestIntervalSeconds(schedule.policy.schedule));
        if (interval) deps.metrics?.scheduleIntervalSeen?.(cluster, interval);
        try {
          const point = recoveryPoint(await storedSnapshotsOf(deps, schedule.policy), interval, deps.clock());
          points.set(`${cluster.namespace}/${cluster.name}`, point);
          checked.push({ cluster, point, scheduledSince: schedule.createdAt });
        } catch (err) {
          checked.push({ cluster, point: { overdue: false }, scheduledSince: schedule.createdAt, error: err instanceof Error ? err.message : String(err) });
        }
        context.heartbeat();
      });
      // Without a webhook nobody is told, so no episode is open (the metrics above are refreshed all the same).
      if (!deps.alertWebhookSecret) return { open: [], checked: checked.length };
      const now = deps.clock();
      const transitions = overdueTransitions(args.open, checked, now);
      const open = transitions.open.filter((e) => !transitions.firing.includes(e));
      // An episode counts as notified once its notify workflow started (that one retries the send); one that could not
      // be raised is tried again by the next check.
      for (const episode of transitions.firing) {
        if (await raiseAlertFromActivity(deps, overdueEvent(episode, points.get(`${episode.cluster.namespace}/${episode.cluster.name}`)))) open.push(episode);
      }
      for (const { episode, restorable } of transitions.resolved) {
        if (!(await raiseAlertFromActivity(deps, resolvedEvent(episode, restorable, now.toISOString())))) open.push(episode);
      }
      return { open, checked: checked.length };
    },
  };
}
