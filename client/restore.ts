// Verify and restore from the client API: each runs as a short workflow on the worker, where the storage and etcd
// credentials live, so platform code needs only a Temporal connection.
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import type { VerifyResult, RestoreBatchLimits, RestoreResult, SnapshotLocationRef, RestoreWorkflow, VerifyWorkflow } from '../contracts/restore';
import { TASK_QUEUE, WORKFLOW_TYPES, type ClusterRef, type SecretRef, type SnapshotPolicy } from '../contracts/definitions';
import { describe, type ScheduleTarget } from '../lib/schedules';
import { clusterNameOf, isSnapshotUrl, parseSnapshotRef, type SnapshotRefOptions } from './snapshot-ref';

export type { RestoreResult } from '../contracts/restore';
export type { VerifyResult } from '../contracts/restore';

export interface SnapshotSourceOptions extends SnapshotRefOptions {
  /** For a catalog name: the policy it was taken under (its storage location is used). */
  policy?: Pick<SnapshotPolicy, 'cluster' | 'storage'>;
  /** For a catalog name without a policy: the cluster's host namespace; its storage is read from its schedule. */
  namespace?: string;
  workflowId?: string;
}

export interface RestoreOptions extends SnapshotSourceOptions {
  /** etcd v3 endpoints of the target, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  /** Secret with the target etcd's `etcd-ca.crt` and client pair. */
  tlsSecret?: SecretRef;
  /** Delete every key of a non-empty target first; without it a non-empty target is refused. */
  force?: boolean;
  batch?: RestoreBatchLimits;
}

/** A reference that names no archive, or a workflow that failed: `type` is the failure type, e.g. `SnapshotCorrupt`. */
export class SnapshotActionError extends Error {
  constructor(
    message: string,
    readonly type?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SnapshotActionError';
  }
}

/** A snapshot reference (catalog name, s3://, oci:// or container://) -> where the archive is. */
export async function resolveSnapshotRef(target: ScheduleTarget, ref: string | SnapshotLocationRef, options: SnapshotSourceOptions = {}): Promise<SnapshotLocationRef> {
  if (typeof ref !== 'string') return ref;
  let { storage, cluster } = options;
  if (options.policy) {
    storage ??= options.policy.storage;
    cluster ??= options.policy.cluster;
  }
  if (!storage && !isSnapshotUrl(ref) && options.namespace) {
    const name = clusterNameOf(ref.trim());
    if (!name) throw new SnapshotActionError(`"${ref}" is not a <cluster>-<timestamp> catalog name, so its cluster is unknown`, 'BadSnapshotReference');
    const policy = await policyOf(target, { name, namespace: options.namespace });
    storage = policy.storage;
    cluster = policy.cluster;
  }
  const parsed = parseSnapshotRef(ref, { storage, cluster, credential: options.credential });
  if (!parsed.ok) throw new SnapshotActionError(`snapshot reference: ${parsed.reasons.join('; ')}`, 'BadSnapshotReference');
  return parsed.ref;
}

async function policyOf(target: ScheduleTarget, cluster: ClusterRef): Promise<SnapshotPolicy> {
  const description = await describe(target, cluster).catch((err: unknown) => {
    throw new SnapshotActionError(`no schedule for cluster ${cluster.namespace}/${cluster.name} to find its storage: ${(err as Error).message}`, 'BadSnapshotReference', { cause: err });
  });
  if (!description.policy) throw new SnapshotActionError(`the schedule of ${cluster.namespace}/${cluster.name} carries no policy`, 'BadSnapshotReference');
  return description.policy;
}

/** The deepest failure of a workflow (the activity's ApplicationFailure), as one error with its type. */
function unwrap(err: unknown): never {
  if (!(err instanceof WorkflowFailedError)) throw err;
  let cause: unknown = err.cause;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const failure = cause as (Error & { type?: string }) | undefined;
  throw new SnapshotActionError(failure?.message ?? err.message, failure?.type ?? undefined, { cause: err });
}

/** Reads the whole archive on the worker; a damaged archive comes back with `ok: false` and its first problem. */
export async function verifySnapshot(target: ScheduleTarget, ref: string | SnapshotLocationRef, options: SnapshotSourceOptions = {}): Promise<VerifyResult> {
  const snapshot = await resolveSnapshotRef(target, ref, options);
  return target.client.workflow
    .execute<VerifyWorkflow>(WORKFLOW_TYPES.verify, {
      taskQueue: target.taskQueue ?? TASK_QUEUE,
      workflowId: options.workflowId ?? `vcsnap-verify-${snapshot.snapshotName}-${randomUUID().slice(0, 8)}`,
      args: [{ snapshot }],
    })
    .catch(unwrap);
}

/**
 * Verifies, then writes every key into the target etcd. Fails with a SnapshotActionError of type `SnapshotCorrupt`
 * (nothing written), `RestoreTargetNotEmpty` (nothing written; pass force) or the storage/etcd failure.
 */
export async function restoreSnapshot(target: ScheduleTarget, ref: string | SnapshotLocationRef, options: RestoreOptions): Promise<RestoreResult> {
  const endpoints = options.endpoints.map((e) => e.trim()).filter(Boolean);
  const bad = endpoints.filter((e) => !/^https?:\/\/[^/@\s]+:\d+\/?$/.test(e));
  if (endpoints.length === 0 || bad.length > 0) {
    throw new SnapshotActionError(`etcd endpoints must be http(s)://host:port${bad.length ? `, got ${bad.map((e) => JSON.stringify(e)).join(', ')}` : ''}`, 'BadRestoreTarget');
  }
  const snapshot = await resolveSnapshotRef(target, ref, options);
  // One restore per target etcd at a time: the workflow ID names the target.
  const targetName = endpoints.map((e) => e.replace(/^https?:\/\//, '').replace(/\/$/, '')).sort().join(',');
  const workflowId = options.workflowId ?? `vcsnap-restore.${targetName}`;
  return target.client.workflow
    .execute<RestoreWorkflow>(WORKFLOW_TYPES.restore, {
      taskQueue: target.taskQueue ?? TASK_QUEUE,
      workflowId,
      args: [{ snapshot, target: { endpoints, ...(options.tlsSecret ? { tlsSecret: options.tlsSecret } : {}) }, force: options.force ?? false, batch: options.batch }],
    })
    .catch((err: unknown) => {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new SnapshotActionError(`a restore into etcd ${targetName} is already running (workflow ${workflowId})`, 'RestoreInProgress', { cause: err });
      }
      return unwrap(err);
    });
}
