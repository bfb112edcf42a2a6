// vcsnap: the product's CLI on top of the client API. Tables by default; `-o json` for scripts. Exit code 2 for bad
// input (usage or an invalid vcluster.yaml), 1 for other failures, with one clear line on stderr.
// This file only dispatches: each command, with its own output formatting, is a module under commands/.
import { connectFromEnvironment } from '../connection';
import { UsageError, parseCommandLine } from './args';
import type { Command } from './command';
import { COMMANDS } from './commands';
import { USAGE } from './usage';

export { UsageError } from './args';

const COMMANDS_BY_NAME = new Map<string, Command>(COMMANDS.map((command) => [command.name, command]));

export async function main(argv: string[]): Promise<number> {
  const commandLine = parseCommandLine(argv);
  const { commandName, options } = commandLine;
  if (!commandName || options.help) {
    console.log(USAGE);
    return commandName || options.help ? 0 : 2;
  }
  const command = COMMANDS_BY_NAME.get(commandName);
  if (command?.offline) return command.run(commandLine);
  // An unknown command is reported after connecting, as it always has been.
  const connection = await connectFromEnvironment();
  try {
    if (!command) throw new UsageError(`unknown command "${commandName}"\n\n${USAGE}`);
    return await command.run(commandLine, connection);
  } finally {
    await connection.close();
  }
}

const BAD_INPUT_TYPES = new Set(['BadSnapshotReference', 'BadRestoreTarget']);

/** 2 for bad input (usage, references, targets), 1 for every other failure. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  const type = (err as { type?: string }).type;
  return type && BAD_INPUT_TYPES.has(type) ? 2 : 1;
}
