// Verifies a snapshot archive in one streaming pass: the sha256 of the stored bytes, every gzip byte and tar entry,
// and vCluster's layout (SPEC section 5). Damage is reported where it was found: the compressed byte offset (as close
// as gunzip's output steps allow), the tar offset and the entry.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract, type Extract } from 'tar-stream';
import type { VerifyProblem, VerifyReport } from '../../contracts/restore';
import { DB_KEY, RELEASE_KEY, REQUEST_KEY, REVISION_KEY, SKIP_KEYS_KEY, SNAPSHOT_METADATA_PREFIX } from '../etcd/dump';
import { decryptingStream, isKeyFailure, type IdentitySource } from './encryption';
import { readEntryBody } from './writer';
import { protobufFields, type FieldBounds } from './protobuf';

/** Output step of gunzip: smaller steps locate damage more precisely, at some CPU cost. */
const GUNZIP_STEP = 4096;
const TAR_BLOCK = 512;
const PROGRESS_EVERY = 500;
const MiB = 1024 * 1024;

/**
 * Bounds on what reading an archive may cost, so a hostile or broken archive (a gzip bomb) fails in bounded memory
 * and time. Entries are buffered one at a time, so memory is about one entry; the ratio stops a stream that expands
 * far beyond any etcd data long before it is read to its end.
 */
export interface ReadLimits {
  /** Largest entry (one etcd value, or the release entry) buffered; etcd's own default limit is 1.5 MiB a request. */
  maxEntryBytes: number;
  /** Largest ratio of tar bytes to compressed bytes, checked once `ratioAfterBytes` of tar data were read. */
  maxExpansionRatio: number;
  ratioAfterBytes: number;
}

// etcd data (JSON and protobuf Kubernetes objects) compresses about 3-10x; gzip's own ceiling is about 1030x.
export const DEFAULT_READ_LIMITS: ReadLimits = { maxEntryBytes: 64 * MiB, maxExpansionRatio: 200, ratioAfterBytes: 64 * MiB };

export interface VerifyOptions {
  /** Default DEFAULT_READ_LIMITS. */
  limits?: Partial<ReadLimits>;
  /** Each entry that passed the checks, in archive order; awaited (backpressure). */
  onEntry?: (name: string, value: Buffer) => void | Promise<void>;
  /** Called every few hundred entries (heartbeat here). */
  onProgress?: (report: VerifyReport) => void;
  signal?: AbortSignal;
  /**
   * The identities of an encrypted (age) archive, asked for only when the archive turns out to be one. The sha256 and
   * byte count stay those of the stored (encrypted) bytes; offsets in problems are of the gzip data.
   */
  identities?: IdentitySource;
  /** Names the archive in decryption errors. */
  what?: string;
}

interface StreamFailure {
  stage: 'source' | 'decrypt' | 'gzip' | 'tar' | 'limit';
  error: Error & { code?: string };
  /** gunzip input consumed before the step that failed. */
  compressedOffset: number;
}

/** Remembers which compressed offset produced which tar offset, for the last stretch of gunzip output. */
class OffsetTrail {
  private readonly points: Array<{ tar: number; compressed: number }> = [];
  private tarBytes = 0;
  private dropped = false;

  add(outputBytes: number, compressedConsumed: number): void {
    this.tarBytes += outputBytes;
    this.points.push({ tar: this.tarBytes, compressed: compressedConsumed });
    if (this.points.length > 1024) {
      this.points.splice(0, 512);
      this.dropped = true;
    }
  }

  /** How far gunzip had read when its output reached `tarOffset`: the compressed data behind it starts about there. */
  compressedAt(tarOffset: number): number | undefined {
    let found = this.dropped ? undefined : 0;
    for (const point of this.points) {
      if (point.tar > tarOffset) break;
      found = point.compressed;
    }
    return found;
  }
}

/**
 * vCluster's layouts. Key/value kind: release entry first, then the request entry, then the revision entry (vCluster's
 * newest writer), then keys strictly ascending in byte order. Keys under /vcluster/snapshot/ among the keys are
 * copies an earlier vCluster restore Put into etcd (v0.36.1 writes every entry as a key): they are taken in key order
 * and never restored. Database kind (vCluster's embedded etcd): release and request entries, then the etcd database
 * snapshot `/vcluster/snapshot/db`, then optionally `/vcluster/snapshot/skipkeys`, nothing else.
 */
export function createFormatCheck(onKind?: (kind: ArchiveKind) => void): (name: string, type: string) => string | undefined {
  let position = 0;
  let lastKey: Buffer | undefined;
  let sawRequest = false;
  let sawRevision = false;
  let database: 'db' | 'skipkeys' | undefined;
  return (name, type) => {
    const index = position++;
    if (type !== 'file') return `is a ${type} entry; a snapshot holds regular files only`;
    if (database) {
      if (name === SKIP_KEYS_KEY && database === 'db') {
        database = 'skipkeys';
        return undefined;
      }
      return `follows the etcd database entry ${DB_KEY}, after which only ${SKIP_KEYS_KEY} may come`;
    }
    if (!lastKey) {
      if (name === RELEASE_KEY) return index === 0 ? undefined : 'is the release entry, which must be the first entry';
      if (name === REQUEST_KEY) {
        if (sawRequest || sawRevision) return 'is the request entry, which must come once, after the release entry and before every other';
        sawRequest = true;
        return undefined;
      }
      if (name === REVISION_KEY) {
        if (sawRevision) return 'repeats the revision entry';
        sawRevision = true;
        return undefined;
      }
      if (name === DB_KEY) {
        if (sawRevision) return 'is the etcd database entry, which cannot follow a revision entry';
        database = 'db';
        onKind?.('etcd-db');
        return undefined;
      }
      if (name.startsWith(SNAPSHOT_METADATA_PREFIX)) return `is under ${SNAPSHOT_METADATA_PREFIX} before the first key, where only the release, request, revision and database entries belong`;
    }
    if (name === '') return 'has an empty name';
    const key = Buffer.from(name, 'utf8');
    const order = lastKey ? Buffer.compare(key, lastKey) : 1;
    if (order <= 0) return order === 0 ? 'repeats the key before it' : `is out of order: keys must ascend in byte order, and it sorts before "${lastKey}"`;
    lastKey = key;
    return undefined;
  };
}

export type ArchiveKind = 'key-value' | 'etcd-db';

/** A value that claims a Kubernetes encoding but does not parse: a hint where a checksum failure's damage is. */
export function implausibleValue(value: Buffer): string | undefined {
  if (value[0] === 0x7b) {
    try {
      JSON.parse(value.toString('utf8'));
      return undefined;
    } catch {
      return 'value is not valid JSON';
    }
  }
  if (value.subarray(0, 4).equals(Buffer.from('k8s\0'))) {
    const raw = protobufField(value, 4, 2);
    return raw === undefined || protobufField(value, raw.start, 0, raw.end) === undefined ? 'value is not a valid Kubernetes protobuf envelope' : undefined;
  }
  return undefined;
}

/** The bounds of the first length-delimited field `wanted` in [start, end) (the whole range for 0), if well-formed. */
function protobufField(buf: Buffer, start: number, wanted: number, end = buf.length): FieldBounds | undefined {
  const fields = protobufFields(buf, start, end);
  if (!fields) return undefined;
  return wanted === 0 ? { start, end } : fields.get(wanted);
}

function jsonObject(value: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const field = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined);

interface ArchiveStream {
  /** The tar entries of the gunzipped archive. */
  tar: Extract;
  /** The first stream failure, and where it happened. */
  failure(): StreamFailure | undefined;
  /** The compressed offset gunzip had read up to when its output reached `tarOffset`. */
  compressedAt(tarOffset: number): number;
  /** Compressed bytes read so far and their sha256 (call once, at the end). */
  archiveBytes(): number;
  sha256(): string;
  close(): void;
}

/** archive -> sha256 and byte count -> decryption, when it is encrypted -> gunzip (its offsets remembered) -> tar. */
function openArchive(archive: Readable, limits: ReadLimits, options: VerifyOptions): ArchiveStream {
  const { signal } = options;
  const decrypt = decryptingStream(options.identities, options.what ?? 'the archive');
  const hash = createHash('sha256');
  let archiveBytes = 0;
  const gunzip = createGunzip({ chunkSize: GUNZIP_STEP });
  const tar = extract();
  const trail = new OffsetTrail();
  let failure: StreamFailure | undefined;
  const fail = (stage: StreamFailure['stage']) => (error: Error) => {
    failure ??= { stage, error, compressedOffset: gunzip.bytesWritten };
    tar.destroy(failure.error);
  };
  const abort = () => fail('source')(signal?.reason instanceof Error ? signal.reason : new Error('verification cancelled'));
  archive.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    archiveBytes += chunk.length;
  });
  let tarBytes = 0;
  gunzip.on('data', (chunk: Buffer) => {
    trail.add(chunk.length, gunzip.bytesWritten);
    tarBytes += chunk.length;
    if (tarBytes > limits.ratioAfterBytes && tarBytes > limits.maxExpansionRatio * gunzip.bytesWritten && !failure) {
      const ratio = Math.round(tarBytes / Math.max(gunzip.bytesWritten, 1));
      const message = `the archive expands ${ratio}-fold (${tarBytes} bytes from the first ${gunzip.bytesWritten} compressed), beyond the ${limits.maxExpansionRatio}-fold limit: a decompression bomb, not etcd data; refused before reading further`;
      fail('limit')(new Error(message));
      gunzip.destroy();
    }
  });
  archive.on('error', fail('source'));
  // No identity for an encrypted archive is the worker's problem, thrown like a broken download; damage is reported.
  decrypt.on('error', (error: Error) => fail(isKeyFailure(error) ? 'source' : 'decrypt')(error));
  gunzip.on('error', fail('gzip'));
  tar.on('error', fail('tar'));
  signal?.addEventListener('abort', abort);
  archive.pipe(decrypt).pipe(gunzip).pipe(tar);
  return {
    tar,
    failure: () => failure,
    compressedAt: (tarOffset) => trail.compressedAt(tarOffset) ?? gunzip.bytesWritten,
    archiveBytes: () => archiveBytes,
    sha256: () => hash.digest('hex'),
    close() {
      signal?.removeEventListener('abort', abort);
      archive.unpipe(decrypt);
      archive.destroy();
      decrypt.destroy();
      gunzip.destroy();
      tar.destroy();
    },
  };
}

/**
 * Reads the whole archive and checks it. Problems with the archive's content are returned in the report (the first
 * one; reading stops there); errors of the source stream itself (a broken download) and of `onEntry` are thrown.
 */
export async function verifyArchive(archive: Readable, expectedSha256?: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { onEntry, onProgress } = options;
  const report: VerifyReport = { ok: false, kind: 'key-value', archiveBytes: 0, sha256: '', tarBytes: 0, entries: 0, keys: 0, valueBytes: 0 };
  if (expectedSha256) report.expectedSha256 = expectedSha256.toLowerCase();
  const limits = { ...DEFAULT_READ_LIMITS, ...options.limits };
  const stream = openArchive(archive, limits, options);
  const checkFormat = createFormatCheck((kind) => (report.kind = kind));
  let lastEntry: { name: string; next: number } | undefined;
  let suspect: { name: string; reason: string; tarOffset: number } | undefined;
  try {
    for await (const entry of stream.tar) {
      const { name, type, size } = entry.header;
      // The etcd database of vCluster's embedded-etcd kind can be any size: checked as it streams, never buffered, so
      // the one-entry limit (which bounds buffering) does not apply to it.
      if (name !== DB_KEY && (size ?? 0) > limits.maxEntryBytes) {
        const compressedOffset = stream.compressedAt(entry.offset);
        const message = `entry #${report.entries + 1} "${name}" (tar byte ${entry.offset}, near compressed byte ${compressedOffset}) claims ${size} bytes, beyond the ${limits.maxEntryBytes}-byte limit for one entry: refused before reading it`;
        report.problem = { kind: 'limit', message, compressedOffset, tarOffset: entry.offset, entry: name };
        break;
      }
      const database = name === DB_KEY ? await readDatabaseEntry(entry) : undefined;
      const value = database ? EMPTY : await readEntryBody(entry);
      report.entries++;
      report.tarBytes = entry.offset + TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
      lastEntry = { name, next: report.tarBytes };
      const wrong = checkFormat(name, type) ?? (database ? databaseProblem(database, report) : metadataProblem(name, value, report));
      if (wrong) {
        const compressedOffset = stream.compressedAt(entry.offset);
        const message = `entry #${report.entries} "${name}" (tar byte ${entry.offset}, near compressed byte ${compressedOffset}) ${wrong}`;
        report.problem = { kind: 'format', message, compressedOffset, tarOffset: entry.offset, entry: name };
        break;
      }
      if (!name.startsWith(SNAPSHOT_METADATA_PREFIX)) {
        report.keys++;
        report.valueBytes += value.length;
        report.firstKey ??= name;
        report.lastKey = name;
        const reason = suspect ? undefined : implausibleValue(value);
        if (reason) suspect = { name, reason, tarOffset: entry.offset };
      }
      await onEntry?.(name, value);
      if (report.entries % PROGRESS_EVERY === 0) onProgress?.(report);
    }
  } catch (err) {
    if (err !== stream.failure()?.error) throw err;
  } finally {
    stream.close();
  }
  report.archiveBytes = stream.archiveBytes();
  const failure = stream.failure();
  if (failure?.stage === 'source') throw failure.error;
  if (failure) {
    const hint = suspect ? `; the first damaged-looking entry is "${suspect.name}" (${suspect.reason}, near compressed byte ${stream.compressedAt(suspect.tarOffset)})` : '';
    report.problem = streamProblem(failure, report, lastEntry, stream.compressedAt, hint);
  } else if (!report.problem) {
    report.sha256 = stream.sha256();
    if (report.expectedSha256 && report.expectedSha256 !== report.sha256) {
      // A changed byte can leave gzip's checksum intact (e.g. a match distance pointing at identical data).
      const message = `the archive's sha256 ${report.sha256} (${report.archiveBytes} bytes) does not match the recorded ${report.expectedSha256}: it reads cleanly but was changed after it was written`;
      report.problem = { kind: 'digest', message };
    }
  }
  report.ok = !report.problem;
  return report;
}

/** The release and request entries must be what `vcluster restore` can read. */
function metadataProblem(name: string, value: Buffer, report: VerifyReport): string | undefined {
  if (name === REVISION_KEY && report.keys === 0) {
    if (!/^[1-9]\d{0,18}$/.test(value.toString('latin1'))) return 'is not a decimal etcd revision';
    report.revision = value.toString('latin1');
    return undefined;
  }
  if (name === SKIP_KEYS_KEY) return jsonObject(value) ? undefined : 'is not a JSON object';
  // Copies among the keys (Put into etcd by an earlier vCluster restore) are not this archive's release or request.
  if ((name !== RELEASE_KEY && name !== REQUEST_KEY) || report.keys > 0) return undefined;
  const json = jsonObject(value);
  if (!json) return 'is not a JSON object';
  if (name === RELEASE_KEY) {
    report.release = { releaseName: text(json.releaseName), releaseNamespace: text(json.releaseNamespace), chartName: text(json.chartName), chartVersion: text(json.chartVersion) };
  } else {
    report.request = { name: text(field(json.metadata, 'name')), url: text(field(json.spec, 'url')) };
  }
  return undefined;
}

function streamProblem(
  failure: StreamFailure,
  report: VerifyReport,
  last: { name: string; next: number } | undefined,
  near: (tarOffset: number) => number,
  hint: string,
): VerifyProblem {
  const { error } = failure;
  if (failure.stage === 'limit') return { kind: 'limit', message: error.message, compressedOffset: failure.compressedOffset, entry: last?.name };
  if (failure.stage === 'decrypt') return { kind: 'encryption', message: error.message, compressedOffset: failure.compressedOffset, entry: last?.name };
  const after = last ? `after entry #${report.entries} "${last.name}"` : 'before the first entry';
  if (failure.stage === 'tar') {
    const tarOffset = last?.next ?? 0;
    const compressedOffset = near(tarOffset);
    const message = `unreadable tar data at tar byte ${tarOffset} (near compressed byte ${compressedOffset}), ${after}: ${error.message}`;
    return { kind: 'tar', message, tarOffset, compressedOffset, entry: last?.name };
  }
  if (error.code === 'Z_BUF_ERROR') {
    const message = `the archive is truncated: the gzip stream stops at compressed byte ${report.archiveBytes}, ${after}`;
    return { kind: 'gzip', message, compressedOffset: report.archiveBytes, entry: last?.name };
  }
  if (/incorrect (data|length) check/.test(error.message)) {
    // The gzip trailer's CRC-32 only says that something before it is wrong, not where.
    const compressedOffset = Math.max(report.archiveBytes - 8, 0);
    const message = `the gzip checksum at compressed byte ${compressedOffset} (the trailer) does not match the data: the archive is corrupt before it${hint}`;
    return { kind: 'gzip', message, compressedOffset, entry: last?.name };
  }
  const message = `the gzip data is corrupt at compressed byte ${failure.compressedOffset} (detected within the next few KiB), ${after}: ${error.message}`;
  return { kind: 'gzip', message, compressedOffset: failure.compressedOffset, entry: last?.name };
}


const EMPTY = Buffer.alloc(0);
const BOLT_MAGIC = 0xed0cdaed;
const ETCD_HASH_BYTES = 32;

interface DatabaseEntry {
  bytes: number;
  /** bbolt's magic in the first page's meta (page header 16 bytes, then magic u32 little-endian). */
  boltMagic: boolean;
  /** sha256 of everything but the last 32 bytes, and those last 32 bytes. */
  digest: Buffer;
  trailer: Buffer;
}

/**
 * etcd's snapshot (the Maintenance API's, as vCluster stores it) is a bbolt database followed by the sha256 of it,
 * which `etcdutl snapshot restore` checks: the same check here, hashing as the entry streams.
 */
async function readDatabaseEntry(entry: AsyncIterable<unknown>): Promise<DatabaseEntry> {
  const hash = createHash('sha256');
  let head = EMPTY;
  let tail = EMPTY;
  let bytes = 0;
  for await (const chunk of entry) {
    const data = chunk as Buffer;
    bytes += data.length;
    if (head.length < 20) head = Buffer.concat([head, data.subarray(0, 20 - head.length)]);
    // Everything but the last 32 bytes seen so far goes into the hash.
    const joined = Buffer.concat([tail, data]);
    const cut = Math.max(joined.length - ETCD_HASH_BYTES, 0);
    hash.update(joined.subarray(0, cut));
    tail = Buffer.from(joined.subarray(cut));
  }
  return { bytes, boltMagic: head.length >= 20 && head.readUInt32LE(16) === BOLT_MAGIC, digest: hash.digest(), trailer: tail };
}

function databaseProblem(database: DatabaseEntry, report: VerifyReport): string | undefined {
  if (database.bytes < 4096 || !database.boltMagic) return 'is not an etcd (bbolt) database snapshot';
  if (!database.digest.equals(database.trailer)) return "is an etcd database whose trailing sha256 does not match it (etcd's own snapshot integrity check)";
  report.databaseBytes = database.bytes - ETCD_HASH_BYTES;
  return undefined;
}
