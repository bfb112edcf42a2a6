// Discovery + reconcile as an activity, so `vcsnap sync` can run on its own Temporal schedule inside the worker
// (where the host-cluster credentials are). Uses the worker's own Temporal client from the activity context.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { discoverClusters } from '../client/discovery';
import { sync, type SyncReport } from '../client/schedules';
import type { ActivityDeps } from './index';

export function createSyncActivities(deps: ActivityDeps) {
  return {
    async syncPolicies(args: { taskQueue: string }): Promise<SyncReport> {
      if (!deps.kube) throw ApplicationFailure.nonRetryable('sync needs a host-cluster connection (KUBECONFIG or in-cluster)', 'KubeUnavailable');
      const discovered = await discoverClusters(deps.kube);
      return sync({ client: Context.current().client, taskQueue: args.taskQueue }, discovered);
    },
  };
}
