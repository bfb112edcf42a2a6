import { resume } from '../../../lib/schedules';
import { scheduleActionCommand } from '../command';

export const resumeCommand = scheduleActionCommand(
  { name: 'resume', usage: 'resume NS/NAME [--note TEXT]', summary: 'resume the schedule' },
  (connection, cluster, options) => resume(connection, cluster, options.note),
  'resumed',
);
