// No archive is ever replaced, on the real servers: two writers racing on one name in each backend (MinIO's
// conditional writes, link(2) in a directory, the registry's check before the tag), records replaced only by their
// own run, and two clusters named `demo` in different namespaces sharing one S3 prefix, fired for the same second.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { createActivities } from '../../activities';
import type { ClusterRef, S3Location, SnapshotRecord } from '../../contracts/definitions';
import { rootCause } from '../../contracts/errors';
import type { ArchiveOwner, SnapshotStore } from '../../lib/storage';
import { createFileStore } from '../../lib/storage/file';
import { createOciStore } from '../../lib/storage/oci';
import { createS3Store } from '../../lib/storage/s3';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, grantTo, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const MiB = 2 ** 20;
const NAME = 'demo-2026-11-23T12-00-00Z';
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const ownerA: ArchiveOwner = { cluster: { namespace: 'team-a', name: 'demo' }, workflowId: 'vcsnap.team-a.demo-1' };
const ownerB: ArchiveOwner = { cluster: { namespace: 'team-b', name: 'demo' }, workflowId: 'vcsnap.team-b.demo-1' };

function minioLocation(bucket: string): S3Location {
  const { endpoint } = testEnv().minio;
  return { type: 's3', bucket, prefix: 'shared', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false };
}

function minioClient(): S3Client {
  const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

async function newBucket(): Promise<string> {
  const bucket = uniqueName('nooverwrite');
  const s3 = minioClient();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return bucket;
}

async function readAll(stream: Readable): Promise<Buffer> {
  return Buffer.concat((await stream.toArray()) as Buffer[]);
}

function record(owner: ArchiveOwner, overrides: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    formatVersion: 1,
    cluster: owner.cluster,
    snapshotName: NAME,
    archiveUrl: '',
    status: 'Completed',
    startedAt: '2026-11-23T12:00:01.000Z',
    finishedAt: '2026-11-23T12:00:09.000Z',
    nominalTime: '2026-11-23T12:00:00.000Z',
    bytes: 1,
    keys: 1,
    volumes: [],
    workflowId: owner.workflowId,
    ...overrides,
  };
}

function nameTaken(owner: ArchiveOwner | undefined): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, 'SnapshotNameTaken', err.message);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /never overwritten/);
    if (owner) assert.ok(err.message.includes(`cluster ${owner.cluster.namespace}/${owner.cluster.name}`), err.message);
    return true;
  };
}

interface Backend {
  name: string;
  create(): Promise<SnapshotStore>;
}

const backends: Backend[] = [
  {
    name: 'S3 (MinIO, conditional writes)',
    async create() {
      const { accessKeyId, secretAccessKey } = testEnv().minio;
      return createS3Store(minioLocation(await newBucket()), { accessKeyId, secretAccessKey });
    },
  },
  {
    name: 'directory (link)',
    create: async () => createFileStore({ type: 'container', path: join(testEnv().runDir, 'file-store', uniqueName('nooverwrite')) }),
  },
  {
    name: 'OCI registry (check before the tag)',
    create: async () => createOciStore({ type: 'oci', registry: testEnv().registry.host, repository: `nooverwrite/${uniqueName('r')}`, insecure: true }),
  },
];

describe('no archive is ever overwritten', function () {
  this.timeout(180_000);

  for (const backend of backends) {
    describe(backend.name, () => {
      it('two writers racing on one name: the first to finish stays, the other is refused naming the owner', async () => {
        const store = await backend.create();
        // Both uploads are under way (11 MiB: multipart on S3) before either finishes; the later starter ends first.
        const slow = new PassThrough();
        const slowData = randomBytes(11 * MiB);
        const fastData = randomBytes(11 * MiB);
        slow.write(slowData.subarray(0, 9 * MiB));
        const slowUpload = store.putArchive(NAME, slow, undefined, { owner: ownerA });
        slowUpload.catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const fast = await store.putArchive(NAME, Readable.from([fastData]), undefined, { owner: ownerB });
        assert.equal(fast.sha256, sha256(fastData));
        slow.end(slowData.subarray(9 * MiB));
        await assert.rejects(slowUpload, nameTaken(ownerB));

        assert.equal(sha256(await readAll(await store.getArchive(NAME))), sha256(fastData), 'the stored bytes are the first finisher’s');
        assert.deepEqual(await store.archiveOwner!(NAME), { owner: ownerB });
        console.log(`      ${backend.name}: second writer refused, stored sha256 ${fast.sha256.slice(0, 12)}… unchanged`);
      });

      it('records: created once, replaced by the same run only, another run refused', async () => {
        const store = await backend.create();
        await store.putRecord(record(ownerA, { keys: 1 }));
        await store.putRecord(record(ownerA, { keys: 2 })); // a retried writeRecord of the same run
        await assert.rejects(store.putRecord(record(ownerB)), nameTaken(ownerA));
        assert.equal((await store.getRecord(NAME))?.keys, 2);
        // A caller may let a Failed record of another run give way (the archive stored here is this run's).
        await store.putRecord(record(ownerB, { keys: 3 }), { replaces: (existing) => existing.cluster.namespace === 'team-a' });
        assert.equal((await store.getRecord(NAME))?.cluster.namespace, 'team-b');
      });
    });
  }

  describe('two clusters named demo, in team-a and team-b, sharing one S3 prefix, fired for the same second', () => {
    let worker: TestWorker;
    let credentialNamespace: string;
    before(async () => {
      const core = adminKube().makeApiClient(k8s.CoreV1Api);
      credentialNamespace = uniqueName('nooverwrite-creds');
      await core.createNamespace({ body: { metadata: { name: credentialNamespace } } });
      const { accessKeyId, secretAccessKey } = testEnv().minio;
      await core.createNamespacedSecret({
        namespace: credentialNamespace,
        body: { metadata: { name: 'storage', ...grantTo('team-a', 'team-b') }, stringData: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } },
      });
      worker = await startTestWorker();
    });
    after(async () => {
      await worker?.stop();
    });

    it('one run stores its archive and record, the other fails saying the name is taken; each catalog lists only its own', async () => {
      const bucket = await newBucket();
      const storage: S3Location = { ...minioLocation(bucket), credential: { name: 'storage', namespace: credentialNamespace } };
      const clusters: ClusterRef[] = [
        { namespace: 'team-a', name: 'demo' },
        { namespace: 'team-b', name: 'demo' },
      ];
      const policies = clusters.map((cluster) => basePolicy(storage, { cluster }));
      const runs = await Promise.all(
        policies.map((policy) =>
          worker.client.workflow.start(snapshotWorkflow, {
            taskQueue: worker.taskQueue,
            workflowId: uniqueName(`vcsnap.${policy.cluster.namespace}.demo`),
            args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }],
          }),
        ),
      );
      const outcomes = await Promise.allSettled(runs.map((run) => run.result()));
      const won = outcomes.findIndex((o) => o.status === 'fulfilled');
      const lost = 1 - won;
      assert.ok(won >= 0 && outcomes[lost].status === 'rejected', `exactly one run completes: ${outcomes.map((o) => o.status).join(', ')}`);
      const failure = (outcomes[lost] as PromiseRejectedResult).reason as unknown;
      assert.ok(failure instanceof WorkflowFailedError);
      const cause = rootCause(failure);
      assert.ok(cause instanceof ApplicationFailure && cause.type === 'SnapshotFailed', String(cause));
      const winner = clusters[won];
      assert.match(cause.message, new RegExp(`already exists, written by cluster ${winner.namespace}/demo .*never overwritten.*own prefix`));
      console.log(`      ${clusters[lost].namespace}/demo: ${cause.message.replace(/^.*?failed: /, '')}`);

      const { accessKeyId, secretAccessKey } = testEnv().minio;
      const store = createS3Store(minioLocation(bucket), { accessKeyId, secretAccessKey });
      const stored = await store.getRecord(NAME);
      assert.equal(stored?.cluster.namespace, winner.namespace, 'the record is the winner’s');
      assert.equal(stored?.status, 'Completed');
      assert.equal(stored?.sha256, sha256(await readAll(await store.getArchive(NAME))), 'the record names the stored bytes');
      const s3 = minioClient();
      assert.deepEqual((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], [], 'no upload left open');
      s3.destroy();

      const { listStoredSnapshots } = createActivities({ kube: adminKube() });
      const catalogs = await Promise.all(policies.map((policy) => listStoredSnapshots({ policy })));
      assert.deepEqual(catalogs[won].map((e) => [e.snapshotName, e.status, e.origin]), [[NAME, 'Completed', 'vcsnap']]);
      assert.deepEqual(catalogs[lost], [], 'the other cluster’s archive is not listed as this one’s');
    });
  });
});
