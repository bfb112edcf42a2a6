// One quiet Temporal Runtime per test process (Runtime.install may run only once): warnings and errors only, and
// without the stack traces of the failures tests cause on purpose (their assertions look at those failures), so
// the test output reads like a report. Shared by the fast tier and the real-server tiers.
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';

/**
 * What the SDK logs when a test makes an activity or a workflow fail on purpose, and what the dump task queue's
 * activity-only worker (worker/dump-worker.ts) says at every start.
 */
const EXPECTED_FAILURE_LOGS = new Set(['Activity failed', 'Workflow failed', 'No workflows registered, not polling for workflow tasks']);

/** Warnings and errors in one line each, without the expected failures. */
export function quietLog(entry: LogEntry): void {
  if (EXPECTED_FAILURE_LOGS.has(entry.message)) return;
  const error = entry.meta?.error;
  const detail = error instanceof Error ? `: ${error.message}` : '';
  process.stderr.write(`[temporal ${entry.level}] ${entry.message}${detail}\n`);
}

export const quietLogger = new DefaultLogger('WARN', quietLog);

let installed = false;

export function ensureTestRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: quietLogger });
}
