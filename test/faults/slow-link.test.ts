// Fault: a slow and a dead link to S3. Liveness is measured in bytes moved (lib/transfer-meter): through a proxy
// throttled to 200 KB/s the first 8 MiB part of the archive takes about 40 s, longer than the dump's 30 s heartbeat
// timeout, so heartbeats on finished parts alone would time the attempt out; heartbeats on bytes keep it alive and the
// dump completes on its first attempt, under the default stall timeout (the socket buffers take megabytes at once, so
// quiet spells of tens of seconds are normal on a slow link). A proxy that passes no byte at all (open and new connections held) fails the
// attempt after the worker's stall timeout with a reason that says it stalled; the retry completes once the link is
// back, leaving one archive and no multipart upload.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import type { S3Location, SnapshotPolicy } from '../../contracts/definitions';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { createBucket, credentialSecret, fillEtcd, listKeys, pendingMultipartUploads, type S3Target } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

const RATE = 200_000;
const STALL_SECONDS = 10;
const HEARTBEAT_TIMEOUT_SECONDS = 30; // workflows/snapshot.ts

describe('fault: a slow and a stalled link to S3', function () {
  this.timeout(240_000);
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let worker: TestWorker;
  let stallingWorker: TestWorker;
  let target: S3Target;
  let policy: SnapshotPolicy;

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'slow-link'), name: 'slow-link-etcd' });
    await fillEtcd(etcd.endpoint, 800, 12 * 1024); // 9.8 MB: an 8 MiB part and a small one
    target = testEnv().minio;
    proxy = await startTcpProxy({ upstream: new URL(target.endpoint).host });
    worker = await startTestWorker();
    stallingWorker = await startTestWorker({ transferStallTimeoutSeconds: STALL_SECONDS });
    const storage: S3Location = {
      type: 's3', bucket: await createBucket(target), prefix: 'snaps', endpoint: `http://${proxy.host}`, region: 'us-east-1', forcePathStyle: true,
      insecureSkipTlsVerify: false, skipClientCredentials: false,
      credential: await credentialSecret({ AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey }),
    };
    policy = basePolicy(storage, { state: { endpoints: [etcd.endpoint], origin: 'explicit' } });
  });
  after(async () => {
    await worker?.stop();
    await stallingWorker?.stop();
    await proxy?.close();
    await etcd?.stop();
  });

  const bucket = () => (policy.storage as S3Location).bucket;
  const run = (hoursAgo: number, on = worker) =>
    on.client.workflow.start(snapshotWorkflow, {
      taskQueue: on.taskQueue,
      workflowId: uniqueName('slow-link'),
      args: [{ policy, nominalTime: new Date(Date.now() - hoursAgo * 3_600_000).toISOString() }],
    });

  it('200 KB/s: heartbeats on bytes keep the dump alive through parts slower than the heartbeat timeout; one attempt', async () => {
    proxy.setRate(RATE);
    const handle = await run(2);
    // The server's record of each heartbeat while the dump runs.
    const beats = new Set<number>();
    const sampler = setInterval(() => {
      void pendingActivities(handle)
        .then((pending) => pending.find((a) => a.activityType === 'dumpAndStore')?.lastHeartbeatMs)
        .then((at) => at && beats.add(at), () => undefined);
    }, 1000);
    let view;
    try {
      view = await handle.result();
    } finally {
      clearInterval(sampler);
      proxy.setRate(undefined);
    }
    assert.equal(view.status, 'Completed', view.error);
    const dump = (await activityOutcomes(handle)).find((a) => a.activityType === 'dumpAndStore')!;
    assert.equal(dump.outcome, 'completed');
    assert.equal(dump.attempt, 1, 'the slow link was never taken for a dead worker');
    const seconds = (dump.closedMs - dump.scheduledMs) / 1000;
    const firstPartSeconds = (8 * 2 ** 20) / RATE;
    assert.ok(firstPartSeconds > HEARTBEAT_TIMEOUT_SECONDS && seconds > firstPartSeconds, `the upload took ${seconds.toFixed(0)} s, its first part alone ${firstPartSeconds.toFixed(0)} s`);
    const times = [...beats].sort((a, b) => a - b);
    const gaps = times.slice(1).map((at, i) => (at - times[i]!) / 1000);
    assert.ok(times.length >= 2, `heartbeats recorded during the upload: ${times.length}`);
    assert.ok(Math.max(...gaps) < HEARTBEAT_TIMEOUT_SECONDS, `longest gap between heartbeats ${Math.max(...gaps).toFixed(1)} s`);
    console.log(
      `      ${(view.bytesWritten / 2 ** 20).toFixed(1)} MiB at ${RATE / 1000} KB/s: Completed on attempt 1 in ${seconds.toFixed(0)} s; ${times.length} heartbeats recorded, longest gap ${Math.max(...gaps).toFixed(1)} s (timeout ${HEARTBEAT_TIMEOUT_SECONDS} s)`,
    );
  });

  it('no byte passes: the attempt fails as stalled after the stall timeout; the retry completes once the link is back', async () => {
    proxy.setRate(RATE); // slow, so the link dies in the middle of the upload
    const before = proxy.forwardedBytes;
    const handle = await run(1, stallingWorker);
    await eventually('the upload to be under way', () => proxy.forwardedBytes - before > 2 ** 20, 60_000, 100);
    proxy.holdOpenConnections(0, { andNew: true });
    const heldAt = Date.now();
    const failed = await eventually(
      'the first attempt to fail',
      async () => (await pendingActivities(handle)).find((a) => a.activityType === 'dumpAndStore' && a.lastFailure),
      90_000,
      250,
    );
    const failedAfter = (Date.now() - heldAt) / 1000;
    proxy.releaseHeld();
    proxy.setRate(undefined);
    assert.match(failed.lastFailure!, /the transfer from etcd to s3:\/\/\S+ stalled: no byte moved for \d+s \(VCSNAP_TRANSFER_STALL_TIMEOUT is 10s\)/);
    // The stall timeout, plus what the socket buffers still took after the link died, plus the server's bookkeeping.
    assert.ok(failedAfter < STALL_SECONDS + 15, `the attempt failed ${failedAfter.toFixed(1)} s after the link died`);
    const view = await handle.result();
    assert.equal(view.status, 'Completed', view.error);
    const dump = (await activityOutcomes(handle)).find((a) => a.activityType === 'dumpAndStore')!;
    assert.equal(dump.attempt, 2);
    const archives = (await listKeys(target, bucket())).filter((key) => key.endsWith('.tar.gz'));
    assert.equal(archives.length, 2, archives.join(', '));
    assert.deepEqual(await pendingMultipartUploads(target, bucket()), []);
    console.log(`      link dead: attempt 1 failed ${failedAfter.toFixed(1)} s later (stall timeout ${STALL_SECONDS} s): "${failed.lastFailure}"; attempt 2 Completed`);
  });
});
