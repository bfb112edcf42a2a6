// Helpers every backend shares: its failures (contracts/errors), the streaming sha256 tee, record (de)serialization.
import { createHash } from 'node:crypto';
import { Transform, addAbortSignal, pipeline, type Readable } from 'node:stream';
import type { ApplicationFailure } from '@temporalio/common';
import type { SnapshotRecord } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import type { ArchiveOwner, PutRecordOptions } from './types';

export const ARCHIVE_SUFFIX = '.tar.gz';
/** An encrypted archive: `<name>.tar.gz.age`, the suffix the `age` tool and file managers recognise. */
export const ENCRYPTED_ARCHIVE_SUFFIX = '.tar.gz.age';
/** Where a reader looks for an archive, plain first (one name holds at most one of them). */
export const ARCHIVE_SUFFIXES = [ARCHIVE_SUFFIX, ENCRYPTED_ARCHIVE_SUFFIX] as const;

export function archiveSuffix(encrypted: boolean | undefined): string {
  return encrypted ? ENCRYPTED_ARCHIVE_SUFFIX : ARCHIVE_SUFFIX;
}

/** The archive suffix `name` ends with, if any. */
export function archiveSuffixOf(name: string): string | undefined {
  return ARCHIVE_SUFFIXES.find((suffix) => name.endsWith(suffix));
}
export const RECORD_SUFFIX = '.json';

export function badCredentials(message: string, cause?: unknown): ApplicationFailure {
  return failure('StorageBadCredentials', message, cause);
}

export function locationNotFound(message: string, cause?: unknown): ApplicationFailure {
  return failure('StorageLocationNotFound', message, cause);
}

export function badConfiguration(message: string, cause?: unknown): ApplicationFailure {
  return failure('StorageBadConfiguration', message, cause);
}

/** A missing archive does not appear by retrying, so this one is non-retryable too. */
export function objectNotFound(message: string): ApplicationFailure {
  return failure('StorageObjectNotFound', message);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface DigestingStream {
  /** The archive bytes, unchanged; destroyed with an AbortError when `signal` aborts. */
  stream: Readable;
  /** sha256 (hex) and byte count of everything that passed through; call once the stream has ended. */
  result(): { sha256: string; bytes: number };
}

/**
 * Tees the archive through a sha256 while it streams to a backend, so the digest costs no extra pass and no
 * buffering. Errors of the source propagate to the returned stream (and so to whatever consumes it), and a failing
 * consumer that destroys the returned stream also stops the source.
 */
export function digesting(source: Readable, signal?: AbortSignal): DigestingStream {
  const hash = createHash('sha256');
  let bytes = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  pipeline(source, tee, () => undefined);
  if (signal) addAbortSignal(signal, tee);
  return { stream: tee, result: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/** Parses a stored record; `where` names it in the error. */
export function parseRecord(text: string, where: string): SnapshotRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`metadata record ${where} is not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { formatVersion?: unknown }).formatVersion !== 1) {
    throw new Error(`metadata record ${where} has an unknown format (formatVersion 1 expected)`);
  }
  return parsed as SnapshotRecord;
}

export function serializeRecord(record: SnapshotRecord): Buffer {
  return Buffer.from(JSON.stringify(record, null, 2) + '\n');
}

/** Snapshot names become object keys, file names and OCI tags: keep them to the OCI tag alphabet. */
export function assertSnapshotName(snapshotName: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,122}$/.test(snapshotName) || snapshotName.endsWith('.meta')) {
    throw badConfiguration(`invalid snapshot name ${JSON.stringify(snapshotName)}: use letters, digits, '.', '_' and '-' (at most 123 characters)`);
  }
}

/** Same cluster and same workflow: an earlier attempt of this very run. */
export function sameOwner(a: ArchiveOwner | undefined, b: ArchiveOwner | undefined): boolean {
  return !!a && !!b && a.workflowId === b.workflowId && a.cluster.namespace === b.cluster.namespace && a.cluster.name === b.cluster.name;
}

export function ownerText(owner: ArchiveOwner | undefined): string {
  return owner ? `cluster ${owner.cluster.namespace}/${owner.cluster.name} (workflow ${owner.workflowId})` : 'something other than vcsnap (it carries no owner)';
}

/** The owner as flat string pairs: S3 user metadata, OCI annotations, the hidden owner file of a directory. */
export function ownerFields(owner: ArchiveOwner): Record<string, string> {
  return { 'vcsnap-cluster': `${owner.cluster.namespace}/${owner.cluster.name}`, 'vcsnap-workflow': owner.workflowId };
}

export function ownerOf(fields: Record<string, string | undefined> | undefined): ArchiveOwner | undefined {
  const cluster = fields?.['vcsnap-cluster'];
  const workflowId = fields?.['vcsnap-workflow'];
  const slash = cluster?.indexOf('/') ?? -1;
  if (!cluster || !workflowId || slash <= 0) return undefined;
  return { cluster: { namespace: cluster.slice(0, slash), name: cluster.slice(slash + 1) }, workflowId };
}

/** The owner of a record: the run that wrote it. */
export function recordOwner(record: SnapshotRecord): ArchiveOwner | undefined {
  return record.workflowId && record.cluster ? { cluster: record.cluster, workflowId: record.workflowId } : undefined;
}

/** A stored record may be replaced by the same run's, or when the caller says so. */
export function mayReplaceRecord(existing: SnapshotRecord, record: SnapshotRecord, options: PutRecordOptions | undefined): boolean {
  return sameOwner(recordOwner(existing), recordOwner(record)) || options?.replaces?.(existing) === true;
}

/** The name is taken: `what` (archive or record) at `url` belongs to someone else and is kept as it is. */
export function nameTaken(what: 'archive' | 'metadata record', url: string, owner: ArchiveOwner | undefined, cause?: unknown): ApplicationFailure {
  return failure(
    'SnapshotNameTaken',
    `snapshot ${what} ${url} already exists, written by ${ownerText(owner)}; it is never overwritten. Two clusters with the same name sharing one storage location collide: give each its own prefix or repository`,
    cause,
  );
}
