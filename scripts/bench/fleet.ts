// Part 6, fleet scale on a Temporal cluster as operators run it: the Temporal server on PostgreSQL
// (scripts/servers/temporal-cluster.ts) with three compiled workers (`node dist/worker/main.js`, as the image runs
// them), each limited to VCSNAP_MAX_CONCURRENT_DUMPS=2. Measures `sync` of many clusters (create, unchanged, change),
// then many clusters whose schedules fire on the same minute against a small etcd: time until every run is
// Completed, how the dumps spread over the workers, the server's and PostgreSQL's CPU, and how long
// `temporal schedule list` (one cluster's schedule, by its search attribute) takes while the burst runs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WORKFLOW_TYPES } from '../../contracts/definitions';
import { sync } from '../../lib/schedules';
import { startEtcd } from '../servers/etcd';
import { freePort, serverGroup } from '../servers/process';
import { ensurePostgres, startTemporalCluster } from '../servers/temporal-cluster';
import { temporalCliPath } from '../servers/temporal';
import { loadEtcd } from './load-etcd';
import { measurePolicies, type ApplyPass } from './policies';
import { benchPolicy } from './policy';
import { connectClient } from './worker';

const ROOT = join(__dirname, '..', '..');
const WORKERS = 3;
const DUMPS_PER_WORKER = 2;

export interface FleetFigures {
  sync: ApplyPass[];
  burst?: {
    clusters: number;
    completed: number;
    failed: number;
    /** From the fire minute to the last Completed run. */
    seconds: number;
    /** Dumps each worker ran, and the most it ran at once. */
    perWorker: Array<{ snapshots: number; maxConcurrentDumps: number }>;
    serverCpuSeconds: number;
    postgresCpuSeconds: number;
    scheduleList: { runs: number; medianSeconds: number; maxSeconds: number; failures: number };
  };
}

/** utime + stime of `pid` and every descendant, in seconds. */
function treeCpuSeconds(pid: number): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // gone while reading
    }
  }
  let total = 0;
  const walk = (p: number) => {
    total += cpu.get(p) ?? 0;
    for (const [child, parent] of parents) if (parent === p) walk(child);
  };
  walk(pid);
  return total;
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.split(' ').at(-1));
  return sum;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureFleet(dir: string, options: { syncClusters: number; burstClusters: number }, log: (line: string) => void): Promise<FleetFigures> {
  ensurePostgres(log);
  const { track, stopAll } = serverGroup();
  const cluster = await startTemporalCluster(join(dir, 'temporal'));
  const workers: ChildProcess[] = [];
  try {
    const etcd = await track(startEtcd({ dir, name: 'fleet-etcd' }));
    await loadEtcd(etcd.endpoint, 0, 300, log);
    const { client, close } = await connectClient(cluster.temporal);
    const taskQueue = 'vcsnap-fleet';
    const metricsPorts: number[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const port = await freePort();
      metricsPorts.push(port);
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'worker', 'main.js')], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: cluster.temporal.address,
          TEMPORAL_NAMESPACE: 'default',
          VCSNAP_TASK_QUEUE: taskQueue,
          VCSNAP_WORKFLOW_BUNDLE: join(ROOT, 'dist', 'workflow-bundle.js'),
          VCSNAP_MAX_CONCURRENT_DUMPS: String(DUMPS_PER_WORKER),
          VCSNAP_PRODUCT_METRICS_PORT: String(port),
          VCSNAP_RECORD_KEY: Buffer.alloc(32, 3).toString('base64'),
          KUBECONFIG: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const logFile = createWriteStream(join(dir, `fleet-worker-${i}.log`));
      child.stdout?.pipe(logFile);
      child.stderr?.pipe(logFile);
      workers.push(child);
    }
    try {
      const figures: FleetFigures = { sync: [] };
      if (options.syncClusters > 0) {
        log(`[bench] fleet: sync of ${options.syncClusters.toLocaleString('en-US')} clusters on Temporal/PostgreSQL, three passes`);
        figures.sync = await measurePolicies(client, `${taskQueue}-idle`, options.syncClusters, etcd.endpoint, () => {
          const { user, system } = process.cpuUsage();
          return { server: treeCpuSeconds(cluster.serverPid()!), postgres: treeCpuSeconds(cluster.postgres.child.pid!), client: (user + system) / 1e6 };
        });
      }
      if (options.burstClusters > 0) {
        // Every cluster fires at the start of the minute after next (time to create the schedules first).
        const fire = new Date(Math.ceil((Date.now() + 90_000) / 60_000) * 60_000);
        const cron = `${fire.getUTCMinutes()} ${fire.getUTCHours()} * * *`;
        const storage = { type: 'container', path: join(dir, 'fleet-snapshots') } as const;
        const policies = Array.from({ length: options.burstClusters }, (_, i) => benchPolicy(`burst-${String(i).padStart(4, '0')}`, storage, etcd.endpoint, { schedule: cron }));
        log(`[bench] fleet: ${options.burstClusters} schedules firing at ${fire.toISOString()}`);
        const created = await sync({ client, taskQueue }, policies.map((policy) => ({ cluster: policy.cluster, policy })));
        if (created.failed.length) throw new Error(`fleet: ${created.failed.length} schedules not created: ${created.failed[0]?.error}`);
        await sleep(Math.max(0, fire.getTime() - Date.now()));
        const cpuBefore = { server: treeCpuSeconds(cluster.serverPid()!), postgres: treeCpuSeconds(cluster.postgres.child.pid!) };
        const maxRunning = metricsPorts.map(() => 0);
        const listTimes: number[] = [];
        let listFailures = 0;
        const query = (status: string) => `WorkflowType = '${WORKFLOW_TYPES.snapshot}' AND ExecutionStatus = '${status}' AND TaskQueue = '${taskQueue}'`;
        let completed = 0;
        let failed = 0;
        let lastList = 0;
        const deadline = fire.getTime() + 20 * 60_000;
        while (completed + failed < options.burstClusters && Date.now() < deadline) {
          for (const [i, port] of metricsPorts.entries()) {
            const running = metricSum(await scrape(port).catch(() => ''), 'vcsnap_dumps_running');
            maxRunning[i] = Math.max(maxRunning[i]!, running);
          }
          if (Date.now() - lastList > 5_000) {
            lastList = Date.now();
            const started = performance.now();
            await promisify(execFile)(temporalCliPath(), ['schedule', 'list', '--address', cluster.temporal.address, '--query', `VclusterName = 'burst-0007'`, '-o', 'json'], { maxBuffer: 64 * 1024 * 1024 }).then(
              () => listTimes.push((performance.now() - started) / 1000),
              () => listFailures++,
            );
          }
          completed = (await client.workflow.count(query('Completed'))).count;
          failed = (await client.workflow.count(query('Failed'))).count;
          await sleep(500);
        }
        const seconds = (Date.now() - fire.getTime()) / 1000;
        const perWorker = await Promise.all(
          metricsPorts.map(async (port, i) => ({ snapshots: metricSum(await scrape(port), 'vcsnap_snapshots_total'), maxConcurrentDumps: maxRunning[i]! })),
        );
        listTimes.sort((a, b) => a - b);
        figures.burst = {
          clusters: options.burstClusters,
          completed,
          failed,
          seconds,
          perWorker,
          serverCpuSeconds: treeCpuSeconds(cluster.serverPid()!) - cpuBefore.server,
          postgresCpuSeconds: treeCpuSeconds(cluster.postgres.child.pid!) - cpuBefore.postgres,
          scheduleList: { runs: listTimes.length, medianSeconds: listTimes[Math.floor(listTimes.length / 2)] ?? NaN, maxSeconds: listTimes.at(-1) ?? NaN, failures: listFailures },
        };
      }
      return figures;
    } finally {
      await close();
    }
  } finally {
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => new Promise((resolve) => (worker.exitCode !== null ? resolve(null) : worker.once('exit', resolve)))));
    await cluster.stop();
    await stopAll();
  }
}
