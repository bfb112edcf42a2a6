// Tamper evidence for metadata records (SPEC 8, 9): records live in the tenant's own storage, where the tenant can
// write, yet retention acts on the volume snapshot handles they list (it deletes cloud snapshots). The worker signs
// every record it writes with a key only it holds (HMAC-SHA256 over the record's canonical JSON); retention acts on a
// record's handles only when the signature verifies.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SnapshotRecord } from '../contracts/definitions';

/** JSON with object keys sorted at every level, so the same record always signs the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The drill summary is outside the signature: drills add it later, and retention never acts on it. */
function mac(record: SnapshotRecord, key: Buffer): Buffer {
  const { signature: _ignored, drill: _drill, ...signed } = record;
  return createHmac('sha256', key).update(canonical(signed)).digest();
}

export function signRecord(record: SnapshotRecord, key: Buffer): SnapshotRecord {
  return { ...record, signature: mac(record, key).toString('base64') };
}

/** True only for a record signed with `key` and unchanged since. */
export function verifyRecord(record: SnapshotRecord, key: Buffer): boolean {
  if (typeof record.signature !== 'string') return false;
  const given = Buffer.from(record.signature, 'base64');
  const expected = mac(record, key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
