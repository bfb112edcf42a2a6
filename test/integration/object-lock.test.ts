// S3 Object Lock on a real MinIO of its own (a throwaway data dir: COMPLIANCE objects cannot be removed by anyone
// until they expire, so the test removes the whole directory after stopping the server). Each archive and record is
// written with retain-until = taken time + retention.period; the credentials the worker holds cannot delete a locked
// version or change its bytes; retention keeps what is locked and says so; a GOVERNANCE lock lifted by the operator
// (s3:BypassGovernanceRetention, as MinIO's root may) lets the next run prune every version; a bucket without Object
// Lock gets the snapshot unlocked and a PartiallyFailed run naming the bucket.
import { strict as assert } from 'node:assert';
import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectLockMode, S3Location, SnapshotPolicy, SnapshotStatusView } from '../../contracts/definitions';
import { snapshotNameFor } from '../../contracts/naming';
import { listSnapshots } from '../../client/catalog';
import { applyPolicy, pause, removePolicy } from '../../lib/schedules';
import { createStore } from '../../lib/storage';
import { snapshotWorkflow } from '../../workflows';
import { startMinio, type MinioServer } from '../../scripts/servers/minio';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const DAY = 86_400_000;
const VCSNAP = join(__dirname, '..', '..', 'bin', 'vcsnap.js');
const run = promisify(execFile);
const HOUR = 3_600_000;

describe('S3 Object Lock (MinIO with object lock, its own data dir)', function () {
  this.timeout(300_000);
  let minio: MinioServer;
  let dir: string;
  let s3: S3Client;
  let worker: TestWorker;

  before(async () => {
    dir = join(testEnv().runDir, `object-lock-${randomUUID().slice(0, 8)}`);
    minio = await startMinio({ dir });
    s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
    // The worker takes these credentials from the AWS default chain: the same ones this test attacks with.
    process.env.AWS_ACCESS_KEY_ID = minio.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = minio.secretAccessKey;
    worker = await startTestWorker();
  });
  after(async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await worker?.stop();
    s3?.destroy();
    await minio?.stop();
    // COMPLIANCE versions outlive any API call: the only way to drop them is the server's data itself.
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function lockedBucketPolicy(mode: ObjectLockMode, lockEnabled = true): Promise<SnapshotPolicy> {
    const bucket = uniqueName('lock');
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: lockEnabled }));
    const storage: S3Location = { type: 's3', bucket, prefix: 'snap', endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false };
    return basePolicy(storage, { objectLock: mode, retention: { periodDays: 1, maxSnapshots: 1 } });
  }

  const snapshot = (policy: SnapshotPolicy, nominalTime: Date): Promise<SnapshotStatusView> =>
    worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('lock-run'), args: [{ policy, nominalTime: nominalTime.toISOString() }] });

  const keyOf = (policy: SnapshotPolicy, name: string, suffix: string) => `snap/${name}${suffix}`;
  const bucketOf = (policy: SnapshotPolicy) => (policy.storage as S3Location).bucket;

  async function versionsOf(policy: SnapshotPolicy, key: string) {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucketOf(policy), Prefix: key }));
    return { versions: (listed.Versions ?? []).filter((v) => v.Key === key), markers: (listed.DeleteMarkers ?? []).filter((v) => v.Key === key) };
  }

  async function sha256Of(policy: SnapshotPolicy, key: string, versionId?: string): Promise<string> {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucketOf(policy), Key: key, VersionId: versionId }));
    return createHash('sha256').update(await object.Body!.transformToByteArray()).digest('hex');
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    return promise.then(
      () => 'accepted',
      (err: Error) => `${err.name}: ${err.message}`,
    );
  }

  it('GOVERNANCE: locked for retention.period; the worker’s credentials cannot remove or change it; retention keeps it and says so; once lifted, the next run prunes every version', async () => {
    const policy = await lockedBucketPolicy('GOVERNANCE');
    const now = Date.now();
    const first = new Date(now - 2 * HOUR);
    const firstName = snapshotNameFor(policy.cluster.name, first);
    const view1 = await snapshot(policy, first);
    assert.equal(view1.status, 'Completed', view1.error);
    const until = new Date(first.getTime() + DAY).toISOString();
    assert.deepEqual(view1.lock, { mode: 'GOVERNANCE', retainUntil: until });
    for (const suffix of ['.tar.gz', '.json']) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucketOf(policy), Key: keyOf(policy, firstName, suffix) }));
      assert.equal(head.ObjectLockMode, 'GOVERNANCE', suffix);
      assert.equal(head.ObjectLockRetainUntilDate?.toISOString(), until, suffix);
    }
    const record = await createStore(policy.storage, { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey }).getRecord(firstName);
    assert.deepEqual(record?.lock, { mode: 'GOVERNANCE', retainUntil: until });

    // With the very credentials the worker holds: a version delete is refused, an overwrite only adds a version.
    const archiveKey = keyOf(policy, firstName, '.tar.gz');
    const [locked] = (await versionsOf(policy, archiveKey)).versions;
    const deleted = await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucketOf(policy), Key: archiveKey, VersionId: locked!.VersionId })));
    assert.match(deleted, /WORM|AccessDenied|retention/i, deleted);
    await s3.send(new PutObjectCommand({ Bucket: bucketOf(policy), Key: archiveKey, Body: 'not a snapshot' }));
    assert.equal(await sha256Of(policy, archiveKey, locked!.VersionId), record!.sha256, 'the locked version keeps its bytes');
    // A plain DELETE (no version) only puts a delete marker in front: the locked bytes stay.
    await s3.send(new DeleteObjectCommand({ Bucket: bucketOf(policy), Key: archiveKey }));
    assert.equal(await sha256Of(policy, archiveKey, locked!.VersionId), record!.sha256, 'still there behind the delete marker');

    // Retention (maxSnapshots 1) would prune the first snapshot after the second: it is locked, so it stays, and the
    // run says until when.
    const second = new Date(now - HOUR);
    const view2 = await snapshot(policy, second);
    assert.equal(view2.status, 'Completed', view2.error);
    assert.deepEqual(view2.retention?.deleted, []);
    assert.deepEqual(view2.retention?.locked?.map((l) => [l.name, l.until, l.mode]), [[firstName, until, 'GOVERNANCE']]);
    assert.equal((await versionsOf(policy, archiveKey)).versions.length, 2, 'the locked version and the overwrite');

    // The catalog (what `vcsnap snapshots` shows in LOCKED UNTIL) has the lock's end date.
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    await applyPolicy(target, policy);
    await pause(target, policy.cluster, 'test: no scheduled fires');
    const catalog = await listSnapshots(target, policy.cluster);
    assert.equal(catalog.find((e) => e.snapshotName === snapshotNameFor(policy.cluster.name, second))?.lockedUntil, new Date(second.getTime() + DAY).toISOString());
    const cli = await run(process.execPath, [VCSNAP, 'snapshots', `${policy.cluster.namespace}/${policy.cluster.name}`], {
      env: { ...process.env, TEMPORAL_ADDRESS: testEnv().temporal.address, TEMPORAL_NAMESPACE: testEnv().temporal.namespace, VCSNAP_TASK_QUEUE: worker.taskQueue },
    });
    assert.match(cli.stdout, /LOCKED UNTIL/);
    const row = cli.stdout.split('\n').find((line) => line.includes(snapshotNameFor(policy.cluster.name, second)));
    assert.ok(row?.includes(new Date(second.getTime() + DAY).toISOString().replace(/\.\d{3}Z$/, 'Z')), cli.stdout);
    await removePolicy(target, policy.cluster);

    // The operator lifts the GOVERNANCE lock of the first snapshot (MinIO lets its root shorten it with the bypass
    // header, as AWS lets a principal with s3:BypassGovernanceRetention): a few seconds later it has expired.
    const expiry = new Date(Date.now() + 3000);
    for (const suffix of ['.tar.gz', '.json']) {
      const key = keyOf(policy, firstName, suffix);
      for (const version of (await versionsOf(policy, key)).versions) {
        await s3.send(new PutObjectRetentionCommand({ Bucket: bucketOf(policy), Key: key, VersionId: version.VersionId, BypassGovernanceRetention: true, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: expiry } }));
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry.getTime() - Date.now()) + 1500));
    const view3 = await snapshot(policy, new Date(now - HOUR / 2));
    assert.equal(view3.status, 'Completed', view3.error);
    assert.deepEqual(view3.retention?.deleted, [firstName], JSON.stringify(view3.retention));
    assert.deepEqual(view3.retention?.locked?.map((l) => l.name), [snapshotNameFor(policy.cluster.name, second)]);
    for (const suffix of ['.tar.gz', '.json']) {
      const left = await versionsOf(policy, keyOf(policy, firstName, suffix));
      assert.deepEqual([left.versions.length, left.markers.length], [0, 0], `${suffix}: every version and delete marker pruned`);
    }
  });

  it('COMPLIANCE: no one can remove or shorten the lock, not even with the governance bypass; retention keeps it', async () => {
    const policy = await lockedBucketPolicy('COMPLIANCE');
    const now = Date.now();
    const first = new Date(now - 2 * HOUR);
    const firstName = snapshotNameFor(policy.cluster.name, first);
    const view1 = await snapshot(policy, first);
    assert.equal(view1.status, 'Completed', view1.error);
    assert.equal(view1.lock?.mode, 'COMPLIANCE');
    const archiveKey = keyOf(policy, firstName, '.tar.gz');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucketOf(policy), Key: archiveKey }));
    assert.equal(head.ObjectLockMode, 'COMPLIANCE');
    const [locked] = (await versionsOf(policy, archiveKey)).versions;
    const deleted = await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucketOf(policy), Key: archiveKey, VersionId: locked!.VersionId, BypassGovernanceRetention: true })));
    assert.match(deleted, /WORM|AccessDenied|retention/i, deleted);
    const shortened = await refusal(
      s3.send(new PutObjectRetentionCommand({ Bucket: bucketOf(policy), Key: archiveKey, VersionId: locked!.VersionId, BypassGovernanceRetention: true, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 2000) } })),
    );
    assert.notEqual(shortened, 'accepted', 'a COMPLIANCE lock cannot be shortened');
    const relaxed = await refusal(
      s3.send(new PutObjectRetentionCommand({ Bucket: bucketOf(policy), Key: archiveKey, VersionId: locked!.VersionId, BypassGovernanceRetention: true, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(first.getTime() + DAY) } })),
    );
    assert.notEqual(relaxed, 'accepted', 'nor turned into GOVERNANCE');

    const view2 = await snapshot(policy, new Date(now - HOUR));
    assert.equal(view2.status, 'Completed', view2.error);
    assert.deepEqual(view2.retention?.deleted, []);
    assert.deepEqual(view2.retention?.locked?.map((l) => [l.name, l.mode]), [[firstName, 'COMPLIANCE']]);
    assert.equal((await versionsOf(policy, archiveKey)).versions.length, 1);
  });

  it('an archive stored without a lock (vCluster\'s own, under the request engine) gets the policy\'s lock afterwards', async () => {
    const policy = await lockedBucketPolicy('GOVERNANCE');
    const store = createStore(policy.storage, { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
    const name = snapshotNameFor(policy.cluster.name, new Date(Date.now() - HOUR));
    await store.putArchive(name, Readable.from([Buffer.from('written by vCluster')]));
    const lock = { mode: 'GOVERNANCE' as const, retainUntil: new Date(Date.now() + DAY).toISOString() };
    await store.lockArchive!(name, lock);
    const key = keyOf(policy, name, '.tar.gz');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucketOf(policy), Key: key }));
    assert.deepEqual([head.ObjectLockMode, head.ObjectLockRetainUntilDate?.toISOString()], ['GOVERNANCE', lock.retainUntil]);
    const [version] = (await versionsOf(policy, key)).versions;
    assert.match(await refusal(s3.send(new DeleteObjectCommand({ Bucket: bucketOf(policy), Key: key, VersionId: version!.VersionId }))), /WORM|AccessDenied|retention/i);
    assert.deepEqual(await store.lockedUntil!(name, new Date()), lock);
  });

  it('a bucket without Object Lock: the snapshot is stored unlocked and the run is PartiallyFailed naming the bucket', async () => {
    const policy = await lockedBucketPolicy('GOVERNANCE', false);
    const view = await snapshot(policy, new Date(Date.now() - HOUR));
    assert.equal(view.status, 'PartiallyFailed');
    assert.match(view.error ?? '', new RegExp(`objectLock GOVERNANCE asked for, but bucket ${bucketOf(policy)} has no Object Lock configuration.*WITHOUT a lock`));
    assert.equal(view.lock, undefined);
    const name = snapshotNameFor(policy.cluster.name, new Date(Date.now() - HOUR));
    assert.ok((await versionsOf(policy, keyOf(policy, view.snapshotName ?? name, '.tar.gz'))).versions.length === 1, 'stored');
  });
});
