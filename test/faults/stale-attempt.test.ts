// Fault: a stale attempt races a newer one for the archive. The first attempt's worker is frozen (SIGSTOP) in the
// middle of its S3 upload, past the dump's heartbeat timeout; a second worker's attempt dumps again (etcd has changed
// meanwhile, so its bytes differ); then the frozen worker is released and its upload goes on. Without conditional
// writes the stale PutObject landed over the newer archive after its record was written. Now whichever upload lands
// first stays (MinIO serialises conditional PUTs on the object's lock, so here the stale one, started first), the
// other is refused, and the record names the stored bytes.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Etcd3 } from 'etcd3';
import type { SnapshotRecord } from '../../contracts/definitions';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { createBucket, credentialSecret, fillEtcd, getObject, listKeys, pendingMultipartUploads } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { spawnWorkerProcess, type WorkerProcess } from './support/workers';

// 3.6 MB of incompressible values: one PutObject (below the 5 MiB part size), the case where a stale request that
// is already on the wire used to land over the newer archive.
const KEYS = 300;
const VALUE_BYTES = 12 * 1024;
const KiB = 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('fault: a stale attempt released after a newer one stored the archive', function () {
  this.timeout(240_000);
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let connection: Connection;
  let client: Client;
  const workers: WorkerProcess[] = [];

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'stale-attempt'), name: 'stale-etcd' });
    await fillEtcd(etcd.endpoint, KEYS, VALUE_BYTES);
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    for (const worker of workers) worker.resume();
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    await proxy?.close();
    await connection?.close();
    await etcd?.stop();
  });

  it('the archive stored is the one whose sha256 the record names, and only one upload lands', async () => {
    const minio = testEnv().minio;
    const bucket = await createBucket(minio);
    // 256 KiB/s: the first attempt's upload takes about 14 s, long enough to freeze it midway.
    proxy = await startTcpProxy({ upstream: new URL(minio.endpoint).host, bytesPerSecond: 256 * KiB });
    const credential = await credentialSecret({ AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey });
    const policy = basePolicy(
      { type: 's3', bucket, prefix: 'snaps', endpoint: `http://${proxy.host}`, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
      { state: { endpoints: [etcd.endpoint], origin: 'explicit' } },
    );
    const taskQueue = uniqueName('stale');
    // One activity slot: busy with the first attempt, the frozen worker does not poll for (and so cannot swallow) the next.
    workers.push(await spawnWorkerProcess({ name: 'stale-worker-1', taskQueue, logLevel: 'INFO', maxActivities: 1 }));
    const run = await client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('stale'), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
    const name = `${policy.cluster.name}-2026-11-23T12-00-00Z`;

    const sentBeforeFreeze = await eventually(
      'the first attempt to be uploading (1 MiB through the proxy)',
      async () => proxy.forwardedBytes > 1024 * KiB && (await pendingActivities(run)).some((a) => a.activityType === 'dumpAndStore') && proxy.forwardedBytes,
      60_000,
      50,
    );
    // Its request trickles on at 2 KiB/s (the rest of the body waits in the socket buffers; MinIO, which drops a
    // request idle for 30 s, keeps it), and the worker stands still.
    proxy.holdOpenConnections(2 * KiB);
    workers[0].pause();
    const frozenAt = Date.now();
    const etcdClient = new Etcd3({ hosts: etcd.endpoint });
    await etcdClient.put('/registry/faults/written-while-frozen').value('the second attempt dumps this key too');
    etcdClient.close();
    proxy.setRate(undefined);

    workers.push(await spawnWorkerProcess({ name: 'stale-worker-2', taskQueue, logLevel: 'INFO' }));
    // Started, not only scheduled: while attempt 2 waits out its retry backoff, a released worker 1 whose stale upload
    // ended would poll again and could take it itself.
    const second = await eventually(
      'the second attempt to start on the second worker',
      async () => (await pendingActivities(run)).find((a) => a.activityType === 'dumpAndStore' && a.attempt === 2 && !a.scheduled),
      90_000,
      250,
    );
    assert.match(second.workerIdentity ?? '', new RegExp(`^${workers[1].pid}@`), 'attempt 2 runs on the second worker');
    await new Promise((resolve) => setTimeout(resolve, 3000));

    let answer = '';
    workers[0].resume();
    proxy.releaseHeld((chunk, direction) => {
      if (direction === 'toClient') answer += chunk.toString('latin1');
    });
    console.log(`      first attempt frozen mid-upload (${Math.round(sentBeforeFreeze / KiB)} KiB through) for ${Math.round((Date.now() - frozenAt) / 1000)} s, released while attempt 2 runs`);
    const view = await run.result();
    assert.equal(view.status, 'Completed', view.error);
    const dump = (await activityOutcomes(run)).find((a) => a.activityType === 'dumpAndStore');
    assert.deepEqual([dump?.outcome, dump?.attempt], ['completed', 2]);
    await eventually('MinIO to answer the stale request', async () => /HTTP\/1\.1 \d{3}/.test(answer), 60_000, 100);
    const status = /HTTP\/1\.1 (\d{3})[^\r]*/.exec(answer)![0];
    // The second worker's log is a child process's output: on a busy machine its last lines land a moment later.
    const recognisedInLog = () => readFileSync(workers[1].logFile, 'utf8').includes('snapshot already stored by an earlier attempt of this run');
    const recognised = / 200 /.test(status) ? await eventually('attempt 2 to log what it found', () => recognisedInLog(), 15_000, 250).catch(() => false) : recognisedInLog();
    console.log(`      the stale PutObject was answered ${status} ${/<Code>(\w+)</.exec(answer)?.[1] ?? ''}; attempt 2 ${recognised ? 'recognised the archive it left and recorded its bytes' : 'stored its own archive'}`);

    const record = JSON.parse((await getObject(minio, bucket, `snaps/${name}.json`)).toString('utf8')) as SnapshotRecord;
    const stored = await getObject(minio, bucket, `snaps/${name}.tar.gz`);
    assert.equal(sha256(stored), record.sha256, 'the record names the stored bytes');
    // MinIO holds a conditional PUT's object lock from its first byte: the stale request, started first, wins and
    // the newer attempt's PUT is refused (412), recognises the same run's archive and records it as stored.
    if (/ 200 /.test(status)) {
      assert.ok(recognised, 'the stale archive stands, and the newer attempt recorded it');
      assert.equal(record.keys, KEYS, 'the record is the stale attempt’s archive (dumped before the extra key)');
    } else {
      assert.equal(record.keys, KEYS + 1, 'the record is the newer attempt’s archive');
    }
    assert.equal(view.keysWritten, record.keys);
    assert.deepEqual(await listKeys(minio, bucket), [`snaps/${name}.json`, `snaps/${name}.tar.gz`]);
    assert.deepEqual(await pendingMultipartUploads(minio, bucket), []);
  });
});
