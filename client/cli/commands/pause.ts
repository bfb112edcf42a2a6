import { pause } from '../../../lib/schedules';
import { scheduleActionCommand } from '../command';

export const pauseCommand = scheduleActionCommand(
  { name: 'pause', usage: 'pause NS/NAME [--note TEXT]', summary: 'pause the schedule' },
  (connection, cluster, options) => pause(connection, cluster, options.note),
  'paused',
);
