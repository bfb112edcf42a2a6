// The usage text, one entry per command module: the synopsis, then the summary from column 42.
import type { Command } from './command';
import { COMMANDS } from './commands';

const SUMMARY_COLUMN = 42;
const INDENT = '  ';
const CONTINUATION = ' '.repeat(SUMMARY_COLUMN);

function commandLines({ usage, summary }: Command): string[] {
  const [first, ...rest] = summary.split('\n');
  const synopsis = `${INDENT}${usage}`;
  const head = synopsis.length + 2 <= SUMMARY_COLUMN ? [synopsis.padEnd(SUMMARY_COLUMN) + first] : [synopsis, CONTINUATION + first];
  return [...head, ...rest.map((line) => CONTINUATION + line)];
}

export const USAGE = [
  'usage: vcsnap <command> [options]',
  '',
  ...COMMANDS.flatMap(commandLines),
  '',
  '  -o json prints JSON for scripts. A cluster is NS/NAME or NAME with -n NS. Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,',
  '  TEMPORAL_PROFILE / temporal.toml. Host cluster: KUBECONFIG.',
].join('\n');
