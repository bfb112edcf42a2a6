// The catalog of a cluster's snapshots: Scheduled (next fire), InProgress (open runs, from Temporal visibility) and
// every stored record (Completed, PartiallyFailed, Failed, NotFound). Stored entries are read by a short workflow on
// the worker, where the storage credentials live.
import type { Client } from '@temporalio/client';
import type { StoredSnapshotEntry, CatalogWorkflow } from '../contracts/catalog';
import { TASK_QUEUE, WORKFLOW_TYPES, statusQuery, type ClusterRef, type SnapshotPolicy, type SnapshotStatus } from '../contracts/definitions';
import { snapshotNameFor } from '../contracts/naming';
import { describe, listPolicies, type ScheduleTarget } from '../lib/schedules';

export interface CatalogEntry {
  cluster: ClusterRef;
  snapshotName: string;
  status: SnapshotStatus;
  url?: string;
  time?: string;
  bytes?: number;
  keys?: number;
  error?: string;
  workflowId?: string;
  origin?: StoredSnapshotEntry['origin'];
  /** When the run finished (stored entries). */
  finishedAt?: string;
  /** The snapshot's last restore drill (stored entries). */
  drill?: StoredSnapshotEntry['drill'];
  /** End of the snapshot's Object Lock (stored entries written with one). */
  lockedUntil?: string;
  /** Whether the copy location holds it (policies with a copy location). */
  copy?: StoredSnapshotEntry['copy'];
}

async function runningSnapshots(client: Client, cluster: ClusterRef): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = [];
  const query = `WorkflowType = 'snapshotWorkflow' AND ExecutionStatus = 'Running' AND VclusterName = '${cluster.name}' AND VclusterNamespace = '${cluster.namespace}'`;
  for await (const run of client.workflow.list({ query })) {
    const view = await client.workflow.getHandle(run.workflowId, run.runId).query(statusQuery).catch(() => undefined);
    entries.push({ cluster, snapshotName: view?.snapshotName ?? '', status: 'InProgress', time: run.startTime.toISOString(), workflowId: run.workflowId });
  }
  return entries;
}

async function storedEntries(target: ScheduleTarget, policies: SnapshotPolicy[]) {
  return target.client.workflow.execute<CatalogWorkflow>(WORKFLOW_TYPES.catalog, {
    taskQueue: target.taskQueue ?? TASK_QUEUE,
    workflowId: `vcsnap-catalog-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
    args: [{ policies }],
    workflowExecutionTimeout: '5 minutes',
  });
}

export async function listSnapshots(target: ScheduleTarget, cluster: ClusterRef): Promise<CatalogEntry[]> {
  return (await listSnapshotsOf(target, [cluster]))[0]?.entries ?? [];
}

export interface ClusterCatalog {
  cluster: ClusterRef;
  entries: CatalogEntry[];
  error?: string;
  /** The snapshot schedule's state, as read for this catalog. */
  schedule?: { paused: boolean; cron?: string; nextFireTimes: Date[] };
}

/** The catalog of the given clusters, or of every cluster with a schedule when `clusters` is omitted. */
export async function listSnapshotsOf(target: ScheduleTarget, clusters?: ClusterRef[]): Promise<ClusterCatalog[]> {
  const wanted = clusters ?? (await listPolicies(target)).flatMap((p) => (p.cluster ? [p.cluster] : []));
  const described = await Promise.all(wanted.map((cluster) => describe(target, cluster)));
  const policies = described.flatMap((d) => (d.policy ? [d.policy] : []));
  const stored = await storedEntries(target, policies);
  return Promise.all(
    described.map(async (d) => {
      const entries: CatalogEntry[] = [];
      const next = d.nextFireTimes[0];
      if (next && !d.paused) entries.push({ cluster: d.cluster, snapshotName: snapshotNameFor(d.cluster.name, next), status: 'Scheduled', time: next.toISOString() });
      entries.push(...(await runningSnapshots(target.client, d.cluster)));
      const fromStorage = stored.find((s) => s.cluster.name === d.cluster.name && s.cluster.namespace === d.cluster.namespace);
      for (const entry of fromStorage?.entries ?? []) {
        entries.push({ cluster: d.cluster, snapshotName: entry.snapshotName, status: entry.status, url: entry.url, time: entry.nominalTime, bytes: entry.bytes, keys: entry.keys, error: entry.error, origin: entry.origin, finishedAt: entry.finishedAt, drill: entry.drill, lockedUntil: entry.lockedUntil, copy: entry.copy });
      }
      return { cluster: d.cluster, entries, error: fromStorage?.error, schedule: { paused: d.paused, cron: d.policy?.schedule, nextFireTimes: d.nextFireTimes } };
    }),
  );
}
