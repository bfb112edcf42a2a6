// The storage contract, run against every backend on real servers: MinIO (S3), Azurite (Azure Blob), distribution
// registries (open, htpasswd basic auth, and a Bearer-token front), and a local directory.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AzureLocation, S3Location, SnapshotRecord } from '../../contracts/definitions';
import { createStore, type SnapshotStore } from '../../lib/storage';
import { createAzureStore } from '../../lib/storage/azure';
import { createFileStore } from '../../lib/storage/file';
import { createOciStore, VCLUSTER_ETCD_LAYER_MEDIA_TYPE } from '../../lib/storage/oci';
import { nextLink, parseChallenge, RegistryClient } from '../../lib/storage/oci-registry';
import { createS3Store } from '../../lib/storage/s3';
import { azuriteService, createAzureContainer } from '../harness/azure';
import { testEnv } from '../harness/env';
import { startTokenRegistryProxy, type TokenRegistryProxy } from './token-registry-proxy';

const MiB = 1024 * 1024;
const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const FAST_RETRY = { attempts: 4, initialDelayMs: 20 };

/** Streams `data` in 64 KiB chunks, as the dump does. */
function archiveOf(data: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += 64 * 1024) chunks.push(data.subarray(offset, offset + 64 * 1024));
  return Readable.from(chunks);
}

/** Emits `bytes` of random data, then fails like a dump whose etcd went away. */
function failingArchive(bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return this.destroy(new Error('etcd went away midway'));
      sent += 64 * 1024;
      this.push(randomBytes(64 * 1024));
    },
  });
}

/** Never ends; aborts `controller` once `bytes` have been read. */
function endlessArchive(controller: AbortController, bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) controller.abort();
      sent += 64 * 1024;
      setTimeout(() => this.push(randomBytes(64 * 1024)), 1);
    },
  });
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function record(snapshotName: string, url: string, overrides: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    formatVersion: 1,
    cluster: { name: 'demo', namespace: 'team-a' },
    workflowId: 'vcsnap.team-a.demo-1',
    snapshotName,
    archiveUrl: url,
    status: 'Completed',
    startedAt: '2026-11-23T12:00:01.000Z',
    finishedAt: '2026-11-23T12:00:09.000Z',
    nominalTime: '2026-11-23T12:00:00.000Z',
    bytes: 123,
    keys: 42,
    sha256: 'ab'.repeat(32),
    volumes: [{ pvc: 'data-demo-0', phase: 'Completed', snapshotHandle: 'snap-123', driver: 'hostpath.csi.k8s.io' }],
    ...overrides,
  };
}

function isStorageFailure(type: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    if (type !== 'StorageObjectNotFound') assert.equal(err.nonRetryable, true);
    return true;
  };
}

interface Backend {
  name: string;
  /** A fresh, empty location. */
  create(): Promise<SnapshotStore>;
  /** Asserts no trace of an unfinished upload of `snapshotName` is left in the location `store` was created for. */
  assertNoUploadLeftovers(snapshotName: string): Promise<void>;
}

function contractSuite(backend: Backend): void {
  describe(`${backend.name}: storage contract`, () => {
    let store: SnapshotStore;
    beforeEach(async () => {
      store = await backend.create();
    });

    it('round-trips an archive: put, head, get, list, delete', async () => {
      const data = randomBytes(11 * MiB + 12345);
      const name = unique('demo-2026-11-23T12-00-00Z');
      const stored = await store.putArchive(name, archiveOf(data));
      assert.deepEqual(stored, { snapshotName: name, url: store.urlFor(name), bytes: data.length, sha256: sha256(data) });
      assert.deepEqual(await store.headArchive(name), { bytes: data.length });
      assert.equal(sha256(await readAll(await store.getArchive(name))), sha256(data));
      const listing = (await store.listArchives()).find((l) => l.snapshotName === name);
      assert.equal(listing?.url, store.urlFor(name));
      assert.equal(listing?.bytes, data.length);
      assert.ok(listing?.lastModified && !Number.isNaN(Date.parse(listing.lastModified)));

      await store.deleteArchive(name);
      assert.equal(await store.headArchive(name), undefined);
      assert.ok(!(await store.listArchives()).some((l) => l.snapshotName === name));
      await assert.rejects(store.getArchive(name), isStorageFailure('StorageObjectNotFound'));
      await store.deleteArchive(name); // deleting twice is fine
    });

    it('stores an encrypted archive under its own name (`.tar.gz.age`, OCI: its own layer), and a name holds one form only', async () => {
      const data = randomBytes(3 * MiB);
      const name = unique('enc-2026-11-23T12-00-00Z');
      const stored = await store.putArchive(name, archiveOf(data), undefined, { encrypted: true });
      assert.equal(stored.url, store.urlFor(name, true));
      if (!backend.name.startsWith('oci')) assert.ok(stored.url.endsWith(`${name}.tar.gz.age`), stored.url);
      assert.deepEqual(await store.headArchive(name), { bytes: data.length, encrypted: true });
      assert.equal(sha256(await readAll(await store.getArchive(name))), sha256(data));
      const listing = (await store.listArchives()).find((l) => l.snapshotName === name);
      assert.deepEqual([listing?.url, listing?.bytes, listing?.encrypted], [store.urlFor(name, true), data.length, true]);
      // The plain form of a name that holds an encrypted archive is taken, and the other way round.
      await assert.rejects(store.putArchive(name, archiveOf(randomBytes(100))), isStorageFailure('SnapshotNameTaken'));
      const plain = unique('plain-2026-11-23T12-00-00Z');
      await store.putArchive(plain, archiveOf(randomBytes(100)));
      await assert.rejects(store.putArchive(plain, archiveOf(randomBytes(100)), undefined, { encrypted: true }), isStorageFailure('SnapshotNameTaken'));
      assert.deepEqual(await store.headArchive(plain), { bytes: 100 });
      await store.deleteArchive(name);
      assert.equal(await store.headArchive(name), undefined);
      await assert.rejects(store.getArchive(name), isStorageFailure('StorageObjectNotFound'));
    });

    it('stores small and empty archives', async () => {
      for (const data of [randomBytes(1000), Buffer.alloc(0)]) {
        const name = unique('small');
        const stored = await store.putArchive(name, archiveOf(data));
        assert.equal(stored.bytes, data.length);
        assert.equal(stored.sha256, sha256(data));
        assert.deepEqual(await readAll(await store.getArchive(name)), data);
      }
    });

    it('round-trips metadata records beside archives, and lists archives that have none', async () => {
      const withRecord = unique('demo-2026-11-23T12-00-00Z');
      const foreign = unique('taken-by-vcluster-cli');
      await store.putArchive(withRecord, archiveOf(randomBytes(2000)));
      await store.putArchive(foreign, archiveOf(randomBytes(3000)));
      const failed = record(unique('demo-2026-11-23T13-00-00Z'), '', { status: 'Failed', error: 'etcd unreachable' });
      const completed = record(withRecord, store.urlFor(withRecord));
      await store.putRecord(completed);
      await store.putRecord(failed);

      assert.deepEqual(await store.getRecord(withRecord), completed);
      assert.equal(await store.getRecord(foreign), undefined);
      const records = await store.listRecords();
      assert.deepEqual(records.map((r) => r.snapshotName).sort(), [completed.snapshotName, failed.snapshotName].sort());
      assert.deepEqual((await store.listArchives()).map((l) => l.snapshotName).sort(), [withRecord, foreign].sort());

      const updated = { ...completed, status: 'PartiallyFailed' as const, error: '1 of 2 volume snapshots failed' };
      await store.putRecord(updated);
      assert.deepEqual(await store.getRecord(withRecord), updated);

      await store.deleteRecord(withRecord);
      assert.equal(await store.getRecord(withRecord), undefined);
      assert.deepEqual((await store.listRecords()).map((r) => r.snapshotName), [failed.snapshotName]);
      assert.ok(await store.headArchive(withRecord), 'deleting the record keeps the archive');
    });

    it('leaves nothing behind when the archive stream fails midway', async () => {
      const name = unique('broken');
      await assert.rejects(store.putArchive(name, failingArchive(12 * MiB)), /etcd went away midway/);
      assert.equal(await store.headArchive(name), undefined);
      assert.ok(!(await store.listArchives()).some((l) => l.snapshotName === name));
      await backend.assertNoUploadLeftovers(name);
    });

    it('leaves nothing behind when the upload is aborted', async () => {
      const name = unique('aborted');
      const controller = new AbortController();
      await assert.rejects(store.putArchive(name, endlessArchive(controller, 7 * MiB), controller.signal), { name: 'AbortError' });
      assert.equal(await store.headArchive(name), undefined);
      await backend.assertNoUploadLeftovers(name);
    });

    it('lists nothing in a fresh location', async () => {
      assert.deepEqual(await store.listArchives(), []);
      assert.deepEqual(await store.listRecords(), []);
      assert.equal(await store.getRecord('nothing-here'), undefined);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------- S3

function minioClient(): S3Client {
  const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

function s3Location(bucket: string, prefix: string, extra: Partial<S3Location> = {}): S3Location {
  return {
    type: 's3',
    bucket,
    prefix,
    endpoint: testEnv().minio.endpoint,
    forcePathStyle: true,
    insecureSkipTlsVerify: false,
    skipClientCredentials: false,
    ...extra,
  };
}

function minioCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: testEnv().minio.accessKeyId, secretAccessKey: testEnv().minio.secretAccessKey };
}

async function createBucket(): Promise<string> {
  const bucket = unique('vcsnap-test');
  await minioClient().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function pendingUploads(bucket: string, key: string): Promise<number> {
  const listed = await minioClient().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return listed.Uploads?.length ?? 0;
}

for (const prefix of ['team-a/demo', '']) {
  let bucket = '';
  contractSuite({
    name: `s3 (prefix ${JSON.stringify(prefix)})`,
    async create() {
      bucket = await createBucket();
      return createS3Store(s3Location(bucket, prefix), minioCredentials(), { partSize: 5 * MiB });
    },
    async assertNoUploadLeftovers(snapshotName) {
      const key = `${prefix ? `${prefix}/` : ''}${snapshotName}.tar.gz`;
      assert.equal(await pendingUploads(bucket, key), 0, 'a multipart upload was left behind');
    },
  });
}

describe('s3: specifics', () => {
  it('really can see a pending multipart upload (the leftover check is meaningful)', async () => {
    const bucket = await createBucket();
    const created = await minioClient().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'x/probe.tar.gz' }));
    assert.equal(await pendingUploads(bucket, 'x/probe.tar.gz'), 1);
    await minioClient().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'x/probe.tar.gz', UploadId: created.UploadId }));
  });

  it('writes `<prefix>/<name>.tar.gz` and `<prefix>/<name>.json`, with tagging and a checksum algorithm', async () => {
    const bucket = await createBucket();
    const store = createStore(s3Location(bucket, 'a/b', { tagging: 'owner=vcsnap&cluster=demo', checksumAlgorithm: 'sha256' }), minioCredentials());
    const stored = await store.putArchive('demo-1', archiveOf(randomBytes(20 * MiB)));
    assert.equal(stored.url, `s3://${bucket}/a/b/demo-1.tar.gz`);
    await store.putRecord(record('demo-1', stored.url));
    const tags = await minioClient().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'a/b/demo-1.tar.gz' }));
    assert.deepEqual(tags.TagSet?.map((t) => `${t.Key}=${t.Value}`).sort(), ['cluster=demo', 'owner=vcsnap']);
    const recordTags = await minioClient().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'a/b/demo-1.json' }));
    assert.equal(recordTags.TagSet?.length, 2);
  });

  it('ignores archives in sub-prefixes (other clusters)', async () => {
    const bucket = await createBucket();
    await createStore(s3Location(bucket, 'team/demo-2'), minioCredentials()).putArchive('other', archiveOf(randomBytes(10)));
    assert.deepEqual(await createStore(s3Location(bucket, 'team'), minioCredentials()).listArchives(), []);
  });

  it('bad credentials fail fast with StorageBadCredentials, naming the bucket and never the secret', async () => {
    const bucket = await createBucket();
    const secret = 'definitely-wrong-secret-9f8e7d';
    for (const credentials of [
      { accessKeyId: testEnv().minio.accessKeyId, secretAccessKey: secret },
      { accessKeyId: 'no-such-access-key', secretAccessKey: secret },
    ]) {
      const store = createStore(s3Location(bucket, 'p'), credentials);
      for (const attempt of [() => store.putArchive('demo-1', archiveOf(randomBytes(1000))), () => store.listArchives(), () => store.getRecord('demo-1')]) {
        await assert.rejects(attempt(), (err: unknown) => {
          isStorageFailure('StorageBadCredentials')(err);
          const message = (err as Error).message;
          assert.match(message, new RegExp(bucket));
          assert.ok(!message.includes(secret));
          return true;
        });
      }
    }
  });

  it('a missing bucket is StorageLocationNotFound', async () => {
    const store = createS3Store(s3Location(unique('vcsnap-missing'), ''), minioCredentials(), { partSize: 5 * MiB });
    await assert.rejects(store.putArchive('demo-1', archiveOf(randomBytes(1000))), isStorageFailure('StorageLocationNotFound'));
    await assert.rejects(store.putArchive('demo-2', archiveOf(randomBytes(6 * MiB))), isStorageFailure('StorageLocationNotFound'));
    await assert.rejects(store.listArchives(), isStorageFailure('StorageLocationNotFound'));
    await assert.rejects(store.putRecord(record('demo-1', '')), isStorageFailure('StorageLocationNotFound'));
  });

  it('rejects an unknown checksum algorithm as StorageBadConfiguration', () => {
    assert.throws(() => createStore(s3Location('b', '', { checksumAlgorithm: 'md4' })), isStorageFailure('StorageBadConfiguration'));
  });
});

// ---------------------------------------------------------------------------------------------------------- Azure

function azureStoreLocation(container: string, prefix: string): AzureLocation {
  const { serviceUrl, accountName } = testEnv().azurite;
  return { type: 'azure', serviceUrl, accountName, container, prefix, credential: { name: 'unused-here', namespace: 'team-a' } };
}

const azureKey = (): { accountKey: string } => ({ accountKey: testEnv().azurite.accountKey });

/** Names of the committed blobs under `prefix`. */
async function azureBlobNames(container: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of azuriteService().getContainerClient(container).listBlobsFlat({ prefix })) names.push(blob.name);
  return names;
}

for (const prefix of ['team-a/demo', '']) {
  let container = '';
  contractSuite({
    name: `azure (prefix ${JSON.stringify(prefix)})`,
    async create() {
      container = await createAzureContainer();
      return createAzureStore(azureStoreLocation(container, prefix), azureKey(), { blockSize: 4 * MiB });
    },
    async assertNoUploadLeftovers(snapshotName) {
      // Staged blocks of a failed upload cannot be dropped (Azure garbage-collects them); nothing may be committed.
      const key = `${prefix ? `${prefix}/` : ''}${snapshotName}.tar.gz`;
      assert.deepEqual(await azureBlobNames(container, key), [], 'a blob was committed');
    },
  });
}

describe('azure: specifics', () => {
  it('writes `<prefix>/<name>.tar.gz` and `<prefix>/<name>.json` with their content types, at vCluster-style https-form URLs', async () => {
    const container = await createAzureContainer();
    const store = createAzureStore(azureStoreLocation(container, 'team-a/demo'), azureKey());
    const name = unique('demo-2026-11-23T12-00-00Z');
    const stored = await store.putArchive(name, archiveOf(randomBytes(5000)));
    await store.putRecord(record(name, stored.url));
    const { serviceUrl } = testEnv().azurite;
    assert.equal(stored.url, `${serviceUrl}/${container}/team-a/demo/${name}.tar.gz`);
    const blobs = azuriteService().getContainerClient(container);
    assert.equal((await blobs.getBlobClient(`team-a/demo/${name}.tar.gz`).getProperties()).contentType, 'application/gzip');
    assert.equal((await blobs.getBlobClient(`team-a/demo/${name}.json`).getProperties()).contentType, 'application/json');
  });

  it('blocks staged by a killed attempt stay invisible, and the next upload of the name commits only its own bytes', async () => {
    const container = await createAzureContainer();
    const store = createAzureStore(azureStoreLocation(container, ''), azureKey(), { blockSize: 4 * MiB });
    const name = unique('demo-2026-11-23T12-00-00Z');
    const blob = azuriteService().getContainerClient(container).getBlockBlobClient(`${name}.tar.gz`);
    // The SDK's block ids: base64 of 48 characters (all ids staged for one blob must have the same length).
    await blob.stageBlock(Buffer.from('killed-attempt-'.padEnd(48, '0')).toString('base64'), randomBytes(1000), 1000);
    assert.equal((await blob.getBlockList('uncommitted')).uncommittedBlocks?.length, 1, 'the staged block is there (the leftover check is meaningful)');
    assert.deepEqual(await azureBlobNames(container, name), []);
    assert.equal(await store.headArchive(name), undefined);
    assert.deepEqual(await store.listArchives(), []);
    const data = randomBytes(9 * MiB);
    await store.putArchive(name, archiveOf(data));
    assert.equal(sha256(await readAll(await store.getArchive(name))), sha256(data));
    assert.deepEqual((await blob.getBlockList('uncommitted')).uncommittedBlocks ?? [], [], 'the commit discarded the staged block');
  });

  it('never replaces a stored archive: a second write of the name is refused and the first stays (a retry recognises its own by owner)', async () => {
    const store = createAzureStore(azureStoreLocation(await createAzureContainer(), 'x'), azureKey());
    const first = randomBytes(3000);
    const owner = { cluster: { name: 'demo', namespace: 'team-a' }, workflowId: 'wf-1' };
    await store.putArchive('demo-1', archiveOf(first), undefined, { owner });
    await assert.rejects(store.putArchive('demo-1', archiveOf(randomBytes(7000))), (err: Error & { type?: string }) => err.type === 'SnapshotNameTaken');
    assert.equal(sha256(await readAll(await store.getArchive('demo-1'))), sha256(first));
    assert.deepEqual(await store.archiveOwner!('demo-1'), { owner });
  });

  it('ignores archives in sub-prefixes (other clusters)', async () => {
    const container = await createAzureContainer();
    await createAzureStore(azureStoreLocation(container, 'team-a/demo/other'), azureKey()).putArchive('nested', archiveOf(randomBytes(10)));
    assert.deepEqual(await createAzureStore(azureStoreLocation(container, 'team-a/demo'), azureKey()).listArchives(), []);
  });

  it('works with a SAS token instead of the account key', async () => {
    const container = await createAzureContainer();
    const { accountName, accountKey } = testEnv().azurite;
    const sasToken = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(accountName, accountKey),
    ).toString();
    const store = createAzureStore(azureStoreLocation(container, 'sas'), { sasToken });
    const data = randomBytes(20_000);
    await store.putArchive('demo-1', archiveOf(data));
    await store.putRecord(record('demo-1', store.urlFor('demo-1')));
    assert.equal(sha256(await readAll(await store.getArchive('demo-1'))), sha256(data));
    assert.deepEqual((await store.listArchives()).map((a) => a.snapshotName), ['demo-1']);
    assert.equal((await store.listRecords()).length, 1);
    assert.ok(!store.urlFor('demo-1').includes('sig='), 'URLs never carry the SAS');
  });

  it('a wrong account key or a read-only SAS fail fast with StorageBadCredentials, naming the blob and never the secret', async () => {
    const container = await createAzureContainer();
    const wrongKey = randomBytes(64).toString('base64');
    const { accountName, accountKey } = testEnv().azurite;
    const readOnly = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(accountName, accountKey),
    ).toString();
    for (const credentials of [{ accountKey: wrongKey }, { sasToken: readOnly }]) {
      const store = createAzureStore(azureStoreLocation(container, ''), credentials);
      const attempts: Array<() => Promise<unknown>> = [() => store.putArchive('demo-1', archiveOf(randomBytes(1000))), () => store.putRecord(record('demo-1', ''))];
      if ('accountKey' in credentials) attempts.push(() => store.listArchives(), () => store.getRecord('demo-1'));
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (err: unknown) => {
          isStorageFailure('StorageBadCredentials')(err);
          const message = (err as Error).message;
          assert.match(message, new RegExp(container));
          for (const secret of [wrongKey, readOnly, accountKey]) assert.ok(!message.includes(secret), 'the message carries a secret');
          assert.ok(!message.includes('sig='), 'the message carries a SAS signature');
          assert.equal((err as Error).cause, undefined, 'the SDK error (which carries the request URL) is not kept as the cause');
          return true;
        });
      }
    }
  });

  it('a missing container is StorageLocationNotFound; a missing blob is StorageObjectNotFound or undefined', async () => {
    const store = createAzureStore(azureStoreLocation(unique('no-such-container'), ''), azureKey());
    await assert.rejects(store.listArchives(), isStorageFailure('StorageLocationNotFound'));
    await assert.rejects(store.putRecord(record('demo-1', '')), isStorageFailure('StorageLocationNotFound'));
    const existing = createAzureStore(azureStoreLocation(await createAzureContainer(), ''), azureKey());
    assert.equal(await existing.headArchive('demo-missing'), undefined);
    assert.equal(await existing.getRecord('demo-missing'), undefined);
    await assert.rejects(existing.getArchive('demo-missing'), isStorageFailure('StorageObjectNotFound'));
  });

  it('an unreachable account is a retryable failure naming the endpoint', async () => {
    const port = await closedPort();
    const location = { ...azureStoreLocation('some-container', ''), serviceUrl: `http://127.0.0.1:${port}/${testEnv().azurite.accountName}` };
    const started = Date.now();
    await assert.rejects(createAzureStore(location, azureKey()).listArchives(), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure), 'retryable: a plain error');
      assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${port}.*unreachable`));
      return true;
    });
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  });
});

// ---------------------------------------------------------------------------------------------------------- OCI

function registryStorage(registryName: string, repository: string): string {
  return join(testEnv().runDir, registryName, 'storage', 'docker', 'registry', 'v2', 'repositories', repository);
}

/**
 * Upload sessions still open in a repository's storage: distribution keeps `_uploads/<id>/{data,startedat}` for a
 * live session. (A cancelled one can leave an empty `hashstates/sha256/0` behind; the registry no longer knows it.)
 */
function openUploadSessions(storageDir: string): string[] {
  const uploads = join(storageDir, '_uploads');
  if (!existsSync(uploads)) return [];
  return readdirSync(uploads).filter((id) => existsSync(join(uploads, id, 'data')) || existsSync(join(uploads, id, 'startedat')));
}

/** No tag, and no open upload session in the registry's storage (when we can see it). */
async function assertNoOciLeftovers(client: RegistryClient, storageDir: string | undefined, snapshotName: string): Promise<void> {
  const tags = await client.listTags().catch((): string[] => []);
  assert.ok(!tags.includes(snapshotName), `tag ${snapshotName} exists`);
  if (storageDir) assert.deepEqual(openUploadSessions(storageDir), [], 'an upload session was left open');
}

interface OciTarget {
  host: string;
  /** The harness's name for the registry whose storage holds the repository, to look for open upload sessions. */
  registryName?: string;
  username?: string;
  password?: string;
}

function ociBackend(name: string, target: () => Promise<OciTarget>): Backend {
  let client: RegistryClient;
  let storageDir: string | undefined;
  return {
    name,
    async create() {
      const { host, registryName, username, password } = await target();
      const repository = `vcsnap-test/${unique('repo')}`;
      const credentials = username && password ? { username, password } : undefined;
      client = new RegistryClient({ registry: host, repository, insecure: true, credentials });
      storageDir = registryName && registryStorage(registryName, repository);
      return createOciStore({ type: 'oci', registry: host, repository, insecure: true }, credentials, { chunkSize: 1 * MiB, retry: FAST_RETRY });
    },
    assertNoUploadLeftovers: (snapshotName) => assertNoOciLeftovers(client, storageDir, snapshotName),
  };
}

contractSuite(ociBackend('oci (open registry)', async () => ({ host: testEnv().registry.host, registryName: 'registry' })));
contractSuite(ociBackend('oci (basic auth registry)', async () => ({ ...testEnv().authRegistry, registryName: 'registry-auth' })));

let tokenProxy: TokenRegistryProxy | undefined;
const bearerProxy = async (): Promise<TokenRegistryProxy> => {
  tokenProxy ??= await startTokenRegistryProxy({ upstream: testEnv().registry.host, username: 'robot', password: 'token-pw', tagsPageSize: 2 });
  return tokenProxy;
};
after(async () => {
  await tokenProxy?.close();
});

contractSuite(
  ociBackend('oci (bearer token registry)', async () => ({ host: (await bearerProxy()).host, registryName: 'registry', username: 'robot', password: 'token-pw' })),
);

describe('oci: specifics', () => {
  const openRepo = (): { registry: string; repository: string; client: RegistryClient } => {
    const registry = testEnv().registry.host;
    const repository = `vcsnap-test/${unique('repo')}`;
    return { registry, repository, client: new RegistryClient({ registry, repository, insecure: true }) };
  };

  it('pushes the vCluster artifact shape exactly, and the record as a `.meta` manifest', async () => {
    const { registry, repository } = openRepo();
    const created = new Date('2026-11-23T12:00:07.123Z');
    const store = createOciStore({ type: 'oci', registry, repository, insecure: true }, undefined, { now: () => created });
    const data = randomBytes(3 * MiB);
    const stored = await store.putArchive('demo-2026-11-23T12-00-00Z', archiveOf(data));
    assert.equal(stored.url, `oci://${registry}/${repository}:demo-2026-11-23T12-00-00Z`);

    const base = `http://${registry}/v2/${repository}`;
    const res = await fetch(`${base}/manifests/demo-2026-11-23T12-00-00Z`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(await res.json(), {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.loft.vcluster',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
      },
      layers: [
        {
          mediaType: 'application/vnd.loft.vcluster.etcd.v1.tar+gzip',
          digest: `sha256:${sha256(data)}`,
          size: data.length,
          annotations: { 'org.opencontainers.image.title': 'etcd' },
        },
      ],
      annotations: { 'org.opencontainers.image.created': '2026-11-23T12:00:07Z' },
    });
    const config = await fetch(`${base}/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a`);
    assert.equal(await config.text(), '{}');
    const layer = Buffer.from(await (await fetch(`${base}/blobs/sha256:${sha256(data)}`)).arrayBuffer());
    assert.ok(layer.equals(data), 'the layer is the archive byte for byte');

    await store.putRecord(record('demo-2026-11-23T12-00-00Z', stored.url));
    const meta = (await (await fetch(`${base}/manifests/demo-2026-11-23T12-00-00Z.meta`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as {
      artifactType: string;
      layers: { mediaType: string }[];
    };
    assert.equal(meta.artifactType, 'application/vnd.vcsnap.record.v1+json');
    assert.deepEqual(meta.layers.map((l) => l.mediaType), ['application/vnd.vcsnap.record.v1+json']);
    const tags = (await (await fetch(`${base}/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags.sort(), ['demo-2026-11-23T12-00-00Z', 'demo-2026-11-23T12-00-00Z.meta']);
  });

  it('really can see an open upload session (the leftover check is meaningful)', async () => {
    const { registry, repository } = openRepo();
    const started = await fetch(`http://${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    assert.equal(openUploadSessions(registryStorage('registry', repository)).length, 1);
    assert.equal((await fetch(new URL(started.headers.get('location')!, `http://${registry}`), { method: 'DELETE' })).status, 204);
    assert.deepEqual(openUploadSessions(registryStorage('registry', repository)), []);
  });

  it('lists only tags that carry the etcd layer as archives', async () => {
    const { registry, repository, client } = openRepo();
    const store = createOciStore({ type: 'oci', registry, repository, insecure: true });
    await store.putArchive('snap-a', archiveOf(randomBytes(100)));
    const config = await client.pushBlob(Buffer.from('{}'));
    const other = await client.pushBlob(randomBytes(100));
    await client.putManifest('not-a-snapshot', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
      layers: [{ mediaType: 'application/octet-stream', ...other }],
    });
    assert.deepEqual((await store.listArchives()).map((l) => l.snapshotName), ['snap-a']);
    assert.equal(await store.headArchive('not-a-snapshot'), undefined);
  });

  it('missing repository: pulls are StorageLocationNotFound, listings are empty', async () => {
    const { registry, repository } = openRepo();
    const store = createOciStore({ type: 'oci', registry, repository, insecure: true });
    await assert.rejects(store.getArchive('demo-1'), isStorageFailure('StorageLocationNotFound'));
    assert.deepEqual(await store.listArchives(), []);
    assert.equal(await store.headArchive('demo-1'), undefined);
    await store.deleteArchive('demo-1');
  });

  it('basic-auth registry: missing or wrong credentials are StorageBadCredentials', async () => {
    const { host, username } = testEnv().authRegistry;
    const location = { type: 'oci' as const, registry: host, repository: `vcsnap-test/${unique('repo')}`, insecure: true };
    for (const credentials of [undefined, { username, password: 'wrong-password-5h2k' }]) {
      const store = createStore(location, credentials);
      const archive = archiveOf(randomBytes(1000));
      await assert.rejects(store.putArchive('demo-1', archive), (err: unknown) => {
        isStorageFailure('StorageBadCredentials')(err);
        assert.ok(!(err as Error).message.includes('wrong-password-5h2k'));
        return true;
      });
      assert.ok(archive.destroyed, 'the archive stream is released');
      await assert.rejects(store.listArchives(), isStorageFailure('StorageBadCredentials'));
    }
  });

  it('bearer registry: fetches a scoped token with basic auth, re-authenticates when it expires, refuses a wrong password', async () => {
    const proxy = await bearerProxy();
    const repository = `vcsnap-test/${unique('repo')}`;
    const location = { type: 'oci' as const, registry: proxy.host, repository, insecure: true };
    const store = createStore(location, { username: 'robot', password: 'token-pw' });
    const before = proxy.tokenRequests.length;
    await store.putArchive('demo-1', archiveOf(randomBytes(1000)));
    const first = proxy.tokenRequests[before];
    assert.equal(first.basicAuth, true);
    assert.equal(first.service, 'vcsnap-proxy');
    assert.ok(first.scopes.includes(`repository:${repository}:pull,push`));

    proxy.revokeTokens();
    assert.deepEqual((await store.listArchives()).map((l) => l.snapshotName), ['demo-1']);

    const wrong = createStore(location, { username: 'robot', password: 'nope' });
    await assert.rejects(wrong.listArchives(), isStorageFailure('StorageBadCredentials'));
  });

  it('retries transient registry failures (5xx) inside the client', async () => {
    const proxy = await bearerProxy();
    const repository = `vcsnap-test/${unique('repo')}`;
    const store = createOciStore({ type: 'oci', registry: proxy.host, repository, insecure: true }, { username: 'robot', password: 'token-pw' }, {
      chunkSize: 1 * MiB,
      retry: FAST_RETRY,
    });
    const injectedBefore = proxy.injectedFailures;
    proxy.failNext('POST', /\/blobs\/uploads\/$/, 503);
    proxy.failNext('PATCH', /\/blobs\/uploads\//, 502, 2);
    proxy.failNext('PUT', /\/manifests\//, 500);
    proxy.failNext('GET', /\/tags\/list$/, 503);
    const data = randomBytes(3 * MiB);
    const stored = await store.putArchive('demo-1', archiveOf(data));
    assert.equal(stored.sha256, sha256(data));
    assert.equal((await store.listArchives()).length, 1);
    assert.equal(proxy.injectedFailures - injectedBefore, 5);

    proxy.failNext('GET', /\/tags\/list$/, 503, FAST_RETRY.attempts);
    await assert.rejects(store.listArchives(), /list tags .* failed \(503/);
  });

  it('recovers when the answer to an upload request is lost after the registry handled it', async () => {
    const proxy = await bearerProxy();
    const repository = `vcsnap-test/${unique('repo')}`;
    const store = createOciStore({ type: 'oci', registry: proxy.host, repository, insecure: true }, { username: 'robot', password: 'token-pw' }, {
      chunkSize: 1 * MiB,
      retry: FAST_RETRY,
    });
    await store.putArchive('warm-up', archiveOf(randomBytes(10)));
    const injectedBefore = proxy.injectedFailures;
    proxy.failNext('PATCH', /\/blobs\/uploads\//, 502, 1, true);
    proxy.failNext('PUT', /\/blobs\/uploads\//, 502, 1, true);
    const data = randomBytes(3 * MiB + 5);
    const stored = await store.putArchive('demo-1', archiveOf(data));
    assert.equal(proxy.injectedFailures - injectedBefore, 2);
    assert.equal(stored.sha256, sha256(data));
    assert.equal(sha256(await readAll(await store.getArchive('demo-1'))), sha256(data));
  });

  it('follows Link pagination of tag lists', async () => {
    const proxy = await bearerProxy(); // serves tag lists in pages of 2
    const repository = `vcsnap-test/${unique('repo')}`;
    const store = createOciStore({ type: 'oci', registry: proxy.host, repository, insecure: true }, { username: 'robot', password: 'token-pw' });
    const names = ['s1', 's2', 's3', 's4', 's5'];
    for (const name of names) await store.putArchive(name, archiveOf(randomBytes(10)));
    const client = new RegistryClient({ registry: proxy.host, repository, insecure: true, credentials: { username: 'robot', password: 'token-pw' } });
    assert.deepEqual((await client.listTags()).sort(), names);
    assert.deepEqual((await store.listArchives()).map((l) => l.snapshotName).sort(), names);
  });

  it('an unreachable registry is a retryable failure naming the registry', async () => {
    const registry = `127.0.0.1:${await closedPort()}`;
    const store = createOciStore({ type: 'oci', registry, repository: 'x/y', insecure: true }, undefined, { retry: { attempts: 2, initialDelayMs: 10 } });
    await assert.rejects(store.listArchives(), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable));
      assert.match((err as Error).message, new RegExp(`${registry}/x/y.*ECONNREFUSED`));
      return true;
    });
  });

  it('parses auth challenges and Link headers', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
    assert.deepEqual(parseChallenge('Basic realm="vcsnap-test"'), { scheme: 'basic', params: { realm: 'vcsnap-test' } });
    assert.equal(parseChallenge(null), undefined);
    assert.equal(nextLink('</v2/a/tags/list?last=x&n=2>; rel="next"'), '/v2/a/tags/list?last=x&n=2');
    assert.equal(nextLink(null), undefined);
  });

  it('uses the layer media type vCluster restores from', () => {
    assert.equal(VCLUSTER_ETCD_LAYER_MEDIA_TYPE, 'application/vnd.loft.vcluster.etcd.v1.tar+gzip');
  });
});

// ---------------------------------------------------------------------------------------------------------- file

let fileDir = '';
contractSuite({
  name: 'file',
  async create() {
    fileDir = join(testEnv().runDir, 'file-store', unique('cluster'));
    return createStore({ type: 'container', path: fileDir });
  },
  async assertNoUploadLeftovers() {
    const leftovers = existsSync(fileDir) ? readdirSync(fileDir).filter((f) => f.startsWith('.')) : [];
    assert.deepEqual(leftovers, []);
  },
});

describe('file: specifics', () => {
  it('uses container:// URLs with the absolute path, and creates the directory', async () => {
    const dir = join(testEnv().runDir, 'file-store', unique('new'), 'nested');
    const store = createFileStore({ type: 'container', path: dir });
    assert.equal(store.urlFor('demo-1'), `container://${dir}/demo-1.tar.gz`);
    await store.putArchive('demo-1', archiveOf(Buffer.from('x')));
    assert.deepEqual(readdirSync(dir), ['demo-1.tar.gz']);
  });

  it('rejects names that would escape the directory', async () => {
    const store = createFileStore({ type: 'container', path: join(testEnv().runDir, 'file-store') });
    await assert.rejects(store.putArchive('../evil', archiveOf(Buffer.from('x'))), isStorageFailure('StorageBadConfiguration'));
    assert.throws(() => store.urlFor('a/b'), isStorageFailure('StorageBadConfiguration'));
  });
});

describe('createStore', () => {
  it('refuses credentials of the wrong kind', () => {
    assert.throws(() => createStore(s3Location('b', ''), { username: 'u', password: 'p' }), isStorageFailure('StorageBadConfiguration'));
    assert.throws(
      () => createStore({ type: 'oci', registry: 'r', repository: 'x' }, { accessKeyId: 'a', secretAccessKey: 's' }),
      isStorageFailure('StorageBadConfiguration'),
    );
    assert.throws(() => createStore(azureStoreLocation('c', ''), { accessKeyId: 'a', secretAccessKey: 's' } as never), isStorageFailure('StorageBadConfiguration'));
  });
});
