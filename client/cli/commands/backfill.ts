import { backfill } from '../../../lib/schedules';
import { dateArg } from '../args';
import { scheduleActionCommand } from '../command';

export const backfillCommand = scheduleActionCommand(
  { name: 'backfill', usage: 'backfill NS/NAME --start ISO --end ISO', summary: 'take the fires of a past window' },
  (connection, cluster, options) => backfill(connection, cluster, dateArg('start', options.start), dateArg('end', options.end)),
  'backfill requested',
);
