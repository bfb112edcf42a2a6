// vcsnap: the product's CLI on top of the client API. Tables by default; `-o json` for scripts. Exit code 2 for bad
// input (usage or an invalid vcluster.yaml), 1 for other failures, with one clear line on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SEARCH_ATTRIBUTE_REGISTRATIONS, type ClusterRef, type SecretRef } from '../../contracts/definitions';
import { scheduleIdFor } from '../../contracts/naming';
import { loadKubeConfig } from '../../lib/runtime-config';
import { formatErrors, parsePolicy } from '../../lib/policy';
import { listSnapshotsOf } from '../catalog';
import { restoreSnapshot, verifySnapshot } from '../restore';
import { connectFromEnvironment } from '../connection';
import { discoverClusters } from '../../lib/kube/discovery';
import { SYNC_SCHEDULE_ID, applyPolicy, backfill, describe, listPolicies, pause, removePolicy, resume, scheduleSync, sync, triggerNow } from '../../lib/schedules';
import { renderTable } from './table';

const USAGE = `usage: vcsnap <command> [options]

  setup                                   register the search attributes on the Temporal server
  validate -f FILE [--name N -n NS]       check a vcluster.yaml and print the policy it makes
  apply -f FILE --name N -n NS            create or update the cluster's schedule (idempotent)
  sync [--schedule CRON]                  reconcile schedules with every vc-config-* Secret in the host cluster;
                                          with --schedule, let the worker do it on that cron instead
  list                                    all snapshot schedules
  describe NS/NAME                        next fire times, recent runs, pause state
  trigger NS/NAME                         snapshot now (with the schedule's overlap policy)
  backfill NS/NAME --start ISO --end ISO  take the fires of a past window
  pause NS/NAME [--note TEXT]             pause the schedule
  resume NS/NAME [--note TEXT]            resume the schedule
  delete NS/NAME                          delete the schedule (snapshots stay in storage)
  snapshots NS/NAME | --all               the catalog: Scheduled, InProgress, Completed, PartiallyFailed, Failed, NotFound
  verify SNAPSHOT [-n NS] [--secret NS/NAME]
                                          check an archive's digest and vCluster format; SNAPSHOT is a catalog name
                                          (with -n), an s3:// URL or an oci:// reference
  restore SNAPSHOT --etcd URL [--tls-secret NS/NAME] [--force]
                                          verify, then write every key into the target etcd (refuses a non-empty one
                                          unless --force, which clears it first)

  -o json prints JSON for scripts. A cluster is NS/NAME or NAME with -n NS. Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
  TEMPORAL_PROFILE / temporal.toml. Host cluster: KUBECONFIG.`;

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
  help: { type: 'boolean', short: 'h' },
} as const;

function clusterArg(positional: string | undefined, values: { name?: string; namespace?: string }): ClusterRef {
  const ref = positional ?? values.name;
  if (!ref) throw new UsageError('a cluster is required: NS/NAME or NAME -n NS');
  if (ref.includes('/')) {
    const [namespace, name] = ref.split('/', 2);
    return { namespace, name };
  }
  if (!values.namespace) throw new UsageError(`cluster "${ref}": give its host namespace with -n NS or as NS/${ref}`);
  return { name: ref, namespace: values.namespace };
}

function secretArg(flag: string, value: string | undefined): SecretRef | undefined {
  if (value === undefined) return undefined;
  const [namespace, name] = value.split('/', 2);
  if (!namespace || !name) throw new UsageError(`--${flag}: expected NS/NAME, got ${JSON.stringify(value)}`);
  return { namespace, name };
}

function dateArg(flag: string, value: string | undefined): Date {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new UsageError(`--${flag}: expected an ISO 8601 time, got ${JSON.stringify(value ?? '')}`);
  return date;
}

function print(json: boolean | undefined, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, target] = positionals;
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'table') {
    throw new UsageError(`-o: expected "json" or "table", got ${JSON.stringify(values.output)}`);
  }
  values.json ||= values.output === 'json';
  if (!command || values.help) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }

  if (command === 'validate') {
    if (!values.file) throw new UsageError('validate: -f FILE is required');
    const cluster = { name: values.name ?? 'vcluster', namespace: values.namespace ?? 'default' };
    const parsed = parsePolicy(readFileSync(values.file, 'utf8'), cluster);
    if (!parsed.ok) {
      console.error(`${values.file}: invalid\n${formatErrors(parsed.errors)}`);
      return 2;
    }
    print(values.json, parsed, () => (parsed.policy ? JSON.stringify(parsed.policy, null, 2) : `${values.file}: valid, no schedule (${parsed.reason})`));
    return 0;
  }

  const connection = await connectFromEnvironment();
  try {
    switch (command) {
      case 'setup': {
        const { client } = connection;
        const response = await client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace });
        const missing = SEARCH_ATTRIBUTE_REGISTRATIONS.filter((a) => !(a.name in (response.customAttributes ?? {})));
        if (missing.length > 0) {
          await client.connection.operatorService.addSearchAttributes({
            namespace: client.options.namespace,
            searchAttributes: Object.fromEntries(missing.map((a) => [a.name, 2 /* KEYWORD */])),
          });
        }
        console.log(missing.length ? `registered ${missing.map((a) => a.name).join(', ')}` : 'search attributes already registered');
        return 0;
      }
      case 'apply': {
        if (!values.file) throw new UsageError('apply: -f FILE is required');
        const cluster = clusterArg(target, values);
        const parsed = parsePolicy(readFileSync(values.file, 'utf8'), cluster);
        if (!parsed.ok) {
          console.error(`${values.file}: invalid, nothing changed\n${formatErrors(parsed.errors)}`);
          return 2;
        }
        if (!parsed.policy) {
          const removed = await removePolicy(connection, cluster);
          console.log(`${scheduleIdFor(cluster)}: ${parsed.reason}; ${removed ? 'schedule deleted' : 'no schedule'}`);
          return 0;
        }
        console.log(`${scheduleIdFor(cluster)}: ${await applyPolicy(connection, parsed.policy)}`);
        return 0;
      }
      case 'sync': {
        if (values.schedule) {
          console.log(`${SYNC_SCHEDULE_ID}: ${await scheduleSync(connection, values.schedule)} (${values.schedule})`);
          return 0;
        }
        const kube = loadKubeConfig();
        if (!kube) throw new UsageError('sync: no host cluster configured (set KUBECONFIG)');
        const discovered = await discoverClusters(kube);
        const report = await sync(connection, discovered);
        print(values.json, report, () =>
          [
            `created ${report.created.length}, updated ${report.updated.length}, unchanged ${report.unchanged.length}, deleted ${report.deleted.length}, invalid ${report.invalid.length}, failed ${report.failed.length}`,
            ...report.invalid.map((i) => `invalid ${i.scheduleId}:\n  ${i.error.replace(/\n/g, '\n  ')}`),
            ...report.failed.map((f) => `failed ${f.scheduleId}: ${f.error}`),
          ].join('\n'),
        );
        return report.invalid.length + report.failed.length > 0 ? 1 : 0;
      }
      case 'list': {
        const policies = await listPolicies(connection);
        print(values.json, policies, () =>
          renderTable(
            ['SCHEDULE', 'TIMEZONE', 'PAUSED', 'NEXT FIRE', 'NOTE'],
            policies.map((p) => [p.scheduleId, p.timezone ?? '', String(p.paused), p.nextFireTime?.toISOString() ?? '', p.note ?? '']),
          ),
        );
        return 0;
      }
      case 'describe': {
        const d = await describe(connection, clusterArg(target, values));
        print(values.json, d, () =>
          [
            `schedule:  ${d.scheduleId}`,
            `cron:      ${d.policy?.schedule ?? '?'} (${d.policy?.timezone ?? '?'})`,
            `storage:   ${d.policy ? JSON.stringify(d.policy.storage) : '?'}`,
            `paused:    ${d.paused}${d.note ? ` (${d.note})` : ''}`,
            `next:      ${d.nextFireTimes.map((t) => t.toISOString()).join(', ')}`,
            `running:   ${d.runningWorkflowIds.join(', ') || '-'}`,
            '',
            renderTable(['SCHEDULED', 'STARTED', 'WORKFLOW'], d.recentRuns.map((r) => [r.scheduledAt.toISOString(), r.takenAt.toISOString(), r.workflowId])),
          ].join('\n'),
        );
        return 0;
      }
      case 'trigger':
        await triggerNow(connection, clusterArg(target, values));
        console.log('triggered');
        return 0;
      case 'backfill':
        await backfill(connection, clusterArg(target, values), dateArg('start', values.start), dateArg('end', values.end));
        console.log('backfill requested');
        return 0;
      case 'pause':
        await pause(connection, clusterArg(target, values), values.note);
        console.log('paused');
        return 0;
      case 'resume':
        await resume(connection, clusterArg(target, values), values.note);
        console.log('resumed');
        return 0;
      case 'delete': {
        const cluster = clusterArg(target, values);
        console.log((await removePolicy(connection, cluster)) ? `${scheduleIdFor(cluster)}: deleted` : `${scheduleIdFor(cluster)}: no such schedule`);
        return 0;
      }
      case 'snapshots': {
        const catalogs = await listSnapshotsOf(connection, values.all ? undefined : [clusterArg(target, values)]);
        print(values.json, catalogs, () =>
          [
            renderTable(
              ['CLUSTER', 'SNAPSHOT', 'STATUS', 'TIME', 'SIZE', 'KEYS', 'DETAIL'],
              catalogs.flatMap((c) =>
                c.entries.map((e) => [
                  `${c.cluster.namespace}/${c.cluster.name}`, e.snapshotName, e.status, e.time ?? '', e.bytes === undefined ? '' : String(e.bytes),
                  e.keys === undefined ? '' : String(e.keys), e.error ?? (e.origin === 'external' ? 'not taken by vcsnap' : e.url ?? ''),
                ]),
              ),
            ),
            ...catalogs.filter((c) => c.error).map((c) => `${c.cluster.namespace}/${c.cluster.name}: storage not readable: ${c.error}`),
          ].join('\n'),
        );
        return 0;
      }
      case 'verify': {
        if (!target) throw new UsageError('verify: a SNAPSHOT is required');
        const result = await verifySnapshot(connection, target, { namespace: values.namespace, credential: secretArg('secret', values.secret) });
        print(values.json, result, () =>
          result.ok
            ? `${result.url}: ok, ${result.keys} keys, ${result.archiveBytes} bytes, sha256 ${result.sha256}`
            : `${result.url}: CORRUPT: ${result.problem?.message}`,
        );
        return result.ok ? 0 : 1;
      }
      case 'restore': {
        if (!target) throw new UsageError('restore: a SNAPSHOT is required');
        if (!values.etcd?.length) throw new UsageError('restore: --etcd URL is required');
        const result = await restoreSnapshot(connection, target, {
          namespace: values.namespace,
          credential: secretArg('secret', values.secret),
          endpoints: values.etcd,
          tlsSecret: secretArg('tls-secret', values['tls-secret']),
          force: values.force,
        });
        print(values.json, result, () => `restored ${result.restore.keysRestored} keys (${result.restore.bytesRestored} bytes) into ${values.etcd!.join(', ')}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
    }
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
