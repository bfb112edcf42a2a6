// How many dumps one worker runs at once. A dump holds tens of MiB of buffers and keeps about two cores busy
// (parallel gzip), so hundreds of clusters firing at the same minute must queue instead of starving each other and
// missing their heartbeats. A waiting dump holds its activity slot, heartbeats, and can be cancelled.

export interface DumpSlotEvents {
  /** Called whenever the number of running or waiting dumps changes. */
  changed?(running: number, waiting: number): void;
}

export class DumpSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly events: DumpSlotEvents = {},
  ) {
    if (!(Number.isInteger(limit) && limit > 0)) throw new Error(`concurrent dumps: expected a positive integer, got ${limit}`);
  }

  /**
   * Resolves with the slot's release once this dump may run, oldest waiter first. A dump that has to wait is told
   * so once (`onQueued`) and then every `intervalMs` (`whileWaiting`: a heartbeat); an aborted `signal` gives up its
   * place in the queue.
   */
  async acquire(signal: AbortSignal, waiter: { onQueued?: () => void; whileWaiting: () => void; intervalMs?: number }): Promise<() => void> {
    signal.throwIfAborted();
    if (this.running < this.limit) this.running++;
    else {
      waiter.onQueued?.();
      await this.turn(signal, waiter.whileWaiting, waiter.intervalMs ?? 10_000);
    }
    this.report();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Waits in the queue until a finishing dump hands over its slot (grant) or the signal aborts, whichever is first. */
  private turn(signal: AbortSignal, whileWaiting: () => void, intervalMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ticker = setInterval(whileWaiting, intervalMs);
      const grant = () => {
        clearInterval(ticker);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearInterval(ticker);
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        this.report();
        reject(signal.reason);
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
      this.report();
    });
  }

  /** Hands the slot to the oldest waiter, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
    this.report();
  }

  private report(): void {
    this.events.changed?.(this.running, this.waiting.length);
  }
}
