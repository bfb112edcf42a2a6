// Azure Blob backend: block blob `<prefix>/<name>.tar.gz` streamed in staged blocks and committed at the end, block
// blob `<prefix>/<name>.json` beside it. URLs are vCluster's Azure form, the blob's own https URL without a SAS:
// `https://<account>.blob.core.windows.net/<container>/<prefix>/<name>.tar.gz`.
//
// Atomicity: the SDK's uploadStream stages blocks and commits the block list last, so an archive is visible only once
// complete. A failed or aborted upload leaves only uncommitted blocks: Azure lists none of them, discards them with the
// next commit of the same name, and garbage-collects the rest after a week; the service has no call to drop them
// sooner (deleting a blob that has only uncommitted blocks is a 404).
//
// Never overwritten: the archive's block list is committed with If-None-Match: *, so a stale attempt or another
// cluster sharing the location cannot replace a stored archive; the archive carries its owner (cluster and workflow)
// in blob metadata, which lets a retried attempt of the same run recognise its own. Records are created the same way
// and replaced only with If-Match on the ETag just read, when the stored one is the same run's.
import { Readable } from 'node:stream';
import {
  BlobServiceClient,
  RestError,
  StorageSharedKeyCredential,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { AzureLocation, SnapshotRecord } from '../../contracts/definitions';
import { mapLimit } from '../concurrency';
import {
  ARCHIVE_SUFFIX,
  ARCHIVE_SUFFIXES,
  archiveSuffix,
  archiveSuffixOf,
  RECORD_SUFFIX,
  assertSnapshotName,
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
import type { ArchiveListing, ArchiveOwner, AzureCredentials, PutArchiveOptions, PutRecordOptions, SnapshotStore, StoredObject } from './types';

export interface AzureStoreOptions {
  /** Block size of the archive upload; memory used by an upload is about blockSize * (concurrency + 1). */
  blockSize?: number;
  concurrency?: number;
  /** Limit of one try of one request, including its body (a block); default 10 minutes (a block at 14 KB/s). */
  tryTimeoutMs?: number;
}

// 8 MiB blocks, 4 in flight, as the S3 backend's parts: 50,000 blocks of 8 MiB hold 390 GiB, far beyond etcd's quota.
const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;
const DEFAULT_CONCURRENCY = 4;
// The SDK retries inside each call; fewer, shorter waits than its defaults (4 tries from 4 s) so an unreachable
// account fails the activity attempt within seconds and Temporal's retry policy takes over.
// Each try has a limit, so a request that never answers fails (and is retried) instead of hanging the activity.
const pipelineOptions = (tryTimeoutInMs: number): StoragePipelineOptions => ({ retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000, tryTimeoutInMs } });
const DEFAULT_TRY_TIMEOUT_MS = 10 * 60_000;
const CREDENTIAL_ERRORS = new Set(['AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch', 'InvalidAuthenticationInfo', 'NoAuthenticationInformation']);

export function createAzureStore(location: AzureLocation, credentials: AzureCredentials, options: AzureStoreOptions = {}): SnapshotStore {
  const pipeline = pipelineOptions(options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS);
  const service =
    'accountKey' in credentials
      ? new BlobServiceClient(location.serviceUrl, new StorageSharedKeyCredential(location.accountName, credentials.accountKey), pipeline)
      : new BlobServiceClient(`${location.serviceUrl}?${credentials.sasToken.replace(/^\?/, '')}`, undefined, pipeline);
  const container: ContainerClient = service.getContainerClient(location.container);
  const keyPrefix = location.prefix ? `${location.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
  const containerUrl = `${location.serviceUrl}/${location.container}`;
  const keyOf = (snapshotName: string, suffix: string): string => {
    assertSnapshotName(snapshotName);
    return `${keyPrefix}${snapshotName}${suffix}`;
  };
  const urlOf = (key: string): string => `${containerUrl}/${key}`;

  const call = async <T>(operation: string, key: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw mapAzureError(err, operation, urlOf(key), location);
    }
  };
  /** Like call, but a failed condition (the name exists, or changed since read) is `taken()`'s error. */
  const conditional = async <T>(operation: string, key: string, run: () => Promise<T>, taken: () => Promise<unknown>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (isConditionFailed(err)) throw await taken();
      throw mapAzureError(err, operation, urlOf(key), location);
    }
  };

  /** Blobs directly under the prefix (not in sub-"directories") ending in `suffix`. */
  const listBlobs = async (suffix: string): Promise<Array<{ name: string; bytes?: number; lastModified?: Date }>> => {
    const blobs: Array<{ name: string; bytes?: number; lastModified?: Date }> = [];
    await call('list', keyPrefix, async () => {
      for await (const item of container.listBlobsByHierarchy('/', { prefix: keyPrefix })) {
        if (item.kind !== 'blob' || !item.name.endsWith(suffix)) continue;
        blobs.push({ name: item.name, bytes: item.properties.contentLength, lastModified: item.properties.lastModified });
      }
    });
    return blobs;
  };
  const nameOf = (key: string, suffix: string): string => key.slice(keyPrefix.length, -suffix.length);

  /** The key and properties of the stored archive of `snapshotName`, plain or encrypted. */
  const findArchive = async (snapshotName: string) => {
    for (const suffix of ARCHIVE_SUFFIXES) {
      const key = keyOf(snapshotName, suffix);
      try {
        const properties = await call('head', key, () => container.getBlobClient(key).getProperties());
        return { key, properties, encrypted: suffix !== ARCHIVE_SUFFIX };
      } catch (err) {
        if (!isMissingBlob(err)) throw err;
      }
    }
    return undefined;
  };

  const store: SnapshotStore = {
    urlFor: (snapshotName, encrypted) => urlOf(keyOf(snapshotName, archiveSuffix(encrypted))),

    async putArchive(snapshotName, archive, signal, hooks: PutArchiveOptions = {}): Promise<StoredObject> {
      const key = keyOf(snapshotName, archiveSuffix(hooks.encrypted));
      // The name's other form (plain or encrypted) holds an archive: the name is taken all the same.
      const other = await findArchive(snapshotName);
      if (other && other.key !== key) {
        archive.destroy();
        throw nameTaken('archive', urlOf(other.key), ownerOfMetadata(other.properties.metadata));
      }
      const body = digesting(archive, signal);
      const blob = container.getBlockBlobClient(key);
      try {
        await conditional(
          'upload',
          key,
          () =>
            blob.uploadStream(body.stream, options.blockSize ?? DEFAULT_BLOCK_SIZE, options.concurrency ?? DEFAULT_CONCURRENCY, {
              abortSignal: signal,
              blobHTTPHeaders: { blobContentType: hooks.encrypted ? 'application/octet-stream' : 'application/gzip' },
              metadata: hooks.owner && metadataOf(hooks.owner),
              conditions: { ifNoneMatch: '*' },
              onProgress: (progress) => hooks.onStored?.(progress.loadedBytes),
            }),
          async () => nameTaken('archive', urlOf(key), (await store.archiveOwner?.(snapshotName))?.owner),
        );
      } catch (err) {
        body.stream.destroy();
        throw signal?.aborted ? signal.reason : err;
      }
      return { snapshotName, url: urlOf(key), ...body.result() };
    },

    async archiveOwner(snapshotName) {
      const found = await findArchive(snapshotName);
      return found && { owner: ownerOfMetadata(found.properties.metadata) };
    },

    async headArchive(snapshotName) {
      const found = await findArchive(snapshotName);
      return found && { bytes: found.properties.contentLength ?? 0, ...(found.encrypted ? { encrypted: true } : {}) };
    },

    async getArchive(snapshotName) {
      // Plain first, then encrypted: a plain archive costs no extra request.
      for (const suffix of ARCHIVE_SUFFIXES) {
        const key = keyOf(snapshotName, suffix);
        try {
          const download = await call('get', key, () => container.getBlobClient(key).download());
          const stream = download.readableStreamBody;
          if (!stream) throw new Error(`Azure get ${urlOf(key)} returned no stream`);
          return stream instanceof Readable ? stream : Readable.from(stream);
        } catch (err) {
          if (!isMissingBlob(err)) throw err;
        }
      }
      throw objectNotFound(`snapshot archive ${urlOf(keyOf(snapshotName, ARCHIVE_SUFFIX))} does not exist`);
    },

    async listArchives(): Promise<ArchiveListing[]> {
      const blobs = (await Promise.all(ARCHIVE_SUFFIXES.map((suffix) => listBlobs(suffix)))).flat();
      return blobs.map((b) => {
        const suffix = archiveSuffixOf(b.name)!;
        return { snapshotName: nameOf(b.name, suffix), url: urlOf(b.name), bytes: b.bytes, lastModified: b.lastModified?.toISOString(), ...(suffix !== ARCHIVE_SUFFIX ? { encrypted: true } : {}) };
      });
    },

    async deleteArchive(snapshotName) {
      for (const suffix of ARCHIVE_SUFFIXES) {
        const key = keyOf(snapshotName, suffix);
        await call('delete', key, () => container.getBlobClient(key).deleteIfExists());
      }
    },

    async putRecord(record: SnapshotRecord, options?: PutRecordOptions) {
      const key = keyOf(record.snapshotName, RECORD_SUFFIX);
      const data = serializeRecord(record);
      const blob = container.getBlockBlobClient(key);
      const headers = { blobContentType: 'application/json' };
      try {
        await blob.upload(data, data.length, { blobHTTPHeaders: headers, conditions: { ifNoneMatch: '*' } });
        return;
      } catch (err) {
        if (!isConditionFailed(err)) throw mapAzureError(err, 'put', urlOf(key), location);
      }
      // A record is there: replace it only when it is this run's (a retried writeRecord) or the caller allows it,
      // and only if it is still the one just read (If-Match on its ETag).
      const stored = await call('get', key, () => blob.download());
      const existing = parseRecord((await streamToBuffer(stored.readableStreamBody)).toString('utf8'), urlOf(key));
      if (!mayReplaceRecord(existing, record, options)) throw nameTaken('metadata record', urlOf(key), recordOwner(existing));
      await conditional('put', key, () => blob.upload(data, data.length, { blobHTTPHeaders: headers, conditions: { ifMatch: stored.etag } }), async () =>
        nameTaken('metadata record', urlOf(key), undefined),
      );
    },

    async getRecord(snapshotName) {
      const key = keyOf(snapshotName, RECORD_SUFFIX);
      try {
        const data = await call('get', key, () => container.getBlobClient(key).downloadToBuffer());
        return parseRecord(data.toString('utf8'), urlOf(key));
      } catch (err) {
        if (isMissingBlob(err)) return undefined;
        throw err;
      }
    },

    async listRecords() {
      const blobs = await listBlobs(RECORD_SUFFIX);
      const records = await mapLimit(blobs, 8, (b) => store.getRecord(nameOf(b.name, RECORD_SUFFIX)));
      return records.filter((r): r is SnapshotRecord => r !== undefined);
    },

    async deleteRecord(snapshotName) {
      const key = keyOf(snapshotName, RECORD_SUFFIX);
      await call('delete', key, () => container.getBlobClient(key).deleteIfExists());
    },
  };
  return store;
}

/** Azure metadata names are C# identifiers: the owner's fields with `_` for `-`. */
function metadataOf(owner: ArchiveOwner): Record<string, string> {
  return Object.fromEntries(Object.entries(ownerFields(owner)).map(([key, value]) => [key.replace(/-/g, '_'), value]));
}

function ownerOfMetadata(metadata: Record<string, string> | undefined): ArchiveOwner | undefined {
  return ownerOf(metadata && Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key.replace(/_/g, '-'), value])));
}

async function streamToBuffer(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** The write's condition failed: the blob exists (If-None-Match: *) or changed since it was read (If-Match). */
function isConditionFailed(err: unknown): boolean {
  if (!(err instanceof RestError)) return false;
  const code = errorCodeOf(err);
  return err.statusCode === 412 || code === 'BlobAlreadyExists' || code === 'ConditionNotMet' || (err.statusCode === 409 && code === undefined);
}

/** A missing blob (not a missing container: that is a configuration problem the caller must see). */
function isMissingBlob(err: unknown): boolean {
  return err instanceof RestError && err.statusCode === 404 && errorCodeOf(err) !== 'ContainerNotFound';
}

function errorCodeOf(err: RestError): string | undefined {
  // HEAD answers carry no body: the error code comes from the x-ms-error-code header.
  return err.code ?? err.response?.headers.get('x-ms-error-code') ?? undefined;
}

const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'REQUEST_SEND_ERROR']);

/**
 * The SDK's errors carry the request, whose URL holds a SAS token when one is used: they are never passed on as a
 * cause. Messages are built from the status, the service's error code and the blob URL (which has no SAS).
 */
function mapAzureError(err: unknown, operation: string, url: string, location: AzureLocation): unknown {
  if (!(err instanceof RestError)) return err;
  if (err.name === 'AbortError') return err;
  const code = errorCodeOf(err);
  const status = err.statusCode;
  if (status === undefined) {
    if (code !== undefined && !NETWORK_ERROR_CODES.has(code)) return new Error(`Azure ${operation} of ${url} failed (${code})`);
    return new Error(`Azure ${operation} of ${url} failed: ${location.serviceUrl} unreachable (${code ?? 'no answer'})`);
  }
  if (status === 403 || (code !== undefined && CREDENTIAL_ERRORS.has(code))) {
    return badCredentials(`Azure ${operation} of ${url} was refused (${code ?? status}): check the account key or SAS token in the credential Secret and its permissions`);
  }
  if (code === 'ContainerNotFound') {
    return locationNotFound(`Azure container ${JSON.stringify(location.container)} does not exist in storage account ${JSON.stringify(location.accountName)} (${operation} of ${url})`);
  }
  if (status === 404) return err;
  return new Error(`Azure ${operation} of ${url} failed: ${status} ${code ?? ''}: ${firstLine(errorMessage(err))}`.replace(/ +:/, ':'));
}

/** The service's message without its RequestId/Time lines. */
function firstLine(message: string): string {
  return message.split('\n')[0];
}
