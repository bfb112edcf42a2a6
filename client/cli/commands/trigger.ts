import { triggerNow } from '../../../lib/schedules';
import { scheduleActionCommand } from '../command';

export const triggerCommand = scheduleActionCommand(
  { name: 'trigger', usage: 'trigger NS/NAME', summary: "snapshot now (with the schedule's overlap policy)" },
  (connection, cluster) => triggerNow(connection, cluster),
  'triggered',
);
