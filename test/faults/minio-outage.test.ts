// Fault 3: MinIO (an own instance) stops in the middle of an upload. Retries are sized by the schedule: the run
// retries with backoff capped at a minute until shortly before its run timeout (derived from the cron). An outage
// shorter than that window ends Completed once MinIO is back, with one archive and no multipart upload left; one
// longer than the window ends Failed with a reason before the next fire, retention does not run (the older snapshots
// stay), and the schedule's next run succeeds.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { applyPolicy, removePolicy, runTimeoutFor, triggerNow } from '../../lib/schedules';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { startMinio, type MinioServer } from '../../scripts/servers/minio';
import { freePort } from '../../scripts/servers/process';
import { statusQuery, type S3Location, type SnapshotPolicy, type SnapshotStatusView } from '../../contracts/definitions';
import { scheduleIdFor } from '../../contracts/naming';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { describeWhilePolling, startTestWorker, type TestWorker } from '../harness/temporal';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { createBucket, credentialSecret, fillEtcd, listKeys, pendingMultipartUploads, s3Client, type S3Target } from './support/fixtures';
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
    // An activity of the failed run may still be retrying against the MinIO that was stopped (its calls do not all
    // follow cancellation): the worker gets 30 s to drain, then the servers go and mocha's exit ends it.
    const drained = await Promise.race([worker?.stop().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000).unref())]);
    const inFlight = () => `workflow worker ${worker.worker.getStatus().numInFlightActivities}, dump worker ${worker.dumpWorker.getStatus().numInFlightActivities}`;
    if (!drained) console.log(`      the test worker did not drain within 30 s (activities in flight: ${inFlight()}); moving on`);
    await proxy?.close();
    await minio?.stop();
    await etcd?.stop();
  });

  const bucket = () => (policy.storage as S3Location).bucket;
  const archives = async () => (await listKeys(target, bucket())).filter((key) => key.endsWith('.tar.gz'));
  const run = (nominalTime: Date, workflowRunTimeout?: number) =>
    worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('outage'), workflowRunTimeout, args: [{ policy, nominalTime: nominalTime.toISOString() }] });
  const removeAll = async () => {
    const s3 = s3Client(target);
    for (const key of await listKeys(target, bucket())) await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: key }));
    s3.destroy();
  };
  const keyOf = (nominalTime: Date) => `snaps/${policy.cluster.name}-${nominalTime.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.tar.gz`;

  it('a 3-minute outage against a 10-minute schedule: the run retries through it and ends Completed, one archive, no upload left', async () => {
    const nominal = new Date(Date.now() - 5 * HOUR);
    const runTimeout = runTimeoutFor('*/10 * * * *')!;
    assert.equal(runTimeout, 9 * 60_000, 'runs of a 10-minute schedule end within 9 minutes');
    proxy.setRate(4 * 2 ** 20);
    const started = Date.now();
    const outage = await run(nominal, runTimeout);
    await eventually('a multipart part to be stored', async () => (await pendingMultipartUploads(target, bucket())).some((u) => u.key === keyOf(nominal) && u.parts > 0), 30_000, 100);
    await minio!.stop();
    minio = undefined;
    proxy.setRate(undefined);
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 180_000));
    await startOwnMinio();
    const downFor = Date.now() - downAt;

    const view = await outage.result();
    assert.equal(view.status, 'Completed', view.error);
    const dump = (await activityOutcomes(outage)).find((a) => a.activityType === 'dumpAndStore');
    assert.equal(dump?.outcome, 'completed');
    console.log(`      MinIO down ${Math.round(downFor / 1000)} s: Completed after ${dump?.attempt} attempts, ${Math.round((Date.now() - started) / 1000)} s after the start`);
    assert.ok(dump!.attempt > 5, 'more attempts than the old fixed budget of five');
    assert.deepEqual(await archives(), [keyOf(nominal)]);
    assert.deepEqual(await pendingMultipartUploads(target, bucket()), []);
    // Start afresh for the next case.
    await removeAll();
  });

  it('an outage longer than the window: Failed with a reason before the run timeout, nothing pruned; the next run succeeds', async () => {
    const now = Date.now();
    for (const hoursAgo of [3, 2]) assert.equal((await (await run(new Date(now - hoursAgo * HOUR))).result()).status, 'Completed');
    const before = await archives();
    assert.equal(before.length, 2);

    proxy.setRate(4 * 2 ** 20);
    // A 3-minute run (a schedule firing every 3m20s): about 2m20s of retry window.
    const runTimeout = 3 * 60_000;
    const startedAt = Date.now();
    const outage = await run(new Date(now - HOUR), runTimeout);
    const outageKey = keyOf(new Date(now - HOUR));
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
      runTimeout,
      250,
    );
    await startOwnMinio(); // back before the Failed record's retries run out

    await assert.rejects(outage.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const view: SnapshotStatusView = await outage.query(statusQuery);
    assert.equal(view.status, 'Failed');
    // Temporal stops retrying once the next backoff would pass the window: the last attempt's failure closes it.
    assert.ok(['failed', 'timedOut'].includes(dump.outcome), `the retry window closed (${dump.outcome})`);
    const endedAfter = Date.now() - startedAt;
    assert.ok(endedAfter < runTimeout, `ended Failed (${Math.round(endedAfter / 1000)} s) before the run timeout`);
    // workflows/snapshot.ts: 5 s initial interval, coefficient 2, capped at a minute.
    // Each backoff seen is the policy's for its attempt (a busy machine's polling may miss a short one, not more).
    const observed = [...backoffs.entries()].sort(([a], [b]) => a - b);
    const seconds = observed.map(([, ms]) => Math.round(ms / 1000));
    assert.ok(observed.length >= 3, `backoffs seen before at least three retries: ${seconds.join(', ')}`);
    for (const [attempt, ms] of observed) assert.equal(Math.round(ms / 1000), Math.min(60, 5 * 2 ** (attempt - 2)), `backoff before attempt ${attempt}`);
    assert.ok(seconds.every((s) => s <= 60), `backoff capped at a minute: ${seconds.join(', ')}`);
    // Retries fail at their first request: the check whether the name is already taken (HEAD).
    assert.match(view.error ?? '', new RegExp(`S3 (head|upload) of s3://${bucket()}/${outageKey} failed: endpoint http://\\S+ unreachable`), `the reason names what failed: ${view.error}`);
    console.log(`      Failed after ${dump.attempt} attempts in ${Math.round(endedAfter / 1000)} s of a ${runTimeout / 1000} s run (backoff ${seconds.join('s, ')}s): ${view.error}`);

    // Nothing pruned; the failure is recorded; no multipart upload left once the Failed record is written.
    assert.deepEqual(await archives(), before);
    assert.ok((await listKeys(target, bucket())).includes(outageKey.replace(/\.tar\.gz$/, '.json')), 'the Failed record explains the gap');
    assert.deepEqual(await pendingMultipartUploads(target, bucket()), []);

    // The schedule's next run, with MinIO back: Completed, and retention (max 2) prunes the oldest again.
    await applyPolicy({ client: worker.client, taskQueue: worker.taskQueue }, policy);
    await triggerNow({ client: worker.client, taskQueue: worker.taskQueue }, policy.cluster);
    const schedule = worker.client.schedule.getHandle(scheduleIdFor(policy.cluster));
    const workflowId = await eventually('the triggered run to start', async () => (await describeWhilePolling(schedule))?.info.recentActions[0]?.action.workflow.workflowId, 30_000);
    const next: SnapshotStatusView = await worker.client.workflow.getHandle(workflowId).result();
    assert.equal(next.status, 'Completed', next.error);
    assert.deepEqual(next.retention?.deleted, [before[0].replace(/^snaps\/|\.tar\.gz$/g, '')]);
    assert.deepEqual(await archives(), [before[1], `snaps/${next.snapshotName}.tar.gz`].sort());
  });
});
