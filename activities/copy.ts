// The copy step: a stored snapshot streamed from its primary location into the policy's `copy` location, its
// sha256 checked against the one the dump recorded. A failed copy never touches the primary.
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import type { SnapshotCopy, SnapshotPolicy } from '../contracts/definitions';
import { digesting, nameTaken, sameOwner } from '../lib/storage/common';
import { checkedLock } from '../lib/storage/object-lock';
import type { SnapshotStore } from '../lib/storage/types';
import type { ActivityDeps } from './deps';
import { transferMeter } from './liveness';
import { openCopyStore, openStore } from './store';

/** sha256 of a stored archive, read back (heartbeating). */
async function digestOf(context: Context, store: SnapshotStore, snapshotName: string): Promise<string> {
  const tee = digesting(await store.getArchive(snapshotName), context.cancellationSignal);
  let bytes = 0;
  for await (const chunk of tee.stream) {
    bytes += (chunk as Buffer).length;
    context.heartbeat({ verified: bytes });
  }
  return tee.result().sha256;
}

function sessionsIn(details: unknown): string[] {
  const sessions = (details as { uploadSessions?: unknown } | undefined)?.uploadSessions;
  return Array.isArray(sessions) ? sessions.filter((session): session is string => typeof session === 'string') : [];
}

export function createCopyActivities(deps: ActivityDeps) {
  return {
    /** Copies `snapshotName` (whose archive has `sha256`) to the policy's copy location; throws when it cannot. */
    async copySnapshot(args: { policy: SnapshotPolicy; snapshotName: string; nominalTime: string; sha256: string }): Promise<SnapshotCopy & { lockWarning?: string }> {
      const context = Context.current();
      const { policy, snapshotName } = args;
      const primary = await openStore(deps, policy);
      const target = (await openCopyStore(deps, policy))!;
      // An encrypted archive is copied as it is stored, ciphertext under its `.age` name.
      const encrypted = (await primary.headArchive(snapshotName))?.encrypted === true;
      const url = target.urlFor(snapshotName, encrypted);
      const owner = { cluster: policy.cluster, workflowId: context.info.workflowExecution?.workflowId ?? '' };
      const locking = await checkedLock(target, policy, args.nominalTime, deps.clock(), `copy location ${url}`);
      const existing = await target.archiveOwner?.(snapshotName);
      if (existing) {
        if (!sameOwner(existing.owner, owner)) throw nameTaken('archive', url, existing.owner);
        // An earlier attempt of this run stored it: it stands if it holds the same bytes.
        const digest = await digestOf(context, target, snapshotName);
        if (digest === args.sha256) return { url, sha256: digest, ...locking };
        await target.deleteArchive(snapshotName);
        throw new Error(`the copy ${url} an earlier attempt stored has sha256 ${digest}, not the archive's ${args.sha256}; removed it to copy again`);
      }
      let uploadSessions = sessionsIn(context.info.heartbeatDetails);
      let storedBytes = 0;
      // Alive by bytes moved, as the dump is: a slow link is no dead worker, a stalled one fails the attempt. Inside
      // meter.run, the stores' shared clients find this transfer's meter (download and upload alike).
      const meter = transferMeter(deps, context, `copying snapshot ${snapshotName} to ${url}`, () => ({ stored: storedBytes, uploadSessions }));
      let source: Readable | undefined;
      const stored = await meter
        .run(async () =>
          target.putArchive(snapshotName, meter.count((source = await primary.getArchive(snapshotName))), meter.signal, {
            encrypted,
            owner,
            retry: context.info.attempt > 1,
            abandonedSessions: uploadSessions,
            onSession: (session) => {
              uploadSessions = [...uploadSessions, session];
              context.heartbeat({ stored: storedBytes, uploadSessions });
            },
            onStored: (bytes) => (storedBytes = bytes),
            lock: locking.lock,
          }),
        )
        .catch((err: unknown) => {
          source?.destroy(); // a target that refused before reading it all: the download goes too
          throw meter.stalled ?? err;
        })
        .finally(() => meter.stop());
      if (stored.sha256 !== args.sha256) {
        // The primary's bytes changed or were misread: a copy that is not the snapshot must not stay.
        await target.deleteArchive(snapshotName).catch(() => undefined);
        throw new Error(`copied ${stored.bytes} bytes to ${url} with sha256 ${stored.sha256}, but the snapshot's archive has ${args.sha256}; the copy was removed`);
      }
      context.log.info('snapshot copied', { snapshotName, url, bytes: stored.bytes, lockedUntil: locking.lock?.retainUntil });
      if (locking.lockWarning) context.log.warn('snapshot copy stored without the Object Lock its policy asks for', { snapshotName, reason: locking.lockWarning });
      return { url: stored.url, sha256: stored.sha256, ...locking };
    },
  };
}
