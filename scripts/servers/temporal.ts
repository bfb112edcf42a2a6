import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../contracts/definitions';
import { freePort, startProcess, toolPath, type RunningProcess } from './process';

export interface TemporalServer extends RunningProcess {
  address: string;
  namespace: string;
  uiUrl?: string;
}

export function temporalCliPath(): string {
  return toolPath('temporal', 'TEMPORAL_CLI_VERSION');
}

interface DevServerOptions {
  dir: string;
  dbFile?: string;
  ui?: boolean;
  port?: number;
  uiPort?: number;
  /**
   * Map a namespace's search attributes from a cache, as a Temporal server does in production: the dev server
   * otherwise reads them afresh on every request, so an attribute just registered is usable at once there only.
   */
  searchAttributeCache?: boolean;
}

/**
 * `temporal server start-dev` with the product's search attributes registered. `dbFile` keeps state across a
 * restart (SQLite); `ui` turns on the Web UI (tests run headless).
 */
export async function startTemporal(opts: DevServerOptions): Promise<TemporalServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer(opts);
    } catch (err) {
      // The CLI picks its HTTP API and metrics ports itself, free when it looked: a server started beside it (the
      // bench starts several at once) can take one first, and the dev server exits "address already in use".
      if (attempt === 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function startDevServer(opts: DevServerOptions): Promise<TemporalServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', 'default', '--log-level', 'warn'];
  // Its HTTP API and metrics would take ports of the ephemeral range (see freePort): given here instead.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  if (opts.searchAttributeCache) args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  for (const attribute of SEARCH_ATTRIBUTE_REGISTRATIONS) args.push('--search-attribute', `${attribute.name}=${attribute.type}`);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.ui) args.push('--ui-ip', '127.0.0.1', '--ui-port', String(uiPort));
  else args.push('--headless');
  const address = `127.0.0.1:${port}`;
  const running = await startProcess({
    name: 'temporal',
    command: temporalCliPath(),
    args,
    logDir: opts.dir,
    cwd: opts.dir,
    ready: async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        const health = await connection.healthService.check({});
        return health.status === 1;
      } finally {
        await connection.close();
      }
    },
  });
  return { ...running, address, namespace: 'default', uiUrl: opts.ui ? `http://127.0.0.1:${uiPort}` : undefined };
}
