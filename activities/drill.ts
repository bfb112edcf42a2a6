// Restore drill activities: pick the snapshot to drill, restore it into a scratch etcd and check it there, keep
// the result in the snapshot's record. The archive checks are the verify activity's (activities/verify.ts), the
// restore is the restore activity's (activities/restore.ts); the scratch servers and checks are lib/drill.
import { Context } from '@temporalio/activity';
import type { SnapshotPolicy, SnapshotRecord } from '../contracts/definitions';
import type { DrillChecks, DrillSummary } from '../contracts/drill';
import type { SnapshotLocationRef } from '../contracts/restore';
import { isClusterRecord } from '../lib/catalog';
import { checkWithApiServer } from '../lib/drill/apiserver';
import { checkRestoredEtcd } from '../lib/drill/check';
import { reapAbandonedScratch } from '../lib/drill/process';
import { startScratchEtcd } from '../lib/drill/scratch-etcd';
import type { ActivityDeps } from './deps';
import { identitySource } from './encryption';
import { restoreArchive } from './restore';
import { openStore } from './store';
import { openSnapshotStore } from './verify';

export interface DrillCandidate {
  snapshotName: string;
  status: SnapshotRecord['status'];
  finishedAt: string;
  sha256?: string;
  keys: number;
  /** False when the record is there but its archive is gone from storage. */
  archivePresent: boolean;
  /** The snapshot run that wrote it, for the drill's details in the Web UI. */
  workflowId?: string;
  runId?: string;
}

export interface RestoreAndCheckInput {
  snapshot: SnapshotLocationRef;
  expectedSha256?: string;
}

const RESTORABLE: ReadonlySet<string> = new Set(['Completed', 'PartiallyFailed']);

/** Newest first by nominal time (snapshot names sort by it, too). */
const newestFirst = (a: SnapshotRecord, b: SnapshotRecord) => (b.nominalTime || b.snapshotName).localeCompare(a.nominalTime || a.snapshotName);

export function createDrillActivities(deps: ActivityDeps) {
  return {
    /** The newest Completed or PartiallyFailed snapshot of the cluster (or the one named), and whether its archive is there. */
    async findDrillSnapshot(args: { policy: SnapshotPolicy; snapshotName?: string }): Promise<DrillCandidate | undefined> {
      const store = await openStore(deps, args.policy);
      const records = (await store.listRecords()).filter((r) => isClusterRecord(args.policy, r) && RESTORABLE.has(r.status)).sort(newestFirst);
      const record = args.snapshotName ? records.find((r) => r.snapshotName === args.snapshotName) : records[0];
      if (!record) return undefined;
      const archivePresent = (await store.headArchive(record.snapshotName)) !== undefined;
      // The newest Completed snapshot whose archive is there is the cluster's recovery point.
      for (const r of records) {
        if (r.status !== 'Completed') continue;
        if (r === record ? archivePresent : (await store.headArchive(r.snapshotName)) !== undefined) {
          deps.metrics?.restorableSnapshotSeen?.(args.policy.cluster, r.finishedAt);
          break;
        }
      }
      return { snapshotName: record.snapshotName, status: record.status, finishedAt: record.finishedAt, sha256: record.sha256, keys: record.keys, archivePresent, workflowId: record.workflowId, runId: record.runId };
    },

    /**
     * Restores the snapshot into a scratch etcd, checks it there key by key, optionally starts a kube-apiserver on
     * it, and removes it. A retried attempt starts over on a new scratch etcd.
     */
    async restoreAndCheck(input: RestoreAndCheckInput): Promise<DrillChecks> {
      const context = Context.current();
      const signal = context.cancellationSignal;
      const phase = (name: string, extra: Record<string, unknown> = {}) => context.heartbeat({ drillPhase: name, ...extra });
      const reaped = await reapAbandonedScratch();
      if (reaped.length > 0) context.log.warn('removed scratch servers of an earlier worker that stopped mid-drill', { directories: reaped.length });
      phase('starting etcd');
      const etcd = await startScratchEtcd({ binary: deps.drillEtcdBinary, endpoint: deps.drillEtcdEndpoint, signal });
      try {
        const before = await etcd.client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
        const restore = await restoreArchive(
          deps,
          { snapshot: input.snapshot, target: { endpoints: [etcd.endpoint] }, force: false, expectedSha256: input.expectedSha256 },
          // The drill's own heartbeat shape: a retried drill never resumes a restore into a scratch etcd that is gone.
          { heartbeat: (progress) => phase('restoring', { keys: progress.keys }), signal, attempt: 1, client: etcd.client },
        );
        phase('checking');
        const store = await openSnapshotStore(deps, input.snapshot);
        const archive = await store.getArchive(input.snapshot.snapshotName);
        const checks = await checkRestoredEtcd(etcd.client, archive, {
          expectedSha256: input.expectedSha256,
          baseRevision: Number(before.header.revision),
          transactions: restore.transactions,
          identities: identitySource(deps),
          signal,
          onProgress: () => phase('checking'),
        });
        if (restore.keysRestored !== checks.keysArchived) checks.problems.push(`the restore wrote ${restore.keysRestored} keys, the archive holds ${checks.keysArchived}`);
        if (deps.drillKubeApiserver) {
          phase('starting kube-apiserver');
          const heartbeats = setInterval(() => phase('kube-apiserver'), 10_000);
          try {
            checks.apiServer = await checkWithApiServer(deps.drillKubeApiserver, etcd.endpoint, checks.objects, signal);
          } finally {
            clearInterval(heartbeats);
          }
          checks.problems.push(...checks.apiServer.problems.map((p) => `kube-apiserver on the restored etcd: ${p}`));
        }
        context.log.info('drill checked', { snapshotName: input.snapshot.snapshotName, keys: checks.keysRestored, problems: checks.problems.length });
        return checks;
      } finally {
        await etcd.stop();
      }
    },

    /** Keeps the drill's summary in the drilled snapshot's record, and counts it. */
    async recordDrill(args: { policy: SnapshotPolicy; snapshotName?: string; summary: DrillSummary; drillId: string }): Promise<void> {
      const { policy, summary } = args;
      deps.metrics?.drillFinished?.(policy.cluster, summary, args.drillId);
      if (!args.snapshotName) return;
      const store = await openStore(deps, policy);
      const record = await store.getRecord(args.snapshotName);
      // The record is gone (retention pruned it meanwhile): nothing to annotate.
      if (!record || !isClusterRecord(policy, record)) return;
      await store.putRecord({ ...record, drill: summary });
    },
  };
}

