// One dump (or `parallel` dumps at once, as a worker with VCSNAP_MAX_CONCURRENT_DUMPS runs them) in a process of its
// own, so its peak RSS is the worker's: runs the real dumpAndStore activity (in mocked activity contexts) and prints
// one JSON line with its figures. Input: the JSON of a DumpJob as the only argument.
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { StoredSnapshot, SnapshotPolicy } from '../../contracts/definitions';

export interface DumpJob {
  policy: SnapshotPolicy;
  snapshotName: string;
  /** Dumps of the same cluster at once (snapshot names suffixed -1, -2, ...); default 1. */
  parallel?: number;
}

export interface DumpFigures {
  seconds: number;
  keys: number;
  archiveBytes: number;
  url: string;
  peakRssBytes: number;
  /** Highest V8 heap use and external (Buffer) memory seen, sampled every 100 ms: what the RSS is made of. */
  peakHeapBytes: number;
  peakExternalBytes: number;
  /** RSS of the process with the worker's modules loaded, just before the dump: the part of the peak no dump adds. */
  startRssBytes: number;
  cpuSeconds: number;
  /** Where this is the median of several runs: each run's peak RSS, in the order they ran. */
  runsPeakRssBytes?: number[];
}

/** VmHWM: the most resident memory the process ever had. */
function peakRssBytes(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as DumpJob;
  // There is no workflow to report progress to (the mock context has no client): never signal.
  const { dumpAndStore } = createActivities({ progressIntervalMs: Number.POSITIVE_INFINITY });
  const peaks = { heap: 0, external: 0 };
  const sample = setInterval(() => {
    const { heapUsed, external } = process.memoryUsage();
    peaks.heap = Math.max(peaks.heap, heapUsed);
    peaks.external = Math.max(peaks.external, external);
  }, 100);
  const startRssBytes = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const parallel = job.parallel ?? 1;
  const runs = Array.from({ length: parallel }, (_, i) => {
    const args: Parameters<typeof dumpAndStore> = [{ policy: job.policy, snapshotName: parallel === 1 ? job.snapshotName : `${job.snapshotName}-${i + 1}`, nominalTime: new Date().toISOString() }];
    return new MockActivityEnvironment({ activityType: 'dumpAndStore' }).run<typeof args, StoredSnapshot, typeof dumpAndStore>(dumpAndStore, ...args);
  });
  const stored = await Promise.all(runs);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sample);
  const figures: DumpFigures = {
    seconds,
    keys: stored.reduce((sum, s) => sum + s.keys, 0),
    archiveBytes: stored.reduce((sum, s) => sum + s.bytes, 0),
    url: stored[0]!.url,
    peakRssBytes: peakRssBytes(),
    peakHeapBytes: peaks.heap,
    peakExternalBytes: peaks.external,
    startRssBytes,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
