// Bounded reading through the product, on the real servers: a decompression bomb stored as a snapshot (11 MiB of
// gzip expanding to 10 GiB, in a directory store) is refused by `verify` and by `restore` with the reason, and the
// restore writes nothing. (Peak memory is measured in a child process by test/unit/bounded-reading.test.ts.)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { restoreSnapshot, SnapshotActionError, verifySnapshot } from '../../client/restore';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { manyEntriesBomb, oneHugeEntryBomb } from '../harness/archive-bomb';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

describe('bounded reading: verify and restore refuse a decompression bomb', function () {
  this.timeout(180_000);
  let dir: string;
  let worker: TestWorker;
  let etcd: EtcdServer;
  before(async () => {
    dir = join(testEnv().runDir, 'file-store', uniqueName('bombs'));
    mkdirSync(dir, { recursive: true });
    await manyEntriesBomb(join(dir, 'bomb-2026-11-23T12-00-00Z.tar.gz'));
    await oneHugeEntryBomb(join(dir, 'huge-2026-11-23T12-00-00Z.tar.gz'));
    worker = await startTestWorker();
    etcd = await startEtcd({ dir: join(testEnv().runDir, uniqueName('bomb-etcd')), name: 'bomb-etcd' });
  });
  after(async () => {
    await worker?.stop();
    await etcd?.stop();
  });
  const target = () => ({ client: worker.client, taskQueue: worker.taskQueue });
  const ref = (name: string) => `container://${dir}/${name}-2026-11-23T12-00-00Z.tar.gz`;

  it('verify reports the expansion limit and the entry limit', async () => {
    const started = Date.now();
    const bomb = await verifySnapshot(target(), ref('bomb'));
    assert.equal(bomb.ok, false);
    assert.equal(bomb.problem?.kind, 'limit');
    assert.match(bomb.problem!.message, /beyond the 200-fold limit: a decompression bomb/);
    const huge = await verifySnapshot(target(), ref('huge'));
    assert.equal(huge.problem?.kind, 'limit');
    assert.match(huge.problem!.message, /claims 10737418240 bytes, beyond the 67108864-byte limit for one entry/);
    console.log(`      verify: both refused in ${Date.now() - started} ms: ${bomb.problem!.message}`);
  });

  it('restore refuses it and writes nothing', async () => {
    await assert.rejects(restoreSnapshot(target(), ref('bomb'), { endpoints: [etcd.endpoint] }), (err: unknown) => {
      assert.ok(err instanceof SnapshotActionError, String(err));
      assert.equal(err.type, 'SnapshotCorrupt');
      assert.match(err.message, /decompression bomb/);
      console.log(`      restore: ${err.message}`);
      return true;
    });
    const client = new Etcd3({ hosts: etcd.endpoint });
    const count = await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
    client.close();
    assert.equal(Number(count.count), 0, 'nothing written');
  });
});
