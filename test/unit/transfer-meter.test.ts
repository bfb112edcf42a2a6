// Liveness by bytes moved (lib/transfer-meter): reports every few MiB or seconds, a stall aborts with the caller's
// reason, the caller's own abort passes through; the worker settings that size it; and heartbeatWhile, which keeps
// short activities alive and ends them on cancellation.
import { strict as assert } from 'node:assert';
import { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { heartbeatWhile } from '../../activities/liveness';
import { REPORT_EVERY_BYTES, REPORT_EVERY_MS, TransferMeter, currentTransfer } from '../../lib/transfer-meter';
import { loadRuntimeConfig } from '../../lib/runtime-config';

describe('transfer meter', () => {
  let clock = 0;
  const meters: TransferMeter[] = [];
  const meter = (options: Partial<ConstructorParameters<typeof TransferMeter>[0]> = {}) => {
    const created = new TransferMeter({ stallTimeoutMs: 10_000, report: () => undefined, stalled: (idle) => new Error(`stalled for ${idle} ms`), now: () => clock, tickMs: 5, ...options });
    meters.push(created);
    return created;
  };
  const ticks = () => new Promise((resolve) => setTimeout(resolve, 20));
  beforeEach(() => (clock = 0));
  afterEach(() => meters.splice(0).forEach((m) => m.stop()));

  it('reports every few MiB, and every few seconds while bytes move slowly or not at all (short of a stall)', async () => {
    const reports: number[] = [];
    const m = meter({ stallTimeoutMs: 20_000, report: (bytes) => reports.push(bytes) });
    for (let i = 0; i < 9; i++) m.moved(REPORT_EVERY_BYTES / 2);
    assert.deepEqual(reports, [1, 2, 3, 4].map((n) => n * REPORT_EVERY_BYTES), 'one report per 4 MiB');
    m.moved(1000);
    clock += 5_000;
    await ticks();
    assert.equal(reports.at(-1), 4.5 * REPORT_EVERY_BYTES + 1000, 'a slow trickle is reported after 5 s');
    clock += 5_000 - 1;
    await ticks();
    assert.equal(reports.length, 5, 'not again within 5 s');
    clock += 1;
    await ticks();
    assert.equal(reports.length, 6, 'quiet but not stalled: still reported');
    assert.equal(m.signal.aborted, false);
  });

  it('aborts its signal with the stall reason once no byte moved for the stall timeout', async () => {
    const m = meter();
    m.moved(10);
    clock += 9_999;
    await ticks();
    m.moved(10);
    clock += 9_999;
    await ticks();
    assert.equal(m.signal.aborted, false, 'bytes moved within the timeout');
    clock += 1;
    await ticks();
    assert.equal(m.signal.aborted, true);
    assert.match(String((m.signal.reason as Error).message), /stalled for 10000 ms/);
    assert.equal(m.stalled, m.signal.reason);
  });

  it("passes the caller's abort on, without calling it a stall; counts streams; is found by calls inside run()", async () => {
    const caller = new AbortController();
    const m = meter({ signal: caller.signal });
    const counted = m.count(Readable.from([Buffer.alloc(100), Buffer.alloc(50)]));
    for await (const chunk of counted) void chunk;
    assert.equal(m.bytesMoved, 150);
    assert.equal(await m.run(async () => currentTransfer()), m);
    assert.equal(currentTransfer(), undefined);
    caller.abort(new Error('activity cancelled'));
    assert.match(String((m.signal.reason as Error).message), /activity cancelled/);
    assert.equal(m.stalled, undefined);
  });
});

describe('worker settings of dumps and transfers', () => {
  it('reads the dump limit and the stall timeout, naming the variable when wrong', () => {
    assert.equal(loadRuntimeConfig({}).maxConcurrentDumps, 4);
    assert.equal(loadRuntimeConfig({ VCSNAP_MAX_CONCURRENT_DUMPS: '12' }).maxConcurrentDumps, 12);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_MAX_CONCURRENT_DUMPS: 'two' }), /VCSNAP_MAX_CONCURRENT_DUMPS: expected a positive integer, got "two"/);
    assert.equal(loadRuntimeConfig({}).transferStallTimeoutSeconds, 120);
    assert.equal(loadRuntimeConfig({ VCSNAP_TRANSFER_STALL_TIMEOUT: '45s' }).transferStallTimeoutSeconds, 45);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_TRANSFER_STALL_TIMEOUT: '10' }), /VCSNAP_TRANSFER_STALL_TIMEOUT: expected a duration/);
    assert.equal(loadRuntimeConfig({}).volumeReadyTimeoutSeconds, 600);
    assert.equal(loadRuntimeConfig({ VCSNAP_VOLUME_READY_TIMEOUT: '1h30m' }).volumeReadyTimeoutSeconds, 5400);
  });
});

describe('heartbeatWhile (short activities made of several storage calls)', () => {
  it('heartbeats while the work runs, and returns its result', async () => {
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    const beats: unknown[] = [];
    env.on('heartbeat', (details) => beats.push(details));
    const result = await env.run(() => heartbeatWhile(Context.current(), () => new Promise((resolve) => setTimeout(() => resolve('stored'), REPORT_EVERY_MS + 200)), () => 'alive'));
    assert.equal(result, 'stored');
    assert.deepEqual(beats, ['alive']);
  });

  it('ends with the cancellation while a call still hangs, so a worker drain never waits on it', async () => {
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    let abandoned = false;
    const hanging = () => new Promise<never>((_, reject) => setTimeout(() => { abandoned = true; reject(new Error('request timeout')); }, 300));
    const running = env.run(() => heartbeatWhile(Context.current(), hanging));
    setTimeout(() => env.cancel('WORKER_SHUTDOWN'), 20);
    await assert.rejects(running, (err: Error) => err instanceof CancelledFailure);
    assert.equal(abandoned, false, 'ended before the hanging call did');
    await new Promise((resolve) => setTimeout(resolve, 400)); // its late failure is swallowed, not unhandled
    assert.equal(abandoned, true);
  });
});
