// The command line every command shares: one option table, the output format, and the references commands take.
import { parseArgs } from 'node:util';
import type { ClusterRef, SecretRef } from '../../contracts/definitions';
import type { SnapshotSourceOptions } from '../restore';

/** Bad input on the command line; exitCodeFor maps it to 2. */
export class UsageError extends Error {}

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  name: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  note: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  schedule: { type: 'string' },
  secret: { type: 'string' },
  etcd: { type: 'string', multiple: true },
  'tls-secret': { type: 'string' },
  force: { type: 'boolean' },
  snapshot: { type: 'string' },
  identity: { type: 'string' },
  'identity-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseOptions(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export type CliOptions = ReturnType<typeof parseOptions>['values'];

export interface CommandLine {
  commandName: string | undefined;
  /** The positional after the command: a cluster (NS/NAME or NAME) or a SNAPSHOT. */
  target: string | undefined;
  options: CliOptions;
  /** -o json or --json. */
  json: boolean;
}

export function parseCommandLine(argv: string[]): CommandLine {
  const { values, positionals } = parseOptions(argv);
  const [commandName, target] = positionals;
  // export takes -o FILE: where the archive goes.
  if (commandName !== 'export' && values.output !== undefined && values.output !== 'json' && values.output !== 'table') {
    throw new UsageError(`-o: expected "json" or "table", got ${JSON.stringify(values.output)}`);
  }
  return { commandName, target, options: values, json: values.json === true || (commandName !== 'export' && values.output === 'json') };
}

export function clusterArg(positional: string | undefined, options: { name?: string; namespace?: string }): ClusterRef {
  const ref = positional ?? options.name;
  if (!ref) throw new UsageError('a cluster is required: NS/NAME or NAME -n NS');
  if (ref.includes('/')) {
    const [namespace, name] = ref.split('/', 2);
    return { namespace, name };
  }
  if (!options.namespace) throw new UsageError(`cluster "${ref}": give its host namespace with -n NS or as NS/${ref}`);
  return { name: ref, namespace: options.namespace };
}

export function secretArg(flag: string, value: string | undefined): SecretRef | undefined {
  if (value === undefined) return undefined;
  const [namespace, name] = value.split('/', 2);
  if (!namespace || !name) throw new UsageError(`--${flag}: expected NS/NAME, got ${JSON.stringify(value)}`);
  return { namespace, name };
}

export function dateArg(flag: string, value: string | undefined): Date {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new UsageError(`--${flag}: expected an ISO 8601 time, got ${JSON.stringify(value ?? '')}`);
  return date;
}

export function requiredArg(value: string | undefined, message: string): string {
  if (!value) throw new UsageError(message);
  return value;
}

/** Where verify and restore find a SNAPSHOT given by catalog name (-n) and with which storage credential (--secret). */
/** For a URL, `-n NS --name CLUSTER` names the cluster it belongs to: that cluster's Secret grants apply. */
export function snapshotSourceArgs(options: CliOptions): SnapshotSourceOptions {
  const cluster = options.namespace && options.name ? { name: options.name, namespace: options.namespace } : undefined;
  return { namespace: options.namespace, credential: secretArg('secret', options.secret), ...(cluster ? { cluster } : {}) };
}
