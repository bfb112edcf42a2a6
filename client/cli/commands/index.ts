// Every command, in the order the usage text lists them.
import type { Command } from '../command';
import { applyCommand } from './apply';
import { backfillCommand } from './backfill';
import { deleteCommand } from './delete';
import { describeCommand } from './describe';
import { drillCommand } from './drill';
import { exportCommand } from './export';
import { listCommand } from './list';
import { pauseCommand } from './pause';
import { restoreCommand } from './restore';
import { resumeCommand } from './resume';
import { setupCommand } from './setup';
import { snapshotsCommand } from './snapshots';
import { statusCommand } from './status';
import { syncCommand } from './sync';
import { triggerCommand } from './trigger';
import { validateCommand } from './validate';
import { verifyCommand } from './verify';

export const COMMANDS: readonly Command[] = [
  setupCommand,
  validateCommand,
  applyCommand,
  syncCommand,
  listCommand,
  describeCommand,
  triggerCommand,
  backfillCommand,
  pauseCommand,
  resumeCommand,
  deleteCommand,
  snapshotsCommand,
  statusCommand,
  verifyCommand,
  restoreCommand,
  exportCommand,
  drillCommand,
];
