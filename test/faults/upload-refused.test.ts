// Fault: the store refuses the write after the checks passed (here a directory whose owner file cannot be put in
// place; in production a credential that may read but not write, an endpoint gone between the checks and the upload).
// The upload fails before it has read the archive, so nobody reads the dump's output: the dump used to wait on that
// backpressure forever, deaf to cancellation, holding its dump slot (a worker then had no slot left after a few such
// attempts, and could not drain). Now the upload's failure fails the archive, and the attempt ends with its reason.
import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { fillEtcd } from './support/fixtures';

// 36 MB of incompressible values: far more than the archive writer and the streams between it and the store buffer.
const KEYS = 3000;
const VALUE_BYTES = 12 * 1024;

describe('fault: the store refuses the write after the dump has started', function () {
  this.timeout(120_000);
  let etcd: EtcdServer;

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'upload-refused'), name: 'refused-etcd' });
    await fillEtcd(etcd.endpoint, KEYS, VALUE_BYTES);
  });
  after(async () => etcd?.stop());

  it('the attempt fails with the store’s reason instead of hanging on the unread archive', async () => {
    const dir = join(testEnv().runDir, 'faults', uniqueName('refused-dir'));
    mkdirSync(dir, { recursive: true });
    const policy = basePolicy({ type: 'container', path: dir }, { state: { endpoints: [etcd.endpoint], origin: 'explicit' } });
    const snapshotName = `${policy.cluster.name}-2026-11-28T12-00-00Z`;
    // A non-empty directory where the archive's owner file goes: the rename into place fails, nothing is read.
    mkdirSync(join(dir, `.${snapshotName}.tar.gz.owner`, 'in-the-way'), { recursive: true });
    writeFileSync(join(dir, `.${snapshotName}.tar.gz.owner`, 'in-the-way', 'file'), 'x');

    const { dumpAndStore } = createActivities();
    const env = new MockActivityEnvironment({ activityType: 'dumpAndStore' }, { logger: new DefaultLogger('ERROR') });
    const started = Date.now();
    const args: Parameters<typeof dumpAndStore> = [{ policy, snapshotName, nominalTime: '2026-11-28T12:00:00Z' }];
    await assert.rejects(env.run<typeof args, unknown, typeof dumpAndStore>(dumpAndStore, ...args), (err: Error) => {
      assert.match(err.message, /EISDIR|ENOTEMPTY|directory/i, err.message);
      return true;
    });
    console.log(`      the write refused: the attempt failed ${((Date.now() - started) / 1000).toFixed(1)} s after it started (the dump stopped; it used to wait forever)`);
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tar.gz')), [], 'no archive');
  });
});
