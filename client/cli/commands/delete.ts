import { scheduleIdFor } from '../../../contracts/naming';
import { removePolicy } from '../../../lib/schedules';
import { clusterArg } from '../args';
import type { ConnectedCommand } from '../command';

export const deleteCommand: ConnectedCommand = {
  name: 'delete',
  usage: 'delete NS/NAME',
  summary: 'delete the schedule (snapshots stay in storage)',
  async run({ target, options }, connection) {
    const cluster = clusterArg(target, options);
    const removed = await removePolicy(connection, cluster);
    console.log(`${scheduleIdFor(cluster)}: ${removed ? 'deleted' : 'no such schedule'}`);
    return 0;
  },
};
