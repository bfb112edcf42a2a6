// What a command module exports, what the dispatcher hands its run(), and the two shapes most commands take.
import type { ClusterRef } from '../../contracts/definitions';
import type { ScheduleTarget } from '../../lib/schedules';
import { clusterArg, type CliOptions, type CommandLine } from './args';
import { print } from './output';

export interface CommandInfo {
  name: string;
  /** The command's synopsis in the usage text, e.g. `pause NS/NAME [--note TEXT]`. */
  usage: string;
  /** What it does; a newline starts a continuation line. */
  summary: string;
}

/** A command that needs no Temporal server (validate). */
export interface OfflineCommand extends CommandInfo {
  offline: true;
  run(commandLine: CommandLine): Promise<number>;
}

/** A command that talks to Temporal; the dispatcher connects before run() and closes after it. */
export interface ConnectedCommand extends CommandInfo {
  offline?: false;
  run(commandLine: CommandLine, connection: ScheduleTarget): Promise<number>;
}

export type Command = OfflineCommand | ConnectedCommand;

export interface Report<T> {
  fetch(commandLine: CommandLine, connection: ScheduleTarget): Promise<T>;
  /** The text form; -o json prints the value itself. */
  format(value: T): string;
  /** 0 unless given. */
  exitCode?(value: T): number;
}

/** A command that fetches one value and prints it. */
export function reportCommand<T>(info: CommandInfo, report: Report<T>): ConnectedCommand {
  return {
    ...info,
    async run(commandLine, connection) {
      const value = await report.fetch(commandLine, connection);
      print(commandLine.json, value, () => report.format(value));
      return report.exitCode?.(value) ?? 0;
    },
  };
}

export type ScheduleAction = (connection: ScheduleTarget, cluster: ClusterRef, options: CliOptions) => Promise<void>;

/** A command that acts on one cluster's schedule and says `done` when it has. */
export function scheduleActionCommand(info: CommandInfo, act: ScheduleAction, done: string): ConnectedCommand {
  return {
    ...info,
    async run({ target, options }, connection) {
      await act(connection, clusterArg(target, options), options);
      console.log(done);
      return 0;
    },
  };
}
