import { scheduleIdFor } from '../../../contracts/naming';
import { applyPolicy, removePolicy } from '../../../lib/schedules';
import { clusterArg, requiredArg } from '../args';
import type { ConnectedCommand } from '../command';
import { readPolicyFile } from '../policy-file';

export const applyCommand: ConnectedCommand = {
  name: 'apply',
  usage: 'apply -f FILE --name N -n NS',
  summary: "create or update the cluster's schedule (idempotent)",
  async run({ target, options }, connection) {
    const file = requiredArg(options.file, 'apply: -f FILE is required');
    const cluster = clusterArg(target, options);
    const parsed = readPolicyFile(file, cluster, 'invalid, nothing changed');
    if (!parsed) return 2;
    if (parsed.policy) {
      console.log(`${scheduleIdFor(cluster)}: ${await applyPolicy(connection, parsed.policy)}`);
    } else {
      const removed = await removePolicy(connection, cluster);
      console.log(`${scheduleIdFor(cluster)}: ${parsed.reason}; ${removed ? 'schedule deleted' : 'no schedule'}`);
    }
    return 0;
  },
};
