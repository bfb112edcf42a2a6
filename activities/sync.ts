// Discovery + reconcile as an activity, so `vcsnap sync` can run on its own Temporal schedule inside the worker
// (where the host-cluster credentials are). Uses the worker's own Temporal client from the activity context.
import { Context } from '@temporalio/activity';
import { failure } from '../contracts/errors';
import { discoverClusters } from '../lib/kube/discovery';
import { syncDrillSchedules, type DrillSyncReport } from '../lib/drill/schedules';
import { sync, type SyncReport } from '../lib/schedules';
import type { ActivityDeps } from './deps';

export function createSyncActivities(deps: ActivityDeps) {
  return {
    async syncPolicies(args: { taskQueue: string }): Promise<SyncReport & { drills: DrillSyncReport }> {
      if (!deps.kube) throw failure('KubeUnavailable', 'sync needs a host-cluster connection (KUBECONFIG or in-cluster)');
      const discovered = await discoverClusters(deps.kube, deps.defaultEngine, undefined, deps.servedNamespaces);
      const target = { client: Context.current().client, taskQueue: args.taskQueue };
      const report = await sync(target, discovered);
      return { ...report, drills: await syncDrillSchedules(target, discovered, deps.drillIntervalSeconds) };
    },
  };
}
