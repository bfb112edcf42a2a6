// Runs a restore drill now (the drill schedule runs them on its own): on the worker, where storage credentials and
// the scratch etcd binary are. The result says passed, failed or refused, and why.
import type { DrillResult, DrillWorkflow } from '../contracts/drill';
import { SEARCH_ATTRIBUTES, TASK_QUEUE, WORKFLOW_TYPES, type SnapshotPolicy } from '../contracts/definitions';
import { drillScheduleIdFor } from '../contracts/naming';
import type { ScheduleTarget } from '../lib/schedules';

export async function runDrill(target: ScheduleTarget, policy: SnapshotPolicy, snapshotName?: string): Promise<DrillResult> {
  return target.client.workflow.execute<DrillWorkflow>(WORKFLOW_TYPES.drill, {
    taskQueue: target.taskQueue ?? TASK_QUEUE,
    workflowId: `${drillScheduleIdFor(policy.cluster)}.manual-${Date.now()}`,
    args: [{ policy, ...(snapshotName ? { snapshotName } : {}) }],
    // As the drill schedule's runs: listed in the Web UI beside the cluster's snapshot runs.
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.clusterName, value: policy.cluster.name },
      { key: SEARCH_ATTRIBUTES.clusterNamespace, value: policy.cluster.namespace },
    ],
    staticSummary: `Restore drill of vCluster ${policy.cluster.namespace}/${policy.cluster.name}${snapshotName ? ` (${snapshotName})` : ''}`,
  });
}
