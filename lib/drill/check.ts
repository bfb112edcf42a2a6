// After a drill's restore: the scratch etcd must hold exactly the archive's keys with the archive's values, at the
// revision its transactions produce. One more pass over the archive, merged with paged reads of the etcd in key
// order (both ascend in byte order), decodes every value on the way.
import type { Readable } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import type { DrillChecks } from '../../contracts/drill';
import type { IdentitySource } from '../archive/encryption';
import { verifyArchive } from '../archive/verify';
import { SNAPSHOT_METADATA_PREFIX } from '../etcd/dump';
import { ObjectCounter } from './objects';

const PAGE = 500;
const MAX_EXAMPLES = 5;
const REQUEST_TIMEOUT_MS = 30_000;

/** Reads the etcd's keys in ascending order, a page at a time. */
function etcdPages(client: Etcd3): { next(): Promise<{ key: Buffer; value: Buffer } | undefined>; revision(): number } {
  let page: Array<{ key: Buffer; value: Buffer }> = [];
  let index = 0;
  let from: Buffer = Buffer.from([0]);
  let more = true;
  let revision = 0;
  return {
    async next() {
      if (index >= page.length) {
        if (!more) return undefined;
        const response = await client.kv.range({ key: from, range_end: Buffer.from([0]), limit: PAGE, sort_order: 'Ascend', sort_target: 'Key' }, { deadline: Date.now() + REQUEST_TIMEOUT_MS });
        revision = Number(response.header.revision);
        page = response.kvs.map((kv) => ({ key: kv.key, value: kv.value }));
        index = 0;
        more = response.more;
        if (page.length === 0) return undefined;
        from = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
      }
      return page[index++];
    },
    revision: () => revision,
  };
}

/**
 * Compares `client`'s whole key space with `archive` (its sha256 must still be `expectedSha256`).
 * `baseRevision` and `transactions`: the etcd's revision before the restore and the transactions it committed, so
 * the revision after must be their sum (nothing else wrote, nothing was written twice).
 */
export async function checkRestoredEtcd(
  client: Etcd3,
  archive: Readable,
  opts: { expectedSha256?: string; baseRevision: number; transactions: number; signal?: AbortSignal; onProgress?: () => void; identities?: IdentitySource },
): Promise<DrillChecks> {
  const counter = new ObjectCounter();
  const pages = etcdPages(client);
  const mismatches: string[] = [];
  let mismatchedKeys = 0;
  let keysRestored = 0;
  const mismatch = (key: string, why: string) => {
    mismatchedKeys++;
    if (mismatches.length < MAX_EXAMPLES) mismatches.push(`${key}: ${why}`);
  };
  let pending = await pages.next();
  const report = await verifyArchive(archive, opts.expectedSha256, {
    identities: opts.identities,
    signal: opts.signal,
    onProgress: opts.onProgress,
    onEntry: async (name, value) => {
      if (name.startsWith(SNAPSHOT_METADATA_PREFIX)) return;
      const key = Buffer.from(name, 'utf8');
      // Keys the etcd holds that sort before this archive key are extra.
      while (pending && Buffer.compare(pending.key, key) < 0) {
        keysRestored++;
        mismatch(pending.key.toString('utf8'), 'in the restored etcd but not in the archive');
        pending = await pages.next();
      }
      if (pending && pending.key.equals(key)) {
        keysRestored++;
        if (!pending.value.equals(value)) mismatch(name, `the restored value (${pending.value.length} bytes) differs from the archive's (${value.length} bytes)`);
        pending = await pages.next();
      } else {
        mismatch(name, 'in the archive but missing from the restored etcd');
      }
      counter.add(name, value);
    },
  });
  while (pending) {
    keysRestored++;
    mismatch(pending.key.toString('utf8'), 'in the restored etcd but not in the archive');
    pending = await pages.next();
  }
  const problems: string[] = [];
  if (!report.ok) problems.push(`the archive changed or broke while it was checked: ${report.problem?.message}`);
  const revision = pages.revision();
  const expectedRevision = opts.baseRevision + opts.transactions;
  if (mismatchedKeys > 0) problems.push(`${mismatchedKeys} keys differ between the archive and the restored etcd, e.g. ${mismatches[0]}`);
  if (keysRestored !== report.keys) problems.push(`the restored etcd holds ${keysRestored} keys, the archive ${report.keys}`);
  if (revision !== expectedRevision) problems.push(`the restored etcd is at revision ${revision}, expected ${expectedRevision} (${opts.baseRevision} + ${opts.transactions} restore transactions)`);
  if (counter.undecodable > 0) problems.push(`${counter.undecodable} values under /registry/ are not Kubernetes objects, e.g. ${counter.undecodableExamples[0]}`);
  return {
    keysArchived: report.keys,
    keysRestored,
    mismatchedKeys,
    mismatchExamples: mismatches,
    revision,
    expectedRevision,
    objects: counter.sorted(),
    undecodable: counter.undecodable,
    undecodableExamples: counter.undecodableExamples,
    problems,
  };
}
