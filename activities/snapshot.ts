// Dump the cluster's etcd into a vCluster-compatible archive streamed straight into storage, and write the
// metadata record beside it.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { dumpProgressSignal, type DumpProgress, type SnapshotPolicy, type SnapshotRecord, type StoredSnapshot } from '../contracts/definitions';
import { failure, finalFailure } from '../contracts/errors';
import { encryptingStream } from '../lib/archive/encryption';
import { verifyArchive } from '../lib/archive/verify';
import { createArchiveWriter } from '../lib/archive/writer';
import type { EtcdConnection } from '../lib/etcd/client';
import { dumpEtcd, type ReleaseInfo } from '../lib/etcd/dump';
import { assertEndpointsInScope, pick, readEtcdTls, readSecret, type SecretData } from '../lib/kube/secrets';
import { redactValues } from '../lib/policy/redact';
import { signRecord } from '../lib/record-signature';
import { nameTaken, sameOwner } from '../lib/storage/common';
import { checkedLock, type CheckedLock } from '../lib/storage/object-lock';
import type { ArchiveOwner, SnapshotStore } from '../lib/storage/types';
import { secretScope, type ActivityDeps } from './deps';
import { identitySource, recipientsFor } from './encryption';
import { openCopyStore, openStore } from './store';
import type { AlertEvent } from '../contracts/alert';
import { raiseAlertFromActivity } from './notify';
import { shortestIntervalSeconds } from '../lib/policy/cron';
import { heartbeatWhile, transferMeter } from './liveness';

async function etcdConnectionFor(deps: ActivityDeps, policy: SnapshotPolicy): Promise<EtcdConnection> {
  const { state, cluster } = policy;
  if (state.origin === 'none' || state.endpoints.length === 0) {
    throw failure('StateSourceUnavailable', `cluster ${cluster.namespace}/${cluster.name}: state not reachable: ${state.unavailableReason ?? 'no etcd endpoint configured'}`);
  }
  assertEndpointsInScope(state.endpoints, secretScope(deps, cluster), `cluster ${cluster.namespace}/${cluster.name}`);
  if (!state.tlsSecret) return { endpoints: state.endpoints };
  return { endpoints: state.endpoints, tls: await readEtcdTls(deps.kube, state.tlsSecret, `etcd TLS of ${cluster.namespace}/${cluster.name}`, secretScope(deps, cluster)) };
}

/**
 * The release entry, from the cluster's `vc-config-<name>` Secret (values, every credential removed) and the policy's
 * chart identity. Both engines put it in the archive.
 */
export async function releaseFor(deps: ActivityDeps, policy: SnapshotPolicy): Promise<ReleaseInfo | undefined> {
  if (!deps.kube || !policy.release) return undefined;
  const { name, namespace } = policy.cluster;
  const ref = { name: `vc-config-${name}`, namespace };
  let data: SecretData;
  try {
    data = await readSecret(deps.kube, ref, `release entry of ${namespace}/${name}`, secretScope(deps, policy.cluster));
  } catch (err) {
    // No vc-config Secret (a policy applied from a file): the archive simply has no release entry.
    if (err instanceof ApplicationFailure && err.type === 'SecretNotFound') return undefined;
    throw err;
  }
  const values = pick(data, ref, ['config.yaml'], true);
  return values && { releaseName: name, releaseNamespace: namespace, ...policy.release, valuesYaml: redactValues(values.toString('utf8')) };
}

/**
 * Sends `progress` to the dump's workflow, for its `status`. A courtesy: a context without a client (a mocked one)
 * or a failed signal never fails the dump. Undefined when it cannot be sent; else the signal's delivery, which
 * never rejects (await it where the workflow must see the signal before the activity's result).
 */
export function sendProgress(context: Context, progress: DumpProgress): Promise<void> | undefined {
  const execution = context.info.workflowExecution;
  if (!execution) return undefined;
  try {
    return context.client.workflow.getHandle(execution.workflowId, execution.runId).signal(dumpProgressSignal, progress).catch(() => undefined);
  } catch {
    return undefined;
  }
}

/** sendProgress without waiting; the result says whether it could be sent. */
export function signalProgress(context: Context, progress: DumpProgress): boolean {
  return sendProgress(context, progress) !== undefined;
}

/** Signals the dump's counts at most every `intervalMs` (each signal is a history event). */
function progressReporter(context: Context, intervalMs: number): (progress: DumpProgress) => void {
  let last = Date.now();
  return (progress) => {
    if (Date.now() - last < intervalMs) return;
    last = Date.now();
    if (!signalProgress(context, progress)) intervalMs = Number.POSITIVE_INFINITY;
  };
}

/** What dumpAndStore heartbeats: its progress, and the upload sessions a successor must cancel if this process dies. */
interface DumpHeartbeat {
  keys: number;
  bytes: number;
  /** Archive bytes the backend has confirmed. */
  stored?: number;
  uploadSessions: string[];
}

function sessionsIn(details: unknown): string[] {
  const sessions = (details as { uploadSessions?: unknown } | undefined)?.uploadSessions;
  return Array.isArray(sessions) ? sessions.filter((session): session is string => typeof session === 'string') : [];
}

/**
 * etcd that does not answer before anything was read fails the snapshot at once, naming the endpoint: retrying a
 * dead endpoint only delays the reason, and the next scheduled run tries again. Lost mid-dump, it stays retryable.
 */
function finalIfUnreachable(err: unknown): unknown {
  if (!(err instanceof ApplicationFailure) || err.type !== 'EtcdUnreachable' || err.nonRetryable) return err;
  return finalFailure(err);
}

/**
 * The archive an earlier attempt of this same run already stored (it finished after Temporal gave up on it, or its
 * worker died before reporting): read back and checked, so the record names exactly the bytes that are stored.
 */
async function storedByEarlierAttempt(context: Context, deps: ActivityDeps, store: SnapshotStore, snapshotName: string, recipients: string[], locking: CheckedLock = {}): Promise<StoredSnapshot> {
  const encrypted = (await store.headArchive(snapshotName))?.encrypted === true;
  const url = store.urlFor(snapshotName, encrypted);
  const report = await verifyArchive(await store.getArchive(snapshotName), undefined, {
    identities: identitySource(deps),
    what: `snapshot ${snapshotName}`,
    signal: context.cancellationSignal,
    onProgress: ({ entries, archiveBytes }) => context.heartbeat({ keys: entries, bytes: archiveBytes, uploadSessions: [] }),
  });
  if (!report.ok) {
    // Only this run ever wrote it, so it may go; the next attempt writes it again.
    await store.deleteArchive(snapshotName);
    throw new Error(`the archive ${url} an earlier attempt of this run stored is damaged (${report.problem?.message}); removed it to write it again`);
  }
  context.log.info('snapshot already stored by an earlier attempt of this run', { snapshotName, url, bytes: report.archiveBytes, keys: report.keys });
  return { url, bytes: report.archiveBytes, keys: report.keys, sha256: report.sha256, revision: '', ...encryptionOf(encrypted ? recipients : []), ...locking };
}

/** What the record says about an archive encrypted to `recipients` (nothing for a plain one). */
function encryptionOf(recipients: string[]): Pick<StoredSnapshot, 'encryption'> {
  return recipients.length > 0 ? { encryption: { format: 'age', recipients } } : {};
}

/** Who this run is, as stored with its archive. */
function ownerOf(context: Context, policy: SnapshotPolicy): ArchiveOwner {
  return { cluster: policy.cluster, workflowId: context.info.workflowExecution?.workflowId ?? '' };
}

interface DumpJob {
  owner: ArchiveOwner;
  snapshotName: string;
  nominalTime: string;
  store: SnapshotStore;
  connection: EtcdConnection;
  release: ReleaseInfo | undefined;
  /** Registry upload sessions a killed earlier attempt left open. */
  abandonedSessions: string[];
  /** age public keys the archive is encrypted to; empty = stored in the clear. */
  recipients: string[];
  /** The Object Lock to write the archive with, or why there is none. */
  locking: CheckedLock;
}

/**
 * The dump itself, in a slot of the dump worker: etcd -> archive writer -> store, heartbeating progress and upload
 * sessions. Liveness is measured in bytes moved (etcd pages read, archive bytes taken by the store, request bodies
 * taken by the socket), so a slow link keeps the attempt alive and a stalled one fails it with TransferStalled.
 */
async function dumpAndStoreInSlot(context: Context, deps: ActivityDeps, job: DumpJob): Promise<StoredSnapshot> {
  const { snapshotName, store, connection, release, abandonedSessions, recipients } = job;
  const encrypted = recipients.length > 0;
  const url = store.urlFor(snapshotName, encrypted);
  const reportProgress = progressReporter(context, deps.progressIntervalMs);
  const writer = createArchiveWriter();
  // Encrypted after gzip, as it streams: the store's sha256 and size are of the encrypted bytes it keeps.
  const archive = encrypted ? encryptingStream(writer.stream, recipients) : writer.stream;
  let progress: DumpHeartbeat = { keys: 0, bytes: 0, uploadSessions: abandonedSessions };
  const meter = transferMeter(deps, context, `snapshot ${snapshotName}: the transfer from etcd to ${url}`, () => progress);
  const heartbeat = (update: Partial<DumpHeartbeat>) => {
    progress = { ...progress, ...update };
    context.heartbeat(progress);
  };
  // Inside meter.run, the store's shared clients find this transfer's meter (lib/transfer-meter).
  const upload = meter.run(() => store.putArchive(snapshotName, meter.count(archive), meter.signal, {
    encrypted,
    owner: job.owner,
    retry: context.info.attempt > 1,
    abandonedSessions,
    onSession: (session) => heartbeat({ uploadSessions: [...progress.uploadSessions, session] }),
    onStored: (stored) => heartbeat({ stored }),
    lock: job.locking.lock,
  }));
  // Every path below waits for the upload to settle: the transfer ends there. An upload that fails before it has
  // read the whole archive (a write refused, an endpoint gone after the checks) fails the archive too: the dump
  // would otherwise wait on the archive's backpressure forever, deaf to cancellation, holding its dump slot.
  upload.finally(() => meter.stop()).catch((err: unknown) => writer.abort(err instanceof Error ? err : new Error(String(err))));
  /** Another attempt of this run stored the archive first: that one stands, and the record must name its bytes. */
  const takenByThisRun = async (failure: unknown): Promise<boolean> =>
    failure instanceof ApplicationFailure && failure.type === 'SnapshotNameTaken' && sameOwner((await store.archiveOwner?.(snapshotName))?.owner, job.owner);
  let dumped;
  try {
    dumped = await dumpEtcd(connection, writer, {
      release,
      request: { name: snapshotName, creationTimestamp: job.nominalTime, url },
      signal: meter.signal,
      onProgress: (keys, bytes) => {
        meter.moved(bytes - progress.bytes);
        heartbeat({ keys, bytes });
        reportProgress({ keys, bytes });
      },
    });
    await writer.finish();
  } catch (err) {
    // Fail the stream so the upload aborts and nothing truncated becomes visible.
    writer.abort(err instanceof Error ? err : new Error(String(err)));
    // The dump may have failed because the upload did (its failure aborted the archive).
    const uploadFailure = await upload.then(() => undefined, (failed: unknown) => failed);
    if (!meter.stalled && (await takenByThisRun(uploadFailure))) return storedByEarlierAttempt(context, deps, store, snapshotName, recipients, job.locking);
    throw meter.stalled ?? (progress.keys === 0 ? finalIfUnreachable(err) : err);
  }
  const stored = await upload.catch(async (err: unknown) => {
    if (meter.stalled) throw meter.stalled;
    if (await takenByThisRun(err)) return undefined;
    throw err;
  });
  if (!stored) return storedByEarlierAttempt(context, deps, store, snapshotName, recipients, job.locking);
  context.log.info('snapshot stored', { snapshotName, url: stored.url, bytes: stored.bytes, keys: dumped.keys, encrypted, lockedUntil: job.locking.lock?.retainUntil });
  if (job.locking.lockWarning) context.log.warn('snapshot stored without the Object Lock its policy asks for', { snapshotName, reason: job.locking.lockWarning });
  return { url: stored.url, bytes: stored.bytes, keys: dumped.keys, sha256: stored.sha256, revision: dumped.revision, ...encryptionOf(recipients), ...job.locking };
}

/** Failed and PartiallyFailed runs notify (once per run and outcome; raising never fails the record). */
function snapshotAlert(record: SnapshotRecord): AlertEvent | undefined {
  if (record.status === 'Completed') return undefined;
  const { cluster } = record;
  const run = record.runId ?? record.snapshotName;
  return {
    key: `snapshot.${cluster.namespace}.${cluster.name}.${run}.${record.status}`,
    kind: record.status === 'Failed' ? 'SnapshotFailed' : 'SnapshotPartiallyFailed',
    cluster,
    snapshotName: record.snapshotName,
    summary: `Snapshot ${record.snapshotName} of ${cluster.namespace}/${cluster.name} ended ${record.status}`,
    description: record.error ?? record.volumes.filter((v) => v.phase === 'Failed').map((v) => `${v.pvc}: ${v.reason ?? 'failed'}`).join('; '),
    at: record.finishedAt,
  };
}

/**
 * A dump the dump worker has just taken: its wait in the queue is over (the run's status stops saying it waits for a
 * slot; the wait is a metric), and it counts as running on this worker until it ends.
 */
function startedDump<A, R>(deps: ActivityDeps, dump: (args: A) => Promise<R>): (args: A) => Promise<R> {
  return async (args) => {
    const context = Context.current();
    deps.metrics?.dumpStarted?.(Math.max(0, Date.now() - context.info.currentAttemptScheduledTimestampMs) / 1000);
    signalProgress(context, { keys: 0, bytes: 0 });
    try {
      return await dump(args);
    } finally {
      deps.metrics?.dumpEnded?.();
    }
  };
}

export function createSnapshotActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs on the dump task queue (contracts' dumpTaskQueue), whose worker takes at most VCSNAP_MAX_CONCURRENT_DUMPS
     * at once: a dump waits in Temporal's queue, holding no slot and not running its start-to-close timeout, and any
     * replica with a free slot takes it.
     */
    dumpAndStore: startedDump(deps, async (args: { policy: SnapshotPolicy; snapshotName: string; nominalTime: string }): Promise<StoredSnapshot> => {
      const context = Context.current();
      const { policy } = args;
      const store = await openStore(deps, policy);
      const connection = await etcdConnectionFor(deps, policy);
      const release = await releaseFor(deps, policy);
      // A killed earlier attempt cannot cancel its registry upload session; its last heartbeat says which to cancel.
      const abandonedSessions = sessionsIn(context.info.heartbeatDetails);
      const owner = ownerOf(context, policy);
      const recipients = recipientsFor(deps, policy);
      // The name is taken before anything is dumped: by an earlier attempt of this run (its archive is the one to
      // record), or by another cluster sharing the location (never overwritten; the run fails saying so).
      const locking = await checkedLock(store, policy, args.nominalTime, deps.clock(), `bucket of ${policy.cluster.namespace}/${policy.cluster.name}`);
      const existing = await store.archiveOwner?.(args.snapshotName);
      if (existing && sameOwner(existing.owner, owner)) return storedByEarlierAttempt(context, deps, store, args.snapshotName, recipients, locking);
      if (existing) throw nameTaken('archive', store.urlFor(args.snapshotName), existing.owner);
      return dumpAndStoreInSlot(context, deps, { ...args, owner, store, connection, release, abandonedSessions, recipients, locking });
    }),

    async writeRecord(args: { policy: SnapshotPolicy; record: SnapshotRecord }): Promise<void> {
      // Counted first, so a run whose record cannot be stored still shows its outcome; retries are counted once.
      deps.metrics?.snapshotFinished(args.record);
      deps.metrics?.scheduleIntervalSeen?.(args.policy.cluster, shortestIntervalSeconds(args.policy.schedule));
      const { record } = args;
      const store = await openStore(deps, args.policy);
      // The product's own archive (not vCluster's, under the request engine) carries its owner: a record is written
      // only beside this run's archive, never beside another cluster's that took the name.
      const archive = record.engine === 'request' ? undefined : await heartbeatWhile(Context.current(), async () => store.archiveOwner?.(record.snapshotName));
      const owner = { cluster: record.cluster, workflowId: record.workflowId ?? '' };
      if (archive && !sameOwner(archive.owner, owner)) {
        if (record.status === 'Failed') {
          Context.current().log.info('metadata record not written: the snapshot name belongs to another run', { snapshotName: record.snapshotName, error: record.error });
          return;
        }
        throw nameTaken('archive', store.urlFor(record.snapshotName), archive.owner);
      }
      const signed = deps.recordKey ? signRecord(record, deps.recordKey) : record;
      // Each is a storage call with its own request timeout: alive meanwhile.
      await heartbeatWhile(Context.current(), async () => {
        await store.putRecord(signed, {
          // A Failed record another run left under this name gives way to the record of the archive stored here.
          replaces: (existing) => existing.status === 'Failed' && record.status !== 'Failed' && archive !== undefined,
          lock: record.lock,
        });
        // The copy location gets the same record beside its copy, so its catalog and retention stand on their own.
        if (record.copy?.sha256 && args.policy.copy) {
          const copyStore = (await openCopyStore(deps, args.policy))!;
          await copyStore.putRecord(signed, { lock: record.copy.lock }).catch((err: unknown) => {
            throw new Error(`the record was written to ${store.urlFor(record.snapshotName)}, but not beside its copy ${record.copy?.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          });
        }
      });
      const alert = snapshotAlert(record);
      if (alert) await raiseAlertFromActivity(deps, alert);
    },
  };
}
