// S3 backend: `<prefix>/<name>.tar.gz` streamed with a multipart upload, `<prefix>/<name>.json` beside it.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
  type ChecksumAlgorithm,
  type PutObjectCommandInput,
  type ServerSideEncryption,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectLock, ObjectLockMode, S3Location, SnapshotRecord } from '../../contracts/definitions';
import {
  ARCHIVE_SUFFIX,
  ARCHIVE_SUFFIXES,
  archiveSuffix,
  archiveSuffixOf,
  RECORD_SUFFIX,
  assertSnapshotName,
  badConfiguration,
  badCredentials,
  digesting,
  errorMessage,
  locationNotFound,
  mayReplaceRecord,
  nameTaken,
  objectNotFound,
  ownerFields,
  ownerOf,
  parseRecord,
  recordOwner,
  serializeRecord,
} from './common';
import { mapLimit } from '../concurrency';
import { currentRequestSignal, currentTransfer } from '../transfer-meter';
import type { ArchiveListing, ObjectLockSupport, PutArchiveOptions, PutRecordOptions, S3Credentials, SnapshotStore, StoredObject } from './types';

export interface S3StoreOptions {
  /** Multipart part size; memory used by an upload is about partSize * queueSize. */
  partSize?: number;
  queueSize?: number;
  /** A request whose socket is idle this long fails (retried by the SDK, then by the activity); default 2 minutes. */
  idleTimeoutMs?: number;
}

// 5 MiB parts (S3's smallest), 2 in flight: with the part being filled and lib-storage's copy of it, about 20 MiB per
// upload, where 8 MiB x 4 held about 50. A dump makes 15-40 MB/s of archive, which two parts in flight carry; a worker
// running four dumps peaked 100-120 MiB lower (300k keys each, bench dump child). 10,000 parts of 5 MiB hold 48 GiB, far
// beyond etcd's 8 GiB quota.
const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 2;
/**
 * Uploads this process is running (a worker runs several dumps at once). One started while another runs sends one
 * part at a time: the dumps share the cores that make their archives, so a second part in flight only held 5 MiB more
 * per dump.
 */
let uploadsRunning = 0;
const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const;
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const CONNECTION_TIMEOUT_MS = 10_000;
/** Request bodies are written to the socket in slices this big, each counted as moved once the socket takes it. */
const BODY_SLICE = 64 * 1024;
const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken']);

/**
 * `skipClientCredentials` and the inline-credential flag are about where credentials come from; the caller has
 * already resolved them, so this factory only sees the result (undefined = the AWS default chain).
 */
export function createS3Store(location: S3Location, credentials?: S3Credentials, options: S3StoreOptions = {}): SnapshotStore {
  const checksumAlgorithm = parseChecksumAlgorithm(location.checksumAlgorithm);
  const client = new S3Client({
    region: location.region ?? (location.endpoint ? 'us-east-1' : undefined),
    endpoint: location.endpoint,
    forcePathStyle: location.forcePathStyle,
    credentials: credentials && {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken || undefined,
    },
    // S3-compatible servers often reject the SDK's default CRC32 trailers; ask for checksums only when configured.
    ...(location.endpoint && !checksumAlgorithm
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
    // An unreachable endpoint fails within seconds and a request whose socket stays idle (a stalled link) within the
    // idle limit, instead of waiting on the operating system's TCP timeouts.
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      socketTimeout: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      ...(location.insecureSkipTlsVerify ? { httpsAgent: { rejectUnauthorized: false } } : {}),
    },
  });
  meterRequests(client);
  const bucket = location.bucket;
  const keyPrefix = location.prefix ? `${location.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
  const keyOf = (snapshotName: string, suffix: string): string => {
    assertSnapshotName(snapshotName);
    return `${keyPrefix}${snapshotName}${suffix}`;
  };
  const urlOf = (key: string): string => `s3://${bucket}/${key}`;
  const writeParams: Partial<PutObjectCommandInput> = {
    ServerSideEncryption: location.serverSideEncryption as ServerSideEncryption | undefined,
    SSEKMSKeyId: location.kmsKeyId,
    Tagging: location.tagging,
    ChecksumAlgorithm: checksumAlgorithm,
  };

  /**
   * A locked write: S3 takes Object Lock headers only with an integrity checksum of the body (Content-MD5 or an
   * x-amz-checksum), so one is asked for (SHA256 unless the URL chose another); lib-storage sends it per part.
   */
  const lockParams = (lock: ObjectLock | undefined): Partial<PutObjectCommandInput> =>
    lock
      ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: new Date(lock.retainUntil), ChecksumAlgorithm: checksumAlgorithm ?? 'SHA256' }
      : {};

  const call = async <T>(operation: string, key: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw mapS3Error(err, operation, bucket, key, location.endpoint);
    }
  };

  /** Keys directly under the prefix (not in sub-"directories") ending in `suffix`. */
  const listKeys = async (suffix: string): Promise<_Object[]> => {
    const objects: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await call('list', keyPrefix, () =>
        client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, Delimiter: '/', ContinuationToken: token })),
      );
      objects.push(...(page.Contents ?? []).filter((o) => o.Key?.endsWith(suffix)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  };
  const nameOf = (key: string, suffix: string): string => key.slice(keyPrefix.length, -suffix.length);

  /** The key and head of the stored archive of `snapshotName`, plain or encrypted. */
  const findArchive = async (snapshotName: string) => {
    for (const suffix of ARCHIVE_SUFFIXES) {
      const key = keyOf(snapshotName, suffix);
      try {
        const head = await call('head', key, () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
        return { key, head, encrypted: suffix !== ARCHIVE_SUFFIX };
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return undefined;
  };

  /**
   * Aborts the pending multipart uploads of `key`: what an attempt killed mid-upload (or one whose abort could not
   * reach the server) left behind. Best effort: without s3:ListBucketMultipartUploads a lifecycle rule has to do it.
   */
  const abortPendingUploads = async (key: string): Promise<void> => {
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key })).catch(() => undefined);
    const pending = (listed?.Uploads ?? []).filter((upload) => upload.Key === key);
    await Promise.all(
      pending.map((upload) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId })).catch(() => undefined)),
    );
  };

  /** Aborts the multipart uploads a killed earlier attempt reported; ones already gone are fine. */
  const abortUploads = async (key: string, uploadIds: string[]): Promise<void> => {
    await Promise.all(uploadIds.map((id) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })).catch(() => undefined)));
  };

  let lockSupport: Promise<ObjectLockSupport> | undefined;
  /** GetObjectLockConfiguration, once per store: a bucket without it has no lock to write or honour. */
  const objectLockSupport = (): Promise<ObjectLockSupport> =>
    (lockSupport ??= (async (): Promise<ObjectLockSupport> => {
      try {
        const answer = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
        if (answer.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled') return { enabled: true };
        return { enabled: false, reason: `bucket ${bucket} has Object Lock disabled` };
      } catch (err) {
        if (err instanceof S3ServiceException && (err.name === 'ObjectLockConfigurationNotFoundError' || /object ?lock configuration/i.test(err.message))) {
          return { enabled: false, reason: `bucket ${bucket} has no Object Lock configuration (enable it when creating the bucket, or on a versioned AWS bucket with PutObjectLockConfiguration)` };
        }
        throw mapS3Error(err, 'get-object-lock-configuration of', bucket, '', location.endpoint);
      }
    })());

  /** Every version and delete marker of exactly `key` (a locked bucket is versioned). */
  const versionsOf = async (key: string): Promise<Array<{ VersionId?: string }>> => {
    const versions: Array<{ VersionId?: string }> = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await call('list-versions', key, () =>
        client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker })),
      );
      versions.push(...[...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter((v) => v.Key === key));
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return versions;
  };

  /**
   * On a bucket with Object Lock, a plain DELETE only hides the object behind a delete marker and keeps every byte:
   * pruning removes each version (a still-locked one is refused by the server, and the error says so). Elsewhere a
   * plain DELETE, as before.
   */
  const deleteKey = async (key: string): Promise<void> => {
    if (!(await objectLockSupport().catch(() => ({ enabled: false }))).enabled) {
      await call('delete', key, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
      return;
    }
    for (const version of await versionsOf(key)) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: version.VersionId }));
      } catch (err) {
        if (err instanceof S3ServiceException && (err.name === 'AccessDenied' || /WORM|retention|object lock/i.test(err.message))) {
          throw new Error(`S3 delete of ${urlOf(key)} (version ${version.VersionId}) was refused: it is under Object Lock, or the credentials may not delete object versions (${err.message})`, { cause: err });
        }
        throw mapS3Error(err, 'delete', bucket, key, location.endpoint);
      }
    }
  };

  /** The latest retain-until of any version of `key` that is still in the future, as the server reports it. */
  const lockOf = async (key: string, now: Date): Promise<ObjectLock | undefined> => {
    let latest: ObjectLock | undefined;
    for (const version of await versionsOf(key)) {
      const head = await client
        .send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: version.VersionId }))
        .catch(() => undefined); // a delete marker has no head
      const until = head?.ObjectLockRetainUntilDate;
      if (!until || until.getTime() <= now.getTime() || !head?.ObjectLockMode) continue;
      if (!latest || until.getTime() > Date.parse(latest.retainUntil)) latest = { mode: head.ObjectLockMode as ObjectLockMode, retainUntil: until.toISOString() };
    }
    return latest;
  };

  const store: SnapshotStore = {
    urlFor: (snapshotName, encrypted) => urlOf(keyOf(snapshotName, archiveSuffix(encrypted))),

    objectLockSupport,

    async lockedUntil(snapshotName, now) {
      if (!(await objectLockSupport()).enabled) return undefined;
      const locks = [await lockOf(keyOf(snapshotName, ARCHIVE_SUFFIX), now), await lockOf(keyOf(snapshotName, RECORD_SUFFIX), now)];
      return locks.reduce<ObjectLock | undefined>((a, b) => (!b || (a && Date.parse(a.retainUntil) >= Date.parse(b.retainUntil)) ? a : b), undefined);
    },

    async putArchive(snapshotName, archive, signal, hooks: PutArchiveOptions = {}): Promise<StoredObject> {
      const key = keyOf(snapshotName, archiveSuffix(hooks.encrypted));
      // The name's other form (plain or encrypted) holds an archive: the name is taken all the same.
      const other = await findArchive(snapshotName);
      if (other && other.key !== key) {
        archive.destroy();
        throw nameTaken('archive', urlOf(other.key), ownerOf(other.head.Metadata));
      }
      await abortUploads(key, hooks.abandonedSessions ?? []);
      if (hooks.retry) await abortPendingUploads(key);
      const body = digesting(archive, signal);
      const upload = new Upload({
        client,
        // If-None-Match on PutObject and CompleteMultipartUpload (lib-storage passes the params to both): the object
        // is created only if no other writer (a stale attempt, a cluster sharing the location) got there first.
        params: {
          ...writeParams,
          ...lockParams(hooks.lock),
          Bucket: bucket,
          Key: key,
          Body: body.stream,
          ContentType: hooks.encrypted ? 'application/octet-stream' : 'application/gzip',
          IfNoneMatch: '*',
          Metadata: hooks.owner && ownerFields(hooks.owner),
        },
        partSize: options.partSize ?? DEFAULT_PART_SIZE,
        queueSize: options.queueSize ?? (uploadsRunning > 0 ? 1 : DEFAULT_QUEUE_SIZE),
        // Parts of a failed upload are aborted (AbortMultipartUpload) before done() rejects.
        leavePartsOnError: false,
      });
      let reportedUpload = false;
      upload.on('httpUploadProgress', (progress) => {
        // The multipart upload's id, for a successor to abort if this process dies (lib-storage keeps it in a field
        // its typings call private; it exists once the first part is sent).
        const uploadId = (upload as unknown as { uploadId?: unknown }).uploadId;
        if (!reportedUpload && typeof uploadId === 'string') {
          reportedUpload = true;
          hooks.onSession?.(uploadId);
        }
        hooks.onStored?.(progress.loaded ?? 0);
      });
      // Aborting destroys the body rather than calling upload.abort(): abort() rejects done() at once while the
      // multipart upload is still open, whereas a failing body makes done() abort the upload first, then reject.
      uploadsRunning++;
      await call('upload', key, () => upload.done())
        .catch(async (err: unknown) => {
          body.stream.destroy();
          if (signal?.aborted) throw signal.reason;
          if (isPreconditionFailed(err)) throw nameTaken('archive', urlOf(key), (await store.archiveOwner?.(snapshotName))?.owner, err);
          throw err;
        })
        .finally(() => uploadsRunning--);
      return { snapshotName, url: urlOf(key), ...body.result() };
    },

    async lockArchive(snapshotName, lock) {
      const key = keyOf(snapshotName, ARCHIVE_SUFFIX);
      await call('put-object-retention', key, () =>
        client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: key, Retention: { Mode: lock.mode, RetainUntilDate: new Date(lock.retainUntil) }, ChecksumAlgorithm: checksumAlgorithm ?? 'SHA256' })),
      );
    },

    async archiveOwner(snapshotName) {
      const found = await findArchive(snapshotName);
      return found && { owner: ownerOf(found.head.Metadata) };
    },

    async headArchive(snapshotName) {
      const found = await findArchive(snapshotName);
      return found && { bytes: found.head.ContentLength ?? 0, ...(found.encrypted ? { encrypted: true } : {}) };
    },

    async getArchive(snapshotName) {
      // Plain first, then encrypted: a plain archive costs no extra request.
      for (const suffix of ARCHIVE_SUFFIXES) {
        const key = keyOf(snapshotName, suffix);
        try {
          const object = await call('get', key, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
          if (!(object.Body instanceof Readable)) throw new Error(`S3 get ${urlOf(key)} returned no stream`);
          return object.Body;
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
      throw objectNotFound(`snapshot archive ${urlOf(keyOf(snapshotName, ARCHIVE_SUFFIX))} does not exist`);
    },

    async listArchives(): Promise<ArchiveListing[]> {
      const objects = (await Promise.all(ARCHIVE_SUFFIXES.map((suffix) => listKeys(suffix)))).flat();
      return objects.map((o) => {
        const suffix = archiveSuffixOf(o.Key!)!;
        return { snapshotName: nameOf(o.Key!, suffix), url: urlOf(o.Key!), bytes: o.Size, lastModified: o.LastModified?.toISOString(), ...(suffix !== ARCHIVE_SUFFIX ? { encrypted: true } : {}) };
      });
    },

    async deleteArchive(snapshotName) {
      // Either form (plain or encrypted); every version of each where the bucket keeps versions.
      for (const suffix of ARCHIVE_SUFFIXES) await deleteKey(keyOf(snapshotName, suffix));
    },

    async putRecord(record: SnapshotRecord, options?: PutRecordOptions) {
      // A Failed snapshot never completes its archive: parts an unreachable server kept are garbage now.
      if (record.status === 'Failed') for (const suffix of ARCHIVE_SUFFIXES) await abortPendingUploads(keyOf(record.snapshotName, suffix));
      const key = keyOf(record.snapshotName, RECORD_SUFFIX);
      const params = { ...writeParams, ...lockParams(options?.lock), Bucket: bucket, Key: key, Body: serializeRecord(record), ContentType: 'application/json' };
      try {
        await call('put', key, () => client.send(new PutObjectCommand({ ...params, IfNoneMatch: '*' })));
        return;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err;
      }
      // A record is there: replace it only when it is this run's (a retried writeRecord) or the caller allows it,
      // and only if it is still the one just read (If-Match on its ETag).
      const existing = await call('get', key, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      const stored = parseRecord(await existing.Body!.transformToString('utf8'), urlOf(key));
      if (!mayReplaceRecord(stored, record, options)) throw nameTaken('metadata record', urlOf(key), recordOwner(stored));
      await call('put', key, () => client.send(new PutObjectCommand({ ...params, IfMatch: existing.ETag }))).catch((err: unknown) => {
        throw isPreconditionFailed(err) ? nameTaken('metadata record', urlOf(key), undefined, err) : err;
      });
    },

    async getRecord(snapshotName) {
      const key = keyOf(snapshotName, RECORD_SUFFIX);
      try {
        const object = await call('get', key, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
        return parseRecord(await object.Body!.transformToString('utf8'), urlOf(key));
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },

    async listRecords() {
      const objects = await listKeys(RECORD_SUFFIX);
      const records = await mapLimit(objects, 8, (o) => store.getRecord(nameOf(o.Key!, RECORD_SUFFIX)));
      return records.filter((r): r is SnapshotRecord => r !== undefined);
    },

    async deleteRecord(snapshotName) {
      await deleteKey(keyOf(snapshotName, RECORD_SUFFIX));
    },

    close: () => client.destroy(),
  };
  return store;
}

/**
 * Ties every request to the transfer meter of the activity sending it (lib/transfer-meter): request bodies (archive
 * parts, records) are counted as the socket takes them, as lib-storage reports a part only once it is complete, which
 * on a slow link is minutes apart; and once the transfer is stalled or cancelled, a request still waiting is given up
 * at once (its socket closes at the idle limit) and none is sent any more, so the attempt fails without waiting out
 * the SDK's retries of parts on a dead link. Outside a transfer, the activity's cancellation gives requests up the
 * same way (`abortableBy`). Runs after signing: the signed request is unchanged but for its body
 * being written in slices.
 */
function meterRequests(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const meter = currentTransfer();
      const signal = currentRequestSignal();
      if (!signal) return next(args);
      signal.throwIfAborted();
      const request = args.request as { body?: unknown } | undefined;
      const body = request?.body;
      let sent = args;
      if (meter && body instanceof Uint8Array && body.byteLength > BODY_SLICE) {
        const slices = function* () {
          for (let offset = 0; offset < body.byteLength; offset += BODY_SLICE) {
            const slice = body.subarray(offset, offset + BODY_SLICE);
            yield slice;
            meter.moved(slice.byteLength);
          }
        };
        // A copy of the request: the SDK's retry reuses the original, with its body whole.
        const counted = Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, { body: Readable.from(slices(), { objectMode: false }) });
        sent = { ...args, request: counted };
      }
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_resolve, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([next(sent), aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort!);
      }
    },
    { step: 'deserialize', name: 'vcsnapMeterRequests', priority: 'low' },
  );
}

function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (!value) return undefined;
  const algorithm = CHECKSUM_ALGORITHMS.find((a) => a === value.toUpperCase());
  if (!algorithm) throw badConfiguration(`unsupported S3 checksum-algorithm ${JSON.stringify(value)}: use one of ${CHECKSUM_ALGORITHMS.join(', ')}`);
  return algorithm;
}

/** A conditional write found the object (If-None-Match) or found it changed (If-Match). */
function isPreconditionFailed(err: unknown): boolean {
  const cause = err instanceof Error && !(err instanceof S3ServiceException) ? err.cause : err;
  return cause instanceof S3ServiceException && (cause.name === 'PreconditionFailed' || cause.$metadata?.httpStatusCode === 412);
}

/** A missing key (not a missing bucket: that is a configuration problem the caller must see). */
function isMissing(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound');
}

const NETWORK_ERROR_CODES = new Set(['ECONNABORTED', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** The server could not be reached or dropped the connection: retryable, but the reason must say where. */
function isNetworkError(err: unknown): boolean {
  const { code, name } = err as { code?: unknown; name?: unknown };
  return (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) || name === 'TimeoutError';
}

function mapS3Error(err: unknown, operation: string, bucket: string, key: string, endpoint?: string): unknown {
  if (!(err instanceof S3ServiceException)) {
    if (!isNetworkError(err)) return err;
    const server = endpoint ? `endpoint ${new URL(endpoint).origin}` : 'the S3 endpoint';
    return new Error(`S3 ${operation} of s3://${bucket}/${key} failed: ${server} unreachable (${errorMessage(err)})`, { cause: err });
  }
  const status = err.$metadata?.httpStatusCode;
  if (CREDENTIAL_ERRORS.has(err.name) || status === 403) {
    return badCredentials(`S3 ${operation} of s3://${bucket}/${key} was refused (${err.name}): check the access key, secret and the bucket policy`, err);
  }
  if (err.name === 'NoSuchBucket') {
    return locationNotFound(`S3 bucket ${JSON.stringify(bucket)} does not exist (${operation} of ${key})`, err);
  }
  if (err.name === 'NoSuchKey' || err.name === 'NotFound') return err;
  return new Error(`S3 ${operation} of s3://${bucket}/${key} failed: ${err.name}: ${errorMessage(err)}`, { cause: err });
}
