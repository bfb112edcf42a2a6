// The verify activity: a stored snapshot's archive checked by lib/archive/verify, then against its metadata record.
import { Context } from '@temporalio/activity';
import type { SnapshotPolicy } from '../contracts/definitions';
import type { SnapshotLocationRef, VerifyResult } from '../contracts/restore';
import { verifyArchive } from '../lib/archive/verify';
import type { SnapshotStore } from '../lib/storage';
import { secretScope, type ActivityDeps } from './deps';
import { identitySource } from './encryption';
import { transferMeter } from './liveness';
import { openStore } from './store';

/** The store a snapshot reference points at, with its credentials resolved here, inside the activity. */
export function openSnapshotStore(deps: ActivityDeps, snapshot: SnapshotLocationRef): Promise<SnapshotStore> {
  // openStore reads only the location and, for its messages, the cluster. Only the named cluster's grants apply
  // (none but the shared namespaces when the input names no cluster).
  const cluster = snapshot.cluster ?? { namespace: 'snapshot', name: snapshot.snapshotName };
  return openStore(deps, { cluster, storage: snapshot.storage } as SnapshotPolicy, secretScope(deps, snapshot.cluster));
}

export async function verifyStoredSnapshot(deps: ActivityDeps, input: { snapshot: SnapshotLocationRef }): Promise<VerifyResult> {
  const context = Context.current();
  const { snapshotName } = input.snapshot;
  const store = await openSnapshotStore(deps, input.snapshot);
  const record = await store.getRecord(snapshotName);
  let progress = { entries: 0, archiveBytes: 0 };
  const meter = transferMeter(deps, context, `reading snapshot ${store.urlFor(snapshotName, record?.encryption !== undefined)}`, () => progress);
  const report = await verifyArchive(meter.count(await store.getArchive(snapshotName)), record?.sha256, {
    identities: identitySource(deps),
    what: `snapshot ${snapshotName}`,
    signal: meter.signal,
    onProgress: ({ entries, archiveBytes }) => context.heartbeat((progress = { entries, archiveBytes })),
  })
    .catch((err: unknown) => {
      throw meter.stalled ?? err;
    })
    .finally(() => meter.stop());
  const result: VerifyResult = { ...report, snapshotName, url: store.urlFor(snapshotName, record?.encryption !== undefined) };
  if (record) {
    result.record = { status: record.status, sha256: record.sha256, keys: record.keys, bytes: record.bytes, nominalTime: record.nominalTime };
    const mismatch =
      record.keys !== report.keys ? `${report.keys} keys, the record says ${record.keys}` : record.bytes !== report.archiveBytes ? `${report.archiveBytes} bytes, the record says ${record.bytes}` : undefined;
    if (report.ok && mismatch) {
      result.problem = { kind: 'record', message: `the archive holds ${mismatch}` };
      result.ok = false;
    }
  }
  context.log.info('snapshot verified', { snapshotName, ok: result.ok, keys: result.keys, bytes: result.archiveBytes, problem: result.problem?.message });
  return result;
}
