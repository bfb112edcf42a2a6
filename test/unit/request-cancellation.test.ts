// A storage request made outside a transfer (a head before the upload, a record write) follows the activity's
// cancellation (lib/transfer-meter `abortableBy`, hooked into the S3 client): against an endpoint that accepts the
// connection and never answers, the call ends as soon as the activity is cancelled, not at its request timeout.
import { strict as assert } from 'node:assert';
import { createStore } from '../../lib/storage';
import { abortableBy } from '../../lib/transfer-meter';
import { withSilentServer } from '../harness/silent-server';

describe('storage requests follow the activity cancellation', () => {
  it('an S3 head to a silent endpoint ends when the activity is cancelled, and only then', () =>
    withSilentServer(async (endpoint, sockets) => {
      const store = createStore(
        { type: 's3', bucket: 'b', prefix: 'p', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false },
        { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
        { requestIdleTimeoutMs: 60_000 },
      );
      const cancellation = new AbortController();
      const started = Date.now();
      const head = abortableBy(cancellation.signal, () => store.headArchive('snap'));
      const settled = await Promise.race([head.then(() => 'settled', () => 'settled'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 300))]);
      assert.equal(settled, 'waiting', 'the silent endpoint holds the request');
      assert.equal(sockets.length, 1, 'the request reached the endpoint');
      cancellation.abort(new Error('activity cancelled'));
      await assert.rejects(head, /activity cancelled/);
      assert.ok(Date.now() - started < 5_000, 'ended at the cancellation, not the 60 s request timeout');
    }));
});
