// The per-worker bound on concurrent dumps: FIFO hand-over, heartbeats while waiting, cancellation in the queue.
import { strict as assert } from 'node:assert';
import { DumpSlots } from '../../lib/dump-slots';
import { loadRuntimeConfig } from '../../lib/runtime-config';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('dump slots', () => {
  it('runs at most `limit` dumps and hands each freed slot to the oldest waiter', async () => {
    const seen: Array<[number, number]> = [];
    const slots = new DumpSlots(2, { changed: (running, waiting) => seen.push([running, waiting]) });
    const never = new AbortController().signal;
    const order: string[] = [];
    const releases = new Map<string, () => void>();
    const take = (name: string) =>
      slots.acquire(never, { whileWaiting: () => undefined }).then((release) => {
        order.push(name);
        releases.set(name, release);
      });
    const all = ['a', 'b', 'c', 'd'].map(take);
    await tick();
    assert.deepEqual(order, ['a', 'b']);
    assert.deepEqual(seen.at(-1), [2, 2]);
    releases.get('b')!();
    releases.get('b')!(); // a second release of the same slot changes nothing
    await tick();
    assert.deepEqual(order, ['a', 'b', 'c']);
    releases.get('a')!();
    await Promise.all(all);
    assert.deepEqual(order, ['a', 'b', 'c', 'd']);
    assert.deepEqual(seen.at(-1), [2, 0]);
    releases.get('c')!();
    releases.get('d')!();
    assert.deepEqual(seen.at(-1), [0, 0]);
    assert.ok(seen.every(([running]) => running <= 2), JSON.stringify(seen));
  });

  it('heartbeats while waiting, and a cancelled waiter leaves the queue without taking a slot', async () => {
    const slots = new DumpSlots(1);
    const first = await slots.acquire(new AbortController().signal, { whileWaiting: () => undefined });
    const cancelled = new AbortController();
    let beats = 0;
    let queued = 0;
    const waiting = slots.acquire(cancelled.signal, { onQueued: () => queued++, whileWaiting: () => beats++, intervalMs: 5 });
    const next = slots.acquire(new AbortController().signal, { whileWaiting: () => undefined });
    assert.equal(queued, 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(beats >= 2, `heartbeats while waiting: ${beats}`);
    cancelled.abort(new Error('activity cancelled'));
    await assert.rejects(waiting, /activity cancelled/);
    const counted = beats;
    first();
    const release = await next; // the slot went past the cancelled waiter
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(beats, counted, 'no heartbeats after leaving the queue');
    release();
    await assert.rejects(slots.acquire(cancelled.signal, { whileWaiting: () => undefined }), /activity cancelled/);
  });

  it('refuses a limit that is not a positive integer; the worker settings name their variable', () => {
    assert.throws(() => new DumpSlots(0), /positive integer, got 0/);
    assert.equal(loadRuntimeConfig({}).maxConcurrentDumps, 4);
    assert.equal(loadRuntimeConfig({ VCSNAP_MAX_CONCURRENT_DUMPS: '12' }).maxConcurrentDumps, 12);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_MAX_CONCURRENT_DUMPS: 'two' }), /VCSNAP_MAX_CONCURRENT_DUMPS: expected a positive integer, got "two"/);
    assert.equal(loadRuntimeConfig({}).volumeReadyTimeoutSeconds, 600);
    assert.equal(loadRuntimeConfig({ VCSNAP_VOLUME_READY_TIMEOUT: '1h30m' }).volumeReadyTimeoutSeconds, 5400);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_VOLUME_READY_TIMEOUT: '10' }), /VCSNAP_VOLUME_READY_TIMEOUT: expected a duration of at least 1s such as "10m" or "1h", got "10"/);
  });
});
