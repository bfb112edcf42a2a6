// Restore: write every key of a verified archive into an etcd, in transactions of bounded size, skipping the
// archive's own /vcluster/snapshot/ entries. Progress (the last key written) goes into heartbeats, so an attempt that
// follows a worker restart resumes after it instead of starting over.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Etcd3, IRequestOp } from 'etcd3';
import { failure } from '../contracts/errors';
import { notRestorableMessage, type RestoreArchiveInput, type RestoreBatchLimits, type RestoreProgress, type RestoreReport, type RestoreTarget, type SnapshotLocationRef, type VerifyResult } from '../contracts/restore';
import { verifyArchive } from '../lib/archive/verify';
import { commonEtcdFailure, connectEtcd, etcdFailureOf } from '../lib/etcd/client';
import { DB_KEY, SNAPSHOT_METADATA_PREFIX } from '../lib/etcd/dump';
import { assertEndpointsInScope, readEtcdTls, type SecretScope } from '../lib/kube/secrets';
import type { TransferMeter } from '../lib/transfer-meter';
import { secretScope, type ActivityDeps } from './deps';
import { identitySource } from './encryption';
import { transferMeter } from './liveness';
import { openSnapshotStore, verifyStoredSnapshot } from './verify';

/** etcd's defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB (keys and values, plus framing). */
const DEFAULT_BATCH = { keys: 100, bytes: 1024 * 1024 };
const REQUEST_TIMEOUT_MS = 30_000;
const ALL_KEYS = { key: Buffer.from([0]), range_end: Buffer.from([0]) };

/** `scope`: the grants of the cluster the restore input names. */
async function connect(deps: ActivityDeps, target: RestoreTarget, scope: SecretScope): Promise<Etcd3> {
  const endpoints = target.endpoints.join(', ');
  assertEndpointsInScope(target.endpoints, scope, 'restore target');
  const tls = target.tlsSecret && (await readEtcdTls(deps.kube, target.tlsSecret, `TLS of the restore target etcd ${endpoints}`, scope));
  return connectEtcd({ endpoints: target.endpoints, tls }, endpoints);
}

function etcdFailure(err: unknown, endpoints: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/too many operations in txn|request is too large|message larger than max/i.test(message)) {
    return etcdFailureOf(err, 'EtcdRequestTooLarge', `etcd at ${endpoints} refused a restore transaction as too large (lower batch.keys or batch.bytes)`);
  }
  return commonEtcdFailure(err, endpoints, REQUEST_TIMEOUT_MS) ?? etcdFailureOf(err, 'EtcdWriteFailed', `writing to etcd at ${endpoints} failed`);
}

function progressFrom(details: unknown): RestoreProgress | undefined {
  const progress = details as Partial<RestoreProgress> | undefined;
  if (progress?.accepted !== true || typeof progress.keys !== 'number' || typeof progress.bytes !== 'number') return undefined;
  return { accepted: true, clearedKeys: progress.clearedKeys ?? 0, lastKey: typeof progress.lastKey === 'string' ? progress.lastKey : undefined, keys: progress.keys, bytes: progress.bytes };
}

/** Refuses a non-empty target, or clears it with force. Writes nothing when it refuses. */
async function acceptTarget(client: Etcd3, input: RestoreArchiveInput, endpoints: string, attempt: number): Promise<number> {
  const deadline = () => ({ deadline: Date.now() + REQUEST_TIMEOUT_MS });
  const existing = await client.kv.range({ ...ALL_KEYS, limit: 1 }, deadline());
  const count = Number(existing.count);
  if (count === 0) return 0;
  if (!input.force) {
    const retried = attempt > 1 ? ' (an earlier attempt of this restore may have written part of it: restore again with force)' : '';
    const message = `etcd at ${endpoints} is not empty: it holds ${count} keys, e.g. ${JSON.stringify(existing.kvs[0]?.key.toString('utf8'))}; restore into an empty etcd, or pass force to delete every key first${retried}`;
    throw failure('RestoreTargetNotEmpty', message);
  }
  const deleted = await client.kv.deleteRange(ALL_KEYS, deadline());
  return Number(deleted.deleted);
}

interface BatchWriter {
  put(name: string, value: Buffer): Promise<void>;
  flush(): Promise<void>;
}

/** Puts keys in transactions within `limits`; `committed` runs after each transaction (heartbeat there). */
function batchWriter(client: Etcd3, limits: Required<RestoreBatchLimits>, endpoints: string, signal: AbortSignal, committed: (keys: number, bytes: number, lastKey: string) => void): BatchWriter {
  let ops: IRequestOp[] = [];
  let requestBytes = 0;
  let valueBytes = 0;
  let lastKey = '';
  const flush = async () => {
    if (ops.length === 0) return;
    signal.throwIfAborted();
    await client.kv.txn({ success: ops }, { deadline: Date.now() + REQUEST_TIMEOUT_MS }).catch((err: unknown) => {
      throw etcdFailure(err, endpoints);
    });
    committed(ops.length, valueBytes, lastKey);
    ops = [];
    requestBytes = 0;
    valueBytes = 0;
  };
  return {
    async put(name, value) {
      const key = Buffer.from(name, 'utf8');
      if (ops.length >= limits.keys || (ops.length > 0 && requestBytes + key.length + value.length > limits.bytes)) await flush();
      ops.push({ request_put: { key, value } });
      requestBytes += key.length + value.length;
      valueBytes += value.length;
      lastKey = name;
    },
    flush,
  };
}

/** What a restore runs with: the activity passes its context's; a drill passes its scratch etcd and its own heartbeat. */
export interface RestoreRun {
  /** What an earlier attempt already wrote (its last heartbeat); absent = start from the beginning. */
  previous?: RestoreProgress;
  heartbeat(progress: RestoreProgress): void;
  signal: AbortSignal;
  attempt: number;
  /** An etcd the caller owns (a drill's scratch etcd): used as is, never closed here, outside any cluster's scope. */
  client?: Etcd3;
  /** Counts the archive bytes read (liveness by bytes moved; see activities/liveness). */
  meter?: TransferMeter;
}

/** Writes the archive `input.snapshot` into `input.target` (verified again on the way); the restore activity's body. */
export async function restoreArchive(deps: ActivityDeps, input: RestoreArchiveInput, run: RestoreRun): Promise<RestoreReport> {
  const { snapshot, target } = input;
  const endpoints = target.endpoints.join(', ');
  const { previous } = run;
  const report: RestoreReport = {
    snapshotName: snapshot.snapshotName,
    endpoints: target.endpoints,
    keysRestored: previous?.keys ?? 0,
    bytesRestored: previous?.bytes ?? 0,
    skippedEntries: 0,
    clearedKeys: previous?.clearedKeys ?? 0,
    resumedAfterKey: previous?.lastKey,
    transactions: 0,
  };
  let lastKey = previous?.lastKey;
  const heartbeat = () => run.heartbeat({ accepted: true, clearedKeys: report.clearedKeys, lastKey, keys: report.keysRestored, bytes: report.bytesRestored });
  const resumeAfter = lastKey === undefined ? undefined : Buffer.from(lastKey, 'utf8');
  const store = await openSnapshotStore(deps, snapshot);
  const stored = await store.getArchive(snapshot.snapshotName);
  const archive = run.meter ? run.meter.count(stored) : stored;
  const client =
    run.client ??
    (await connect(deps, target, secretScope(deps, snapshot.cluster)).catch((err: unknown) => {
      archive.destroy();
      throw err;
    }));
  const writer = batchWriter(client, { ...DEFAULT_BATCH, ...input.batch }, endpoints, run.signal, (keys, bytes, key) => {
    report.transactions++;
    report.keysRestored += keys;
    report.bytesRestored += bytes;
    run.meter?.moved(bytes);
    lastKey = key;
    heartbeat();
  });
  try {
    if (!previous) {
      report.clearedKeys = await acceptTarget(client, input, endpoints, run.attempt).catch((err: unknown) => {
        throw etcdFailure(err, endpoints);
      });
      heartbeat();
    }
    const verified = await verifyArchive(archive, input.expectedSha256, {
      identities: identitySource(deps),
      what: `snapshot ${snapshot.snapshotName}`,
      signal: run.signal,
      // Also while a resumed attempt skips what is already written.
      onProgress: heartbeat,
      onEntry: async (name, value) => {
        if (name === DB_KEY) throw failure('SnapshotNotRestorable', notRestorableMessage(snapshot.snapshotName, undefined, endpoints));
        if (name.startsWith(SNAPSHOT_METADATA_PREFIX)) report.skippedEntries++;
        else if (!resumeAfter || Buffer.compare(Buffer.from(name, 'utf8'), resumeAfter) > 0) await writer.put(name, value);
      },
    });
    if (!verified.ok) {
      const written = report.keysRestored > 0 ? `; ${report.keysRestored} keys were already written to etcd at ${endpoints}` : '';
      throw failure('SnapshotCorrupt', `snapshot ${snapshot.snapshotName} changed or broke while restoring: ${verified.problem?.message}${written}`);
    }
    await writer.flush();
  } finally {
    archive.destroy();
    stored.destroy();
    if (!run.client) client.close();
  }
  return report;
}

export function createRestoreActivities(deps: ActivityDeps) {
  return {
    verifyStoredArchive(input: { snapshot: SnapshotLocationRef }): Promise<VerifyResult> {
      return verifyStoredSnapshot(deps, input);
    },

    async restoreArchiveToEtcd(input: RestoreArchiveInput): Promise<RestoreReport> {
      const context = Context.current();
      let last: RestoreProgress | undefined = progressFrom(context.info.heartbeatDetails);
      // Bytes read from storage and written to etcd keep the attempt alive; neither moving fails it as stalled.
      const meter = transferMeter(deps, context, `restoring snapshot ${input.snapshot.snapshotName}`, () => last);
      const report = await restoreArchive(deps, input, {
        previous: last,
        heartbeat: (progress) => context.heartbeat((last = progress)),
        signal: meter.signal,
        attempt: context.info.attempt,
        meter,
      })
        .catch((err: unknown) => {
          throw meter.stalled ?? err;
        })
        .finally(() => meter.stop());
      context.log.info('snapshot restored', { snapshotName: input.snapshot.snapshotName, endpoints: report.endpoints.join(', '), keys: report.keysRestored, resumedAfterKey: report.resumedAfterKey });
      return report;
    },
  };
}
