// Record signatures (lib/record-signature): what the worker signed verifies; any change, another key, or no
// signature does not.
import { strict as assert } from 'node:assert';
import type { SnapshotRecord } from '../../contracts/definitions';
import { signRecord, verifyRecord } from '../../lib/record-signature';

const key = Buffer.from('k'.repeat(32));
const record: SnapshotRecord = {
  formatVersion: 1,
  cluster: { name: 'demo', namespace: 'team-a' },
  snapshotName: 'demo-2026-11-23T12-00-00Z',
  archiveUrl: 's3://b/demo-2026-11-23T12-00-00Z.tar.gz',
  status: 'Completed',
  startedAt: '2026-11-23T12:00:01Z',
  finishedAt: '2026-11-23T12:00:09Z',
  nominalTime: '2026-11-23T12:00:00Z',
  bytes: 10,
  keys: 2,
  volumes: [{ pvc: 'data', phase: 'Completed', driver: 'pd.csi.storage.gke.io', snapshotHandle: 'projects/p/global/snapshots/s1' }],
};

describe('record signatures (lib/record-signature)', () => {
  it('verifies what was signed, whatever the key order of the stored JSON', () => {
    const signed = signRecord(record, key);
    assert.equal(verifyRecord(signed, key), true);
    const { signature, volumes, ...rest } = signed;
    const reordered = JSON.parse(JSON.stringify({ signature, volumes, ...rest })) as SnapshotRecord;
    assert.equal(verifyRecord(reordered, key), true);
  });

  it('rejects a changed handle or driver, another key, and an unsigned or garbled record', () => {
    const signed = signRecord(record, key);
    const forged = { ...signed, volumes: [{ ...signed.volumes[0], snapshotHandle: 'projects/victim/global/snapshots/precious' }] };
    assert.equal(verifyRecord(forged, key), false);
    assert.equal(verifyRecord({ ...signed, volumes: [{ ...signed.volumes[0], driver: 'other.csi' }] }, key), false);
    assert.equal(verifyRecord(signed, Buffer.from('x'.repeat(32))), false);
    assert.equal(verifyRecord(record, key), false);
    assert.equal(verifyRecord({ ...signed, signature: 'not base64 at all!' }, key), false);
  });
});
