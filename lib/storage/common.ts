// Helpers every backend shares: its failures (contracts/errors), the streaming sha256 tee, record (de)serialization.
import { createHash } from 'node:crypto';
import { Transform, addAbortSignal, pipeline, type Readable } from 'node:stream';
import type { ApplicationFailure } from '@temporalio/common';
import type { SnapshotRecord } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';

export const ARCHIVE_SUFFIX = '.tar.gz';
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
