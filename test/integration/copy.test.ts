// The copy location on real servers: each snapshot is streamed from the primary (the harness's MinIO) into a second
// MinIO of its own (S3 -> S3, credentials from a Secret in the cluster's namespace, which the primary's do not open),
// into the registry (S3 -> OCI) and into Azurite (S3 -> Azure Blob), byte for byte. With the copy's MinIO stopped the
// run is PartiallyFailed naming the copy and the primary keeps its snapshot; once it is back, the next run's retention
// leaves both locations with the same snapshots. A copy credential outside the cluster's reach is refused as the
// primary's would be.
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Location, SnapshotPolicy, SnapshotStatusView } from '../../contracts/definitions';
import { snapshotNameFor } from '../../contracts/naming';
import { listSnapshots } from '../../client/catalog';
import { applyPolicy, pause, removePolicy } from '../../lib/schedules';
import { createStore } from '../../lib/storage';
import type { SnapshotStore } from '../../lib/storage/types';
import { snapshotWorkflow } from '../../workflows';
import { startMinio, type MinioServer } from '../../scripts/servers/minio';
import { freePort } from '../../scripts/servers/process';
import { azureLocation, createCredentialSecret } from '../harness/azure';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const HOUR = 3_600_000;
const COPY_KEY = { accessKeyId: 'vcsnap-copy-admin', secretAccessKey: 'vcsnap-copy-secret-Lp4w9Rt2' };

async function bytesOf(store: SnapshotStore, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.getArchive(name)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('copy location (a second MinIO, the registry, Azurite)', function () {
  this.timeout(300_000);
  let worker: TestWorker;
  let copyMinio: MinioServer | undefined;
  let copyDir: string;
  let copyPort: number;

  const primaryKey = () => ({ accessKeyId: testEnv().minio.accessKeyId, secretAccessKey: testEnv().minio.secretAccessKey });

  async function bucketOn(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
    const bucket = uniqueName('copy');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    return bucket;
  }

  const s3Location = (endpoint: string, bucket: string, prefix: string): S3Location => ({
    type: 's3', bucket, prefix, endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false,
  });

  const snapshot = (policy: SnapshotPolicy, nominalTime: Date): Promise<SnapshotStatusView> =>
    worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('copy-run'), args: [{ policy, nominalTime: nominalTime.toISOString() }] });

  before(async () => {
    copyDir = join(testEnv().runDir, `copy-minio-${randomUUID().slice(0, 8)}`);
    copyPort = await freePort();
    copyMinio = await startMinio({ dir: copyDir, port: copyPort, ...COPY_KEY });
    // The primary's credentials come from the default chain; the copy's only from its Secret.
    process.env.AWS_ACCESS_KEY_ID = testEnv().minio.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = testEnv().minio.secretAccessKey;
    worker = await startTestWorker();
  });
  after(async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await worker?.stop();
    await copyMinio?.stop();
    if (copyDir) rmSync(copyDir, { recursive: true, force: true });
  });

  it('S3 -> S3: byte-identical copies; copy down = PartiallyFailed naming it, primary kept; the next run prunes both alike', async () => {
    const primaryBucket = await bucketOn(testEnv().minio.endpoint, primaryKey());
    const copyBucket = await bucketOn(copyMinio!.endpoint, COPY_KEY);
    const credential = await createCredentialSecret('team-a', { AWS_ACCESS_KEY_ID: COPY_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: COPY_KEY.secretAccessKey });
    const copyLocation = { ...s3Location(copyMinio!.endpoint, copyBucket, 'offsite'), credential };
    const policy = basePolicy(s3Location(testEnv().minio.endpoint, primaryBucket, 'snap'), { copy: copyLocation, retention: { periodDays: 30, maxSnapshots: 1 } });
    const primary = createStore(policy.storage, primaryKey());
    const copy = createStore(copyLocation, COPY_KEY);
    const now = Date.now();
    const times = [now - 3 * HOUR, now - 2 * HOUR, now - HOUR].map((t) => new Date(t));
    const [first, second, third] = times.map((t) => snapshotNameFor(policy.cluster.name, t));

    const view1 = await snapshot(policy, times[0]!);
    assert.equal(view1.status, 'Completed', view1.error);
    assert.equal(view1.copy?.url, copy.urlFor(first!));
    const original = await bytesOf(primary, first!);
    assert.ok(original.equals(await bytesOf(copy, first!)), 'the copy holds the same bytes');
    const record = await primary.getRecord(first!);
    assert.equal(view1.copy?.sha256, record?.sha256);
    assert.deepEqual(await copy.getRecord(first!), record, 'the same record beside the copy');

    // The copy's server is down: the run keeps its primary snapshot and ends PartiallyFailed naming the copy.
    await copyMinio!.stop();
    copyMinio = undefined;
    const view2 = await snapshot(policy, times[1]!);
    assert.equal(view2.status, 'PartiallyFailed');
    assert.match(view2.error ?? '', new RegExp(`copy to s3://${copyBucket}/offsite at http://127.0.0.1:${copyPort} failed: .*(unreachable|ECONNREFUSED)`), view2.error);
    assert.ok((await primary.headArchive(second!)) !== undefined, 'the primary archive is stored');
    assert.equal((await primary.getRecord(second!))?.status, 'PartiallyFailed');
    assert.match(view2.retention?.copy?.failed[0]?.reason ?? '', /copy location s3:\/\//);

    // Back up: the next run copies its own snapshot, and retention (maxSnapshots 1) leaves both with the same one.
    copyMinio = await startMinio({ dir: copyDir, port: copyPort, ...COPY_KEY });
    const view3 = await snapshot(policy, times[2]!);
    assert.equal(view3.status, 'Completed', view3.error);
    const names = async (store: SnapshotStore) => ({
      archives: (await store.listArchives()).map((a) => a.snapshotName).sort(),
      records: (await store.listRecords()).map((r) => r.snapshotName).sort(),
    });
    assert.deepEqual(await names(primary), { archives: [third], records: [third] }, 'primary');
    assert.deepEqual(await names(copy), { archives: [third], records: [third] }, 'copy');
    assert.ok((await bytesOf(primary, third!)).equals(await bytesOf(copy, third!)));

    // The catalog says where each snapshot is (`vcsnap snapshots`' COPY column).
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    await applyPolicy(target, policy);
    await pause(target, policy.cluster, 'test: no scheduled fires');
    const catalog = await listSnapshots(target, policy.cluster);
    assert.equal(catalog.find((e) => e.snapshotName === third)?.copy, 'copied');
    await removePolicy(target, policy.cluster);
  });

  it('S3 -> OCI registry: the tag holds the archive byte for byte, with its record', async () => {
    const primaryBucket = await bucketOn(testEnv().minio.endpoint, primaryKey());
    const copyLocation = { type: 'oci' as const, registry: testEnv().registry.host, repository: `copies/${uniqueName('r')}`, insecure: true };
    const policy = basePolicy(s3Location(testEnv().minio.endpoint, primaryBucket, ''), { copy: copyLocation });
    const time = new Date(Date.now() - HOUR);
    const name = snapshotNameFor(policy.cluster.name, time);
    const view = await snapshot(policy, time);
    assert.equal(view.status, 'Completed', view.error);
    const primary = createStore(policy.storage, primaryKey());
    const copy = createStore(copyLocation);
    assert.ok((await bytesOf(primary, name)).equals(await bytesOf(copy, name)));
    assert.equal((await copy.getRecord(name))?.sha256, view.copy?.sha256);
  });

  it('S3 -> Azure Blob (Azurite, key from a Secret): the blob holds the archive byte for byte, with its record', async () => {
    const primaryBucket = await bucketOn(testEnv().minio.endpoint, primaryKey());
    const copyLocation = await azureLocation('team-a', 'copies');
    const policy = basePolicy(s3Location(testEnv().minio.endpoint, primaryBucket, ''), { copy: copyLocation });
    const time = new Date(Date.now() - HOUR);
    const name = snapshotNameFor(policy.cluster.name, time);
    const view = await snapshot(policy, time);
    assert.equal(view.status, 'Completed', view.error);
    assert.ok(view.copy?.url?.endsWith(`/${copyLocation.container}/copies/${name}.tar.gz`), `copy URL ${view.copy?.url}`);
    const primary = createStore(policy.storage, primaryKey());
    const copy = createStore(copyLocation, { accountKey: testEnv().azurite.accountKey });
    assert.ok((await bytesOf(primary, name)).equals(await bytesOf(copy, name)));
    assert.equal((await copy.getRecord(name))?.sha256, view.copy?.sha256);
  });

  it('a copy credential outside the cluster’s reach is refused (SecretNotGranted), the primary kept', async () => {
    const primaryBucket = await bucketOn(testEnv().minio.endpoint, primaryKey());
    const elsewhere = await createCredentialSecret(uniqueName('other-team'), { AWS_ACCESS_KEY_ID: COPY_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: COPY_KEY.secretAccessKey });
    const copyLocation = { ...s3Location(copyMinio!.endpoint, 'never-written', 'x'), credential: elsewhere };
    const policy = basePolicy(s3Location(testEnv().minio.endpoint, primaryBucket, 'snap'), { copy: copyLocation });
    const view = await snapshot(policy, new Date(Date.now() - HOUR));
    assert.equal(view.status, 'PartiallyFailed');
    assert.match(view.error ?? '', new RegExp(`copy to s3://never-written/x .*failed: .*${elsewhere.namespace}/${elsewhere.name}`), view.error);
    assert.equal(await text(await createStore(policy.storage, primaryKey()).getArchive(view.snapshotName!)).then((t) => t.length > 0), true);
  });
});
