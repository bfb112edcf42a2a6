// Temporal as operators run it for a fleet: the Temporal server binary (not the dev server) on PostgreSQL, the same
// engine docker-compose.yml runs. Bench only (`npm run bench`, fleet part): Debian's PostgreSQL in a private data dir
// on a loopback port, the schema set up by Temporal's own temporal-sql-tool, and the server's four services in one
// process on free loopback ports. Binaries: VCSNAP_INSTALL_BENCH=1 scripts/install-servers.sh.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../lib/search-attributes';
import { freePort, startProcess, toolPath, versions, type RunningProcess } from './process';
import { temporalCliPath, type TemporalServer } from './temporal';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

function pgUid(): { uid: number; gid: number } {
  const [uid, gid] = execFileSync('id', ['-u', PG_USER], { encoding: 'utf8' }).trim().split(' ').concat(execFileSync('id', ['-g', PG_USER], { encoding: 'utf8' }).trim());
  return { uid: Number(uid), gid: Number(gid) };
}

/** Debian's PostgreSQL 15, installed now if missing (apt-get). */
export function ensurePostgres(log: (line: string) => void): void {
  if (existsSync(join(PG_BIN, 'postgres'))) return;
  log('[bench] installing Debian postgresql (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-15'], { stdio: 'inherit', env });
}

/** PostgreSQL on 127.0.0.1:`port`, data in `dir`, trust auth for user `temporal` (loopback only). */
export async function startPostgres(dir: string): Promise<RunningProcess & { port: number }> {
  const data = join(dir, 'postgres-data');
  const port = await freePort();
  // PostgreSQL refuses to run as root: its data dir belongs to the postgres user, and it runs as that user.
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', PG_USER, '--'] : [];
  if (!existsSync(data)) {
    mkdirSync(data, { recursive: true });
    if (asPostgres.length) {
      const { uid, gid } = pgUid();
      chownSync(data, uid, gid);
    }
    execFileSync(asPostgres[0] ?? join(PG_BIN, 'initdb'), [...asPostgres.slice(1), ...(asPostgres.length ? [join(PG_BIN, 'initdb')] : []), '-D', data, '-U', 'temporal', '--auth=trust', '-E', 'UTF8'], { stdio: 'ignore' });
  }
  const [command, ...prefix] = [...asPostgres, join(PG_BIN, 'postgres')];
  const running = await startProcess({
    name: 'postgres',
    command,
    args: [...prefix, '-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', data, '-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    logDir: dir,
    stopSignal: 'SIGINT',
    ready: async () => {
      execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return true;
    },
  });
  return { ...running, port };
}

/**
 * A free loopback port below 32768: Temporal keeps membership ports in a PostgreSQL smallint, which the kernel's
 * ephemeral range (above 32767) overflows.
 */
async function lowFreePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function serverConfig(pgPort: number, ports: Record<'frontend' | 'history' | 'matching' | 'worker' | 'http', number>, membership: number[], shards: number): string {
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: tcp
        user: temporal
        password: ""
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (name: string, grpc: number, member: number, extra = '') => `
  ${name}:
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${member}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${shards}
  datastores:
    default:${store('temporal', 40)}
    visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:${service('frontend', ports.frontend, membership[0]!, `\n      httpPort: ${ports.http}`)}${service('history', ports.history, membership[1]!)}${service('matching', ports.matching, membership[2]!)}${service('worker', ports.worker, membership[3]!)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend}
dcRedirectionPolicy:
  policy: noop
`;
}

/**
 * PostgreSQL, the schema (temporal-sql-tool), the Temporal server, the `default` namespace and the product's search
 * attributes. `shards`: history shards (4 for a laptop-sized bench, as Temporal's own development config).
 */
export async function startTemporalCluster(dir: string, shards = 4): Promise<{ temporal: TemporalServer; postgres: RunningProcess; serverPid: () => number | undefined; stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const postgres = await startPostgres(dir);
  try {
    const version = versions().TEMPORAL_SERVER_VERSION;
    const sqlTool = toolPath('temporal-server', 'TEMPORAL_SERVER_VERSION', 'temporal-sql-tool');
    const schema = join(toolPath('temporal-server', 'TEMPORAL_SERVER_VERSION', 'schema'), 'postgresql', 'v12');
    for (const [database, schemaDir] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
      const tool = (...args: string[]) =>
        execFileSync(sqlTool, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(postgres.port), '-u', 'temporal', '--db', database, ...args], { stdio: 'pipe' });
      tool('create-database');
      tool('setup-schema', '-v', '0.0');
      tool('update-schema', '-d', join(schema, schemaDir, 'versioned'));
    }
    const ports: number[] = [];
    while (ports.length < 9) {
      const port = await lowFreePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const [frontend, history, matching, worker, http, ...membership] = ports;
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'development.yaml'), serverConfig(postgres.port, { frontend: frontend!, history: history!, matching: matching!, worker: worker!, http: http! }, membership, shards));
    writeFileSync(join(configDir, 'dynamicconfig.yaml'), 'frontend.enableUpdateWorkflowExecution:\n  - value: true\n');
    const address = `127.0.0.1:${frontend}`;
    const server = await startProcess({
      name: `temporal-server-${version}`,
      command: toolPath('temporal-server', 'TEMPORAL_SERVER_VERSION'),
      args: ['--root', dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
      logDir: dir,
      env: { TEMPORAL_DYNAMIC_CONFIG_FILE_PATH: join(configDir, 'dynamicconfig.yaml') },
      timeoutMs: 180_000,
      ready: async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          return (await connection.healthService.check({})).status === 1;
        } finally {
          await connection.close();
        }
      },
    });
    execFileSync(temporalCliPath(), ['operator', 'namespace', 'create', '--namespace', 'default', '--retention', '24h', '--address', address], { stdio: 'pipe' });
    // What every worker does at start: register the product's attributes and wait until the namespace maps them.
    const connection = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(connection, 'default');
    } finally {
      await connection.close();
    }
    return {
      temporal: { ...server, address, namespace: 'default' },
      postgres,
      serverPid: () => server.child.pid,
      async stop() {
        await server.stop();
        await postgres.stop();
      },
    };
  } catch (err) {
    await postgres.stop();
    throw err;
  }
}
