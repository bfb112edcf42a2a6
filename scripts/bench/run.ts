// `npm run bench`: snapshot throughput and memory beside the machine's limits, then schedule and fan-out scale, on
// real servers started here (binaries from scripts/install-servers.sh). Prints one table, writes bench/results.json.
// Sizes come from the environment, so a quick run is possible, e.g.
//   BENCH_SMALL_KEYS=10000 BENCH_LARGE_KEYS=50000 BENCH_POLICIES=100 BENCH_PVCS=50 BENCH_LATENCY_RUNS=5 npm run bench
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { measureFleet } from './fleet';
import { measureScale } from './scale';
import { renderTable, type BenchResults } from './table';
import { measureThroughput } from './throughput';

const ROOT = join(__dirname, '..', '..');

function numberFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  const log = (line: string) => console.error(line);
  const sizes = [numberFrom('BENCH_SMALL_KEYS', 100_000), numberFrom('BENCH_LARGE_KEYS', 1_000_000)].filter((n) => n > 0);
  const dir = join(ROOT, '.vcsnap', `bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  log(`[bench] working in ${dir} (server logs stay there)`);
  const started = performance.now();
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine: { cpus: availableParallelism(), loadAverage: loadavg(), node: process.version },
    throughput: [],
    scale: {},
  };
  try {
    if (sizes.length > 0) results.throughput = await measureThroughput(join(dir, 'throughput'), sizes, log);
    const scale = {
      policies: numberFrom('BENCH_POLICIES', 1000),
      pvcs: numberFrom('BENCH_PVCS', 500),
      pvcConcurrency: numberFrom('BENCH_PVC_CONCURRENCY', 10),
      latencyRuns: numberFrom('BENCH_LATENCY_RUNS', 20),
      latencyEvery: process.env.BENCH_LATENCY_EVERY || '5s',
    };
    if (scale.policies + scale.pvcs + scale.latencyRuns > 0) results.scale = await measureScale(join(dir, 'scale'), scale, log);
    const fleet = { syncClusters: numberFrom('BENCH_FLEET_SYNC', 10_000), burstClusters: numberFrom('BENCH_FLEET_BURST', 1000) };
    if (fleet.syncClusters + fleet.burstClusters > 0) results.fleet = await measureFleet(join(dir, 'fleet'), fleet, log);
  } finally {
    // The data (GBs for 1M keys) goes; the logs stay for a look.
    for (const data of ['throughput/bench-etcd-data', 'throughput/minio-data', 'throughput/bench-registry', 'throughput/work', 'scale/kube-etcd-data', 'fleet/temporal/postgres-data', 'fleet/fleet-snapshots']) {
      rmSync(join(dir, data), { recursive: true, force: true });
    }
  }
  const table = renderTable(results);
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify({ ...results, table }, null, 2)}\n`);
  const load = (averages: number[]) => averages.map((l) => l.toFixed(1)).join(' ');
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(`\n${table}\n\n${results.machine.cpus} CPUs; load average ${load(results.machine.loadAverage)} at the start, ${load(loadavg())} at the end; ${minutes} minutes; bench/results.json written`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
