// Fault 3: MinIO (an own instance) stops in the middle of an upload. The run must retry a bounded number of times
// with growing backoff, then end Failed with a reason; retention must not run (the older snapshots stay); and once
// MinIO is back, the schedule's next run succeeds.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { applyPolicy, removePolicy, triggerNow } from '../../lib/schedules';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { startMinio, type MinioServer } from '../../scripts/servers/minio';
import { freePort } from '../../scripts/servers/process';
import { statusQuery, type S3Location, type SnapshotPolicy, type SnapshotStatusView } from '../../contracts/definitions';
import { scheduleIdFor } from '../../contracts/naming';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { createBucket, credentialSecret, fillEtcd, listKeys, pendingMultipartUploads, type S3Target } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

const MINIO_USER = { accessKeyId: 'faults-minio-admin', secretAccessKey: 'faults-minio-secret-Vb7Kp2Lq' };
const HOUR = 3_600_000;

describe('fault: MinIO stopped during an upload', function () {
  this.timeout(240_000);
  let dir: string;
  let port: number;
  let minio: MinioServer | undefined;
  let target: S3Target;
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let worker: TestWorker;
  let policy: SnapshotPolicy;

  const startOwnMinio = async () => {
    minio = await startMinio({ dir, port, ...MINIO_USER });
  };

  before(async () => {
    dir = join(testEnv().runDir, 'faults', 'minio-outage');
    port = await freePort();
    await startOwnMinio();
    target = { endpoint: minio!.endpoint, ...MINIO_USER };
    etcd = await startEtcd({ dir, name: 'outage-etcd' });
    await fillEtcd(etcd.endpoint, 2000, 12 * 1024); // 24 MB: a multipart upload of two parts
    proxy = await startTcpProxy({ upstream: `127.0.0.1:${port}` });
    worker = await startTestWorker();
    const storage: S3Location = {
      type: 's3', bucket: await createBucket(target), prefix: 'snaps', endpoint: `http://${proxy.host}`, region: 'us-east-1', forcePathStyle: true,
      insecureSkipTlsVerify: false, skipClientCredentials: false,
      credential: await credentialSecret({ AWS_ACCESS_KEY_ID: MINIO_USER.accessKeyId, AWS_SECRET_ACCESS_KEY: MINIO_USER.secretAccessKey }),
    };
    policy = basePolicy(storage, { retention: { periodDays: 30, maxSnapshots: 2 }, state: { endpoints: [etcd.endpoint], origin: 'explicit' } });
  });
  after(async () => {
    await removePolicy({ client: worker.client }, policy.cluster).catch(() => undefined);
    await worker?.stop();
    await proxy?.close();
    await minio?.stop();
    await etcd?.stop();
  });

  const bucket = () => (policy.storage as S3Location).bucket;
  const archives = async () => (await listKeys(target, bucket())).filter((key) => key.endsWith('.tar.gz'));
  const run = (nominalTime: Date) =>
    worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('outage'), args: [{ policy, nominalTime: nominalTime.toISOString() }] });

  it('retries with backoff, fails with a reason, prunes nothing; the next scheduled run succeeds once MinIO is back', async () => {
    const now = Date.now();
    for (const hoursAgo of [3, 2]) assert.equal((await (await run(new Date(now - hoursAgo * HOUR))).result()).status, 'Completed');
    const before = await archives();
    assert.equal(before.length, 2);

    proxy.setRate(4 * 2 ** 20);
    const outage = await run(new Date(now - HOUR));
    const outageKey = `snaps/${policy.cluster.name}-${new Date(now - HOUR).toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.tar.gz`;
    await eventually('a multipart part to be stored', async () => (await pendingMultipartUploads(target, bucket())).some((u) => u.key === outageKey && u.parts > 0), 30_000, 100);
    await minio!.stop();
    minio = undefined;
    proxy.setRate(undefined);

    // Watch the retries while MinIO is down: the backoff before each next attempt.
    const backoffs = new Map<number, number>();
    const dump = await eventually(
      'dumpAndStore to give up',
      async () => {
        for (const pending of await pendingActivities(outage)) {
          if (pending.activityType === 'dumpAndStore' && pending.backoffMs !== undefined) backoffs.set(pending.attempt, pending.backoffMs);
        }
        return (await activityOutcomes(outage)).find((a) => a.activityType === 'dumpAndStore' && a.outcome !== 'open');
      },
      150_000,
      250,
    );
    await startOwnMinio(); // back before the Failed record's retries run out

    await assert.rejects(outage.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const view: SnapshotStatusView = await outage.query(statusQuery);
    assert.equal(view.status, 'Failed');
    assert.equal(dump.outcome, 'failed');
    assert.equal(dump.attempt, 5, 'bounded: the retry policy allows five attempts');
    // workflows/snapshot.ts: 5 s initial interval, coefficient 2.
    const seconds = [...backoffs.entries()].sort(([a], [b]) => a - b).map(([, ms]) => Math.round(ms / 1000));
    assert.deepEqual(seconds, [5, 10, 20, 40], 'backoff before attempts 2 to 5');
    assert.match(view.error ?? '', new RegExp(`S3 upload of s3://${bucket()}/${outageKey}`), 'the reason names what failed');
    console.log(`      Failed after ${dump.attempt} attempts (backoff ${seconds.join('s, ')}s): ${view.error}`);

    // Nothing pruned; the failure is recorded; no multipart upload left once the Failed record is written.
    assert.deepEqual(await archives(), before);
    assert.ok((await listKeys(target, bucket())).includes(outageKey.replace(/\.tar\.gz$/, '.json')), 'the Failed record explains the gap');
    assert.deepEqual(await pendingMultipartUploads(target, bucket()), []);

    // The schedule's next run, with MinIO back: Completed, and retention (max 2) prunes the oldest again.
    await applyPolicy({ client: worker.client, taskQueue: worker.taskQueue }, policy);
    await triggerNow({ client: worker.client, taskQueue: worker.taskQueue }, policy.cluster);
    const schedule = worker.client.schedule.getHandle(scheduleIdFor(policy.cluster));
    const workflowId = await eventually('the triggered run to start', async () => (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId, 30_000);
    const next: SnapshotStatusView = await worker.client.workflow.getHandle(workflowId).result();
    assert.equal(next.status, 'Completed', next.error);
    assert.deepEqual(next.retention?.deleted, [before[0].replace(/^snaps\/|\.tar\.gz$/g, '')]);
    assert.deepEqual(await archives(), [before[1], `snaps/${next.snapshotName}.tar.gz`].sort());
  });
});
