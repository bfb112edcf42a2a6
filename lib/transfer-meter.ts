// Liveness measured by bytes moved, not by finished parts: a long transfer (a dump streamed to storage, an archive
// read back) reports progress every few MiB or every few seconds, whichever comes first, so a slow link keeps its
// activity alive; and a transfer that moves no byte for the stall timeout is aborted with a reason that says so,
// instead of hanging until a request or activity timeout. Hand-written: it is a counter, a ticker and an
// AbortController, and it must know nothing about Temporal (the activity passes its heartbeat in as `report`).
//
// Storage clients are created once per worker and shared by concurrent activities, so they cannot hold a meter of
// their own: the activity runs its transfer inside `meter.run()`, and a client's request hook finds the meter of the
// transfer it is serving with `currentTransfer()` (AsyncLocalStorage follows the activity's async calls).
import { AsyncLocalStorage } from 'node:async_hooks';
import { Transform, type Readable } from 'node:stream';

/** Progress is reported after this many bytes at the latest... */
export const REPORT_EVERY_BYTES = 4 * 1024 * 1024;
/** ...or this long after the last report, whichever comes first. */
export const REPORT_EVERY_MS = 5_000;

export interface TransferMeterOptions {
  /** No byte moved for this long: the transfer is stalled and `signal` aborts with `stalled(idleMs)`. */
  stallTimeoutMs: number;
  /** Called with the bytes moved so far, every REPORT_EVERY_BYTES or REPORT_EVERY_MS (a heartbeat). */
  report: (bytesMoved: number) => void;
  /** The error the transfer fails with once stalled (the caller's vocabulary). */
  stalled: (idleMs: number) => Error;
  /** The caller's own abort (activity cancellation), passed on to `signal`. */
  signal?: AbortSignal;
  /** Test hooks. */
  now?: () => number;
  tickMs?: number;
}

const transfers = new AsyncLocalStorage<TransferMeter>();
const cancellations = new AsyncLocalStorage<AbortSignal>();

/** The meter of the transfer this call belongs to, if any (for request hooks of shared clients). */
export function currentTransfer(): TransferMeter | undefined {
  return transfers.getStore();
}

/**
 * Runs `work` (a whole activity) with `signal` (its cancellation) as what gives up the requests of shared clients
 * made outside a transfer: a storage call before or after the bytes move (a head, a record write) then ends with the
 * activity's cancellation instead of waiting out its request timeout and retries.
 */
export function abortableBy<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return cancellations.run(signal, work);
}

/** What aborts a request made now: the transfer's signal (stall or cancellation), else the activity's cancellation. */
export function currentRequestSignal(): AbortSignal | undefined {
  return transfers.getStore()?.signal ?? cancellations.getStore();
}

export class TransferMeter {
  private readonly controller = new AbortController();
  private readonly now: () => number;
  private readonly ticker: NodeJS.Timeout;
  private bytes = 0;
  private reportedBytes = 0;
  private reportedAt: number;
  private movedAt: number;
  private stallError?: Error;

  constructor(private readonly options: TransferMeterOptions) {
    this.now = options.now ?? Date.now;
    this.reportedAt = this.movedAt = this.now();
    const parent = options.signal;
    if (parent?.aborted) this.controller.abort(parent.reason);
    else parent?.addEventListener('abort', () => this.stop(parent.reason), { once: true });
    this.ticker = setInterval(() => this.tick(), options.tickMs ?? 1000);
    this.ticker.unref();
  }

  /** Aborts when the caller aborts or the transfer stalls; pass it to everything the transfer does. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The stall failure, once the transfer stalled. */
  get stalled(): Error | undefined {
    return this.stallError;
  }

  get bytesMoved(): number {
    return this.bytes;
  }

  /** `bytes` more went over the wire (or to disk) in either direction. */
  moved(bytes: number): void {
    if (bytes <= 0 || this.controller.signal.aborted) return;
    this.bytes += bytes;
    this.movedAt = this.now();
    if (this.bytes - this.reportedBytes >= REPORT_EVERY_BYTES) this.reportNow();
  }

  /** Runs `work` as this transfer: shared clients' request hooks find this meter with currentTransfer(). */
  run<T>(work: () => Promise<T>): Promise<T> {
    return transfers.run(this, work);
  }

  /** Passes `stream` through, counting what flows as moved (a download read by its consumer, a file written). */
  count(stream: Readable): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.moved(chunk.length);
        callback(null, chunk);
      },
    });
    stream.on('error', (err) => counter.destroy(err));
    return stream.pipe(counter);
  }

  /** Ends the ticker; `reason` aborts `signal` if given. Idempotent. */
  stop(reason?: unknown): void {
    clearInterval(this.ticker);
    if (reason !== undefined && !this.controller.signal.aborted) this.controller.abort(reason);
  }

  private reportNow(): void {
    this.reportedBytes = this.bytes;
    this.reportedAt = this.now();
    this.options.report(this.bytes);
  }

  private tick(): void {
    const now = this.now();
    const idle = now - this.movedAt;
    if (idle >= this.options.stallTimeoutMs) {
      this.stallError = this.options.stalled(idle);
      this.stop(this.stallError);
      return;
    }
    // Quiet but not stalled (a server finishing a multipart upload, a part between two socket writes): the worker is
    // alive, and says so; the stall timeout, not the heartbeat timeout, decides when quiet means stuck.
    if (now - this.reportedAt >= REPORT_EVERY_MS) this.reportNow();
  }
}
