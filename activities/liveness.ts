// How long activities show they are alive: a transfer meter (lib/transfer-meter) wired to the activity's heartbeat
// and cancellation, failing a stalled transfer with `TransferStalled`; and a plain keep-alive for short activities
// made of several storage calls (records, retention) whose heartbeat timeout is shorter than their calls together.
import type { Context } from '@temporalio/activity';
import { failure } from '../contracts/errors';
import { REPORT_EVERY_MS, TransferMeter } from '../lib/transfer-meter';
import type { ActivityDeps } from './deps';

/**
 * A meter for one transfer of this activity: heartbeats `details()` every few MiB or seconds, and aborts its
 * `signal` (also aborted by the activity's cancellation) with a TransferStalled failure naming `what` once no byte
 * moved for the worker's stall timeout.
 */
export function transferMeter(deps: ActivityDeps, context: Context, what: string, details: () => unknown = () => undefined): TransferMeter {
  const timeoutSeconds = deps.transferStallTimeoutSeconds;
  return new TransferMeter({
    stallTimeoutMs: timeoutSeconds * 1000,
    signal: context.cancellationSignal,
    report: () => context.heartbeat(details()),
    stalled: (idleMs) =>
      failure('TransferStalled', `${what} stalled: no byte moved for ${Math.round(idleMs / 1000)}s (VCSNAP_TRANSFER_STALL_TIMEOUT is ${timeoutSeconds}s); the next attempt starts on fresh connections`),
  });
}

/**
 * Runs `work`, heartbeating every few seconds meanwhile: each storage call has its own request timeout. A cancelled
 * activity (its timeout, the run's cancellation, a worker's shutdown grace run out) ends at once with the
 * cancellation, so a worker's drain never waits on a call still retrying; the abandoned call ends at its own request
 * timeout, and what it writes (a record, a deletion) is what the next attempt writes again.
 */
export async function heartbeatWhile<T>(context: Context, work: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ticker = setInterval(() => context.heartbeat(details?.()), REPORT_EVERY_MS);
  const running = work();
  try {
    return await Promise.race([running, context.cancelled]);
  } finally {
    clearInterval(ticker);
    running.catch(() => undefined); // abandoned on cancellation: its late failure is nobody's to report
  }
}
