// Helpers every backend shares: the storage error vocabulary, the streaming sha256 tee, bounded fan-out.
import { createHash } from 'node:crypto';
import { Transform, addAbortSignal, pipeline, type Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import type { SnapshotRecord } from '../../workflows/definitions';
import { STORAGE_ERROR_TYPES } from './types';

export const ARCHIVE_SUFFIX = '.tar.gz';
export const RECORD_SUFFIX = '.json';

export function badCredentials(message: string, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type: STORAGE_ERROR_TYPES.badCredentials, nonRetryable: true, cause: asError(cause) });
}

export function locationNotFound(message: string, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type: STORAGE_ERROR_TYPES.missingLocation, nonRetryable: true, cause: asError(cause) });
}

export function badConfiguration(message: string, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type: STORAGE_ERROR_TYPES.badConfiguration, nonRetryable: true, cause: asError(cause) });
}

/** A missing archive does not appear by retrying, so this one is non-retryable too. */
export function objectNotFound(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: STORAGE_ERROR_TYPES.notFound, nonRetryable: true });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function asError(cause: unknown): Error | undefined {
  return cause === undefined || cause instanceof Error ? cause : new Error(String(cause));
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

/** Maps items with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
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
