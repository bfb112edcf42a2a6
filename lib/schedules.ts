// One Temporal Schedule per virtual cluster: apply (idempotent), remove, pause/resume, trigger, backfill, describe,
// list and sync. Apply and sync change only what the configuration owns (spec, action, policies): an operator's
// pause and note survive them.
import { createHash } from 'node:crypto';
import type { SearchAttributePair } from '@temporalio/common';
import { shortestIntervalSeconds } from './policy/cron';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsAction,
} from '@temporalio/client';
import {
  SEARCH_ATTRIBUTES,
  TASK_QUEUE,
  WORKFLOW_TYPES,
  type ClusterRef,
  type OverlapPolicyName,
  type SnapshotPolicy,
  type SnapshotWorkflowInput,
} from '../contracts/definitions';
import { mapLimit } from './concurrency';
import { createdRecord, listWithRecords, parseAppliedRecord, updateDescribed, updateFromListing, type ListedBasis, type ListedSchedule } from './schedule-update';
import { rootMessage } from '../contracts/errors';
import { scheduleIdFor } from '../contracts/naming';

export const SCHEDULE_ID_PREFIX = 'vcsnap.';

export interface ScheduleTarget {
  client: Client;
  /** Task queue the worker polls; default `vcsnap`. */
  taskQueue?: string;
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

function overlapOf(name: OverlapPolicyName): ScheduleOverlapPolicy {
  return ScheduleOverlapPolicy[name];
}

/** Kept between a run's end and the next fire: a run is over before its successor is due. */
const RUN_END_MARGIN_MS = 60_000;

/**
 * The run timeout of a schedule's runs: the shortest time between two fires, less a margin (a minute, or a tenth of
 * short intervals). A stuck run ends before the next fire, so overlap SKIP can never starve the schedule, and the
 * workflow sizes its retries to it (workflows/snapshot.ts). Undefined for a schedule without a known interval.
 */
export function runTimeoutFor(schedule: string): number | undefined {
  const intervalMs = shortestIntervalSeconds(schedule) * 1000;
  if (!(intervalMs > 0)) return undefined;
  return intervalMs - Math.min(RUN_END_MARGIN_MS, intervalMs / 10);
}

function actionFor(policy: SnapshotPolicy, taskQueue: string): ScheduleOptionsAction {
  const input: SnapshotWorkflowInput = { policy };
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPES.snapshot,
    workflowId: scheduleIdFor(policy.cluster),
    taskQueue,
    workflowRunTimeout: runTimeoutFor(policy.schedule),
    args: [input],
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.clusterName, value: policy.cluster.name },
      { key: SEARCH_ATTRIBUTES.clusterNamespace, value: policy.cluster.namespace },
      { key: SEARCH_ATTRIBUTES.snapshotStatus, value: 'InProgress' },
    ],
    staticSummary: `Snapshot of vCluster ${policy.cluster.namespace}/${policy.cluster.name}`,
  };
}

function desired(policy: SnapshotPolicy, taskQueue: string) {
  return {
    spec: { cronExpressions: [policy.schedule], timezone: policy.timezone },
    action: actionFor(policy, taskQueue),
    policies: { overlap: overlapOf(policy.overlap), catchupWindow: policy.catchupWindowSeconds * 1000, pauseOnFailure: false },
  };
}

/** The policy a schedule was applied from: the action's single input carries it. */
export function policyOf(description: ScheduleDescription): SnapshotPolicy | undefined {
  const action = description.action as { type: string; args?: unknown[] };
  const input = action.args?.[0] as SnapshotWorkflowInput | undefined;
  return input?.policy;
}

function samePolicy(description: ScheduleDescription, policy: SnapshotPolicy, taskQueue: string): boolean {
  const action = description.action as { taskQueue?: string; workflowRunTimeout?: unknown };
  // Schedules applied before runs had a timeout get one at the next apply or sync.
  const runTimeout = action.workflowRunTimeout === undefined ? undefined : Number(action.workflowRunTimeout);
  return JSON.stringify(policyOf(description)) === JSON.stringify(policy) && action.taskQueue === taskQueue && runTimeout === runTimeoutFor(policy.schedule);
}

/**
 * The digest of what vcsnap writes into a schedule (the VcsnapAppliedPolicy search attribute): sync reads it from one
 * schedule listing instead of describing every schedule, which asks each schedule's own workflow and takes seconds
 * apiece on a busy server with thousands of them.
 */
export function scheduleDigest(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** What a schedule listing said of a schedule: absent, or there with another digest than the wanted one. */
export type ListedAs = 'missing' | 'different';

/** A schedule as vcsnap wants it, and how to tell a described one already is (besides the digest). */
export interface WantedSchedule {
  scheduleId: string;
  options: Pick<ScheduleOptions, 'spec' | 'action' | 'policies'>;
  memo: Record<string, unknown>;
  /** Set at creation; the digest is added to them. */
  searchAttributes: SearchAttributePair[];
  digest: string;
  matches(existing: ScheduleDescription): boolean;
}

/**
 * Creates or updates one schedule (idempotent); an operator's pause and note survive it. After a listing (`listed`)
 * it tries the likely call first, an update from the listing itself when `basis` allows one; the listing may lag
 * behind: a schedule it did not show yet is left to the next sync, one it showed but that is gone is created.
 */
export async function applySchedule(target: ScheduleTarget, wanted: WantedSchedule, listed?: ListedAs, basis?: ListedBasis): Promise<ApplyOutcome> {
  const { scheduleId, options, digest } = wanted;
  const { client } = target;
  const create = async (): Promise<ApplyOutcome> => {
    await client.schedule.create({ scheduleId, ...options, memo: wanted.memo, typedSearchAttributes: [...wanted.searchAttributes, createdRecord(digest)] });
    return 'created';
  };
  if (listed === 'missing') {
    try {
      return await create();
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      // Created a moment ago (a listing lags behind creations by seconds, minutes when thousands were just made):
      // the next sync's listing shows its digest. Describing it now asks a schedule workflow that may not have run
      // yet: at 10,000 fresh schedules such describes took seconds each, and some failed.
      return 'unchanged';
    }
  } else if (listed === 'different') {
    try {
      if (!(basis && (await updateFromListing(client, scheduleId, options, digest, basis)))) await updateDescribed(client, scheduleId, options, digest);
      return 'updated';
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      return create();
    }
  }
  let existing: ScheduleDescription | undefined;
  try {
    existing = await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  if (!existing) {
    try {
      return await create();
    } catch (err) {
      // Created meanwhile by another worker or sync: it is what this one would have made.
      if (err instanceof ScheduleAlreadyRunning) return 'unchanged';
      throw err;
    }
  }
  if (wanted.matches(existing) && parseAppliedRecord(existing.typedSearchAttributes.get(SEARCH_ATTRIBUTES.appliedPolicy))?.digest === digest) return 'unchanged';
  // A schedule applied before the digest existed gets it here, once.
  await updateDescribed(client, scheduleId, options, digest, existing);
  return 'updated';
}

/**
 * `applySchedule` after a listing of schedules by ID: nothing to do when the listing shows the wanted digest, else the
 * likely call first (create when it is not listed, update when its digest differs).
 */
export function applyListed(target: ScheduleTarget, wanted: WantedSchedule, listing: ReadonlyMap<string, ListedSchedule>): Promise<ApplyOutcome> {
  const listed = listing.get(wanted.scheduleId);
  if (!listed) return applySchedule(target, wanted, 'missing');
  return listed.appliedPolicy === wanted.digest ? Promise.resolve('unchanged') : applySchedule(target, wanted, 'different', listed.basis);
}

/** Who created a schedule: sync only ever deletes the ones it created itself. */
export type PolicyOrigin = 'api' | 'discovery';

export function applyPolicy(target: ScheduleTarget, policy: SnapshotPolicy, origin: PolicyOrigin = 'api', listed?: ListedAs, basis?: ListedBasis): Promise<ApplyOutcome> {
  return applySchedule(target, wantedPolicySchedule(policy, target.taskQueue ?? TASK_QUEUE, origin), listed, basis);
}

function wantedPolicySchedule(policy: SnapshotPolicy, taskQueue: string, origin: PolicyOrigin): WantedSchedule {
  return {
    scheduleId: scheduleIdFor(policy.cluster),
    options: desired(policy, taskQueue),
    memo: { cluster: policy.cluster, managedBy: 'vcsnap', origin },
    searchAttributes: [
      { key: SEARCH_ATTRIBUTES.clusterName, value: policy.cluster.name },
      { key: SEARCH_ATTRIBUTES.clusterNamespace, value: policy.cluster.namespace },
    ],
    digest: scheduleDigest(policy, taskQueue, runTimeoutFor(policy.schedule) ?? null),
    matches: (existing) => samePolicy(existing, policy, taskQueue),
  };
}

/** Deletes a schedule; false when it was not there (already gone: listings lag behind deletes). */
export async function removeSchedule(target: ScheduleTarget, scheduleId: string): Promise<boolean> {
  try {
    await target.client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

export function removePolicy(target: ScheduleTarget, cluster: ClusterRef): Promise<boolean> {
  return removeSchedule(target, scheduleIdFor(cluster));
}

export async function pause(target: ScheduleTarget, cluster: ClusterRef, note = 'paused with vcsnap'): Promise<void> {
  await target.client.schedule.getHandle(scheduleIdFor(cluster)).pause(note);
}

export async function resume(target: ScheduleTarget, cluster: ClusterRef, note = 'resumed with vcsnap'): Promise<void> {
  await target.client.schedule.getHandle(scheduleIdFor(cluster)).unpause(note);
}

/** Runs the schedule's action now with the schedule's own overlap policy (not the SDK's ALLOW_ALL default). */
export async function triggerNow(target: ScheduleTarget, cluster: ClusterRef): Promise<void> {
  const handle = target.client.schedule.getHandle(scheduleIdFor(cluster));
  const description = await handle.describe();
  await handle.trigger(description.policies.overlap);
}

/**
 * Takes every fire of a past window. BUFFER_ALL rather than the schedule's own policy: under SKIP a window's fires,
 * all due at once, would collapse into one run; buffered, they still run one at a time, oldest first.
 */
export async function backfill(target: ScheduleTarget, cluster: ClusterRef, start: Date, end: Date): Promise<void> {
  await target.client.schedule.getHandle(scheduleIdFor(cluster)).backfill({ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL });
}

export interface PolicyDescription {
  scheduleId: string;
  cluster: ClusterRef;
  policy?: SnapshotPolicy;
  paused: boolean;
  note?: string;
  nextFireTimes: Date[];
  recentRuns: { scheduledAt: Date; takenAt: Date; workflowId: string; runId: string }[];
  runningWorkflowIds: string[];
  /** The task queue its runs go to: the worker fleet that serves the cluster. */
  taskQueue?: string;
  createdAt: Date;
}

export async function describe(target: ScheduleTarget, cluster: ClusterRef): Promise<PolicyDescription> {
  const scheduleId = scheduleIdFor(cluster);
  const description = await target.client.schedule.getHandle(scheduleId).describe();
  return {
    scheduleId,
    cluster,
    policy: policyOf(description),
    paused: description.state.paused,
    note: description.state.note,
    nextFireTimes: description.info.nextActionTimes,
    recentRuns: description.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt,
      takenAt: a.takenAt,
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
    })),
    runningWorkflowIds: description.info.runningActions.map((a) => a.workflow.workflowId),
    taskQueue: (description.action as { taskQueue?: string }).taskQueue,
    createdAt: description.info.createdAt,
  };
}

export interface PolicySummary {
  scheduleId: string;
  cluster?: ClusterRef;
  origin?: PolicyOrigin;
  paused: boolean;
  note?: string;
  nextFireTime?: Date;
  timezone?: string;
  /** The digest of the policy vcsnap last applied (absent on schedules applied before 0.3.0). */
  appliedPolicy?: string;
}

export async function listPolicies(target: ScheduleTarget): Promise<PolicySummary[]> {
  return (await listPoliciesForSync(target)).map(({ basis: _basis, ...summary }) => summary);
}

/** The listing with what sync needs besides: the basis of an update without a describe. */
function listPoliciesForSync(target: ScheduleTarget): Promise<Array<PolicySummary & ListedSchedule>> {
  return listWithRecords(target.client, SCHEDULE_ID_PREFIX, (schedule) => ({ note: schedule.state.note, timezone: schedule.spec?.timezone }));
}

export interface SyncReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
  /** Clusters whose configuration is invalid: their existing schedule is left as it was. */
  invalid: Array<{ scheduleId: string; error: string }>;
  /** Valid policies Temporal did not take (the reason is the server's): the next sync tries them again. */
  failed: Array<{ scheduleId: string; error: string }>;
}

/** Schedules sync applies at once: a thousand clusters reconcile in seconds without flooding the frontend. */
export const SYNC_CONCURRENCY = 8;

/**
 * Reconciles every discovered cluster: enabled policies are applied, disabled or removed ones (and schedules of
 * clusters that no longer exist) are deleted. `clusters` lists every cluster discovery saw, with its policy or null.
 * Only schedules that sync itself created are deleted: one applied from a file or the API stays until removed.
 * One cluster's failure never stops the others: it is reported in `failed`.
 * One schedule listing says what exists and what vcsnap last applied to it: an unchanged cluster costs no call, a new
 * one a create, a changed one an update (from the listing when its record allows, else after a describe: see
 * lib/schedule-update.ts). An edit made to a schedule outside vcsnap (`temporal schedule update`) leaves the digest as
 * it was, so sync keeps it until the cluster's configuration changes or `vcsnap apply` runs.
 */
export async function sync(
  target: ScheduleTarget,
  clusters: Array<{ cluster: ClusterRef; policy: SnapshotPolicy | null; error?: string }>,
): Promise<SyncReport> {
  const report: SyncReport = { created: [], updated: [], unchanged: [], deleted: [], invalid: [], failed: [] };
  const wanted = new Set<string>();
  const toApply: SnapshotPolicy[] = [];
  for (const { cluster, policy, error } of clusters) {
    if (error) {
      // Bad input loses nothing: keep whatever schedule the last good configuration made.
      wanted.add(scheduleIdFor(cluster));
      report.invalid.push({ scheduleId: scheduleIdFor(cluster), error });
    } else if (policy) {
      wanted.add(scheduleIdFor(cluster));
      toApply.push(policy);
    }
  }
  const taskQueue = target.taskQueue ?? TASK_QUEUE;
  const listed = new Map((await listPoliciesForSync(target)).map((summary) => [summary.scheduleId, summary]));
  await mapLimit(toApply, SYNC_CONCURRENCY, async (policy) => {
    const wantedSchedule = wantedPolicySchedule(policy, taskQueue, 'discovery');
    const { scheduleId } = wantedSchedule;
    try {
      report[await applyListed(target, wantedSchedule, listed)].push(scheduleId);
    } catch (err) {
      report.failed.push({ scheduleId, error: withCauses(err) });
    }
  });
  for (const existing of listed.values()) {
    if (wanted.has(existing.scheduleId) || existing.origin !== 'discovery') continue;
    if (await removeSchedule(target, existing.scheduleId)) report.deleted.push(existing.scheduleId);
  }
  for (const list of [report.created, report.updated, report.unchanged]) list.sort();
  report.failed.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  return report;
}

/** An error's message and, when it wraps one, its root cause's (the SDK says "Failed to create schedule"; gRPC says why). */
function withCauses(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const root = rootMessage(err);
  return root === message ? message : `${message}: ${root}`;
}

/** The schedule that runs discovery + sync inside the worker; its ID is outside the per-cluster `vcsnap.` prefix. */
export const SYNC_SCHEDULE_ID = 'vcsnap-sync';

/**
 * Creates or updates the sync schedule with `cron`. 'updated' means the server took the update; a change someone made
 * between its describe and its update (an operator's pause) wins, and the next call applies the cron.
 */
export async function scheduleSync(target: ScheduleTarget, cron: string): Promise<ApplyOutcome> {
  const taskQueue = target.taskQueue ?? TASK_QUEUE;
  const wanted = {
    spec: { cronExpressions: [cron] },
    action: { type: 'startWorkflow' as const, workflowType: 'syncWorkflow', workflowId: SYNC_SCHEDULE_ID, taskQueue, args: [{ taskQueue }] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 },
  };
  try {
    await updateDescribed(target.client, SYNC_SCHEDULE_ID, wanted, undefined);
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await target.client.schedule.create({ scheduleId: SYNC_SCHEDULE_ID, ...wanted });
  return 'created';
}
