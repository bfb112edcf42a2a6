// Fault 2: the Temporal server restarts in the middle of a run. An own dev server (SQLite file, fixed port, not the
// harness's) is stopped while the dump activity is running and started again on the same file and port; the worker
// (a separate process) and the client reconnect by themselves, and the run completes.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { freePort } from '../../scripts/servers/process';
import { startTemporal, type TemporalServer } from '../../scripts/servers/temporal';
import type { SnapshotRecord } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { fillEtcd } from './support/fixtures';
import { activityOutcomes, eventually, pendingActivities } from './support/history';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { spawnWorkerProcess, type WorkerProcess } from './support/workers';

const KEYS = 4000;

describe('fault: Temporal server restart during a run', function () {
  this.timeout(120_000);
  let dir: string;
  let port: number;
  let temporal: TemporalServer | undefined;
  let etcd: EtcdServer;
  let slowEtcd: TcpProxy;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;

  const startServer = () => startTemporal({ dir, dbFile: join(dir, 'temporal.db'), port });

  before(async () => {
    dir = join(testEnv().runDir, 'faults', 'temporal-restart');
    port = await freePort();
    temporal = await startServer();
    etcd = await startEtcd({ dir, name: 'restart-etcd' });
    // About 8 MB at 1 MB/s in four pages of 1,000 keys: the dump heartbeats after each page, every two seconds or so,
    // and runs long enough to restart the server under it. (One page would heartbeat only just before completing.)
    await fillEtcd(etcd.endpoint, KEYS, 2 * 1024);
    slowEtcd = await startTcpProxy({ upstream: new URL(etcd.endpoint).host, bytesPerSecond: 2 ** 20 });
  });
  after(async () => {
    await worker?.stop();
    await connection?.close();
    await temporal?.stop();
    await slowEtcd?.close();
    await etcd?.stop();
  });

  it('the run started before the restart completes after it, its archive and record intact', async () => {
    const address = `127.0.0.1:${port}`;
    const taskQueue = uniqueName('restart');
    worker = await spawnWorkerProcess({ name: 'temporal-restart-worker', taskQueue, temporalAddress: address });
    connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const policy = filePolicy({ state: { endpoints: [`http://${slowEtcd.host}`], origin: 'explicit' } });
    const handle = await client.workflow.start(snapshotWorkflow, { taskQueue, workflowId: uniqueName('restart'), args: [{ policy }] });
    await eventually('the dump to heartbeat', async () => (await pendingActivities(handle)).some((a) => a.activityType === 'dumpAndStore' && a.heartbeat !== undefined), 90_000);

    const downAt = Date.now();
    await temporal!.stop();
    temporal = undefined;
    temporal = await startServer();
    const downMs = Date.now() - downAt;
    const view = await handle.result();

    assert.equal(view.status, 'Completed', view.error);
    const dir = (policy.storage as { path: string }).path;
    // The archive, its record, and the hidden file naming the archive's owner (the directory store's no-overwrite).
    assert.deepEqual(readdirSync(dir).sort(), [`.${view.snapshotName}.tar.gz.owner`, `${view.snapshotName}.json`, `${view.snapshotName}.tar.gz`]);
    const record = JSON.parse(readFileSync(join(dir, `${view.snapshotName}.json`), 'utf8')) as SnapshotRecord;
    assert.equal(record.sha256, createHash('sha256').update(readFileSync(join(dir, `${view.snapshotName}.tar.gz`))).digest('hex'));
    assert.equal(record.keys, KEYS);
    const dump = (await activityOutcomes(handle)).find((a) => a.activityType === 'dumpAndStore');
    assert.equal(dump?.outcome, 'completed');
    // The server's clock and this process's are the same machine's: the dump was still running across the restart.
    assert.ok(dump!.closedMs > downAt + downMs, `dumpAndStore closed at ${dump!.closedMs}, before the server came back at ${downAt + downMs}`);
    console.log(`      server down for ${downMs} ms; dumpAndStore completed in attempt ${dump?.attempt}`);
  });
});
