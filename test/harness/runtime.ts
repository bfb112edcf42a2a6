// One quiet Temporal Runtime per test process (Runtime.install may run only once): WARN and above, so expected
// failures inside tests do not flood the report. Shared by the fast tier and the real-server tiers.
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

export function ensureTestRuntime(): void {
  if (installed) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  installed = true;
}
