// The bench's one table (Markdown, so the README can take it as printed).
import type { ApplyPass } from './policies';
import { SYNC_CONCURRENCY } from '../../lib/schedules';
import type { FleetFigures } from './fleet';
import type { ScaleFigures } from './scale';
import type { DumpFigures } from './dump-child';
import type { SizeFigures } from './throughput';
import { HISTORY_LIMITS } from './volumes';

export interface BenchResults {
  startedAt: string;
  machine: { cpus: number; loadAverage: number[]; node: string };
  throughput: SizeFigures[];
  scale: ScaleFigures;
  fleet?: FleetFigures;
}

const MB = 1e6;
const count = (n: number) => n.toLocaleString('en-US');
const secs = (s: number) => `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
/** CPU seconds per second of wall time, per process: 2.0 is both cores of this machine busy. */
const coresBusy = (cpuSeconds: Record<string, number> | undefined, seconds: number) =>
  cpuSeconds && Object.entries(cpuSeconds).map(([name, cpu]) => `${name} ${(cpu / seconds).toFixed(2)}`).join(', ');
/** A change pass's time until every schedule applied what sync sent (the listing shows the new digest). */
const applied = (pass: ApplyPass) => {
  if (pass.appliedSeconds === undefined) return '';
  const busy = coresBusy(pass.appliedCpuSeconds, pass.appliedSeconds);
  return ` · all applied ${secs(pass.appliedSeconds)} after the start (listing every 10 s)${busy ? `, cores busy until then: ${busy}` : ''}`;
};
const mbps = (bytes: number, s: number) => `${(bytes / MB / s).toFixed(1)} MB/s`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

/** A dump's peak memory, heap and external apart; for the median of several runs, how many and each run's peak RSS. */
const memory = (dump: DumpFigures): string[] => [
  `peak RSS ${mib(dump.peakRssBytes)} (heap ${mib(dump.peakHeapBytes)}, external ${mib(dump.peakExternalBytes)}; ${mib(dump.startRssBytes)} before the dump)`,
  ...(dump.runsPeakRssBytes ? [`median of ${dump.runsPeakRssBytes.length} runs (RSS ${dump.runsPeakRssBytes.map(mib).join(', ')})`] : []),
];

function dumpRow(size: SizeFigures, target: 's3' | 's3Encrypted' | 'oci' | 'file'): string {
  const dump = size[target]!;
  return [
    `${secs(dump.seconds)} (${dump.cpuSeconds.toFixed(1)} s CPU)`,
    `${count(Math.round(dump.keys / dump.seconds))} keys/s`,
    `${mbps(dump.archiveBytes, dump.seconds)} archive (${mbps(size.tarBytes, dump.seconds)} tar)`,
    ...memory(dump),
  ].join(' · ');
}

/** Our time over the slowest single stage measured on the same data: read, parallel compression, upload. */
export function headline(size: SizeFigures): { ratio: number; slowest: string } {
  const stages: Array<[string, number]> = [
    ['etcdctl snapshot', size.etcdSnapshot.seconds],
    [`pigz -3 -p ${size.pigz.threads}`, size.pigz.seconds],
    ['aws s3 cp', size.awsUpload.seconds],
  ];
  const [slowest, seconds] = stages.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { ratio: size.s3.seconds / seconds, slowest };
}

export function renderTable(results: BenchResults): string {
  const rows: Array<[string, string, string]> = [];
  for (const size of results.throughput) {
    const keys = `${count(size.keys)} keys`;
    const { ratio, slowest } = headline(size);
    rows.push(['1', `${keys}: data`, `${(size.valueBytes / MB).toFixed(0)} MB of values, ${(size.tarBytes / MB).toFixed(0)} MB of tar, ${(size.s3.archiveBytes / MB).toFixed(0)} MB archive`]);
    rows.push(['1', `${keys} → MinIO (dump + store)`, dumpRow(size, 's3')]);
    const encrypted = size.s3Encrypted;
    if (encrypted) {
      rows.push(['1', `${keys} → MinIO, encrypted (age, while it streams)`, dumpRow(size, 's3Encrypted')]);
      const rss = encrypted.peakRssBytes - size.s3.peakRssBytes;
      rows.push(['1', `${keys}: encryption's cost`, `${(encrypted.seconds / size.s3.seconds).toFixed(2)}× the plain time · CPU ${encrypted.cpuSeconds.toFixed(1)} s vs ${size.s3.cpuSeconds.toFixed(1)} s · peak RSS ${rss >= 0 ? '+' : ''}${mib(rss)}`]);
      const back = size.readBack;
      if (back) {
        rows.push(['1', `${keys}: read back and verify (sha256, gunzip, tar)`, `plain ${secs(back.plain.seconds)} (${back.plain.cpuSeconds.toFixed(1)} s CPU) · encrypted ${secs(back.encrypted.seconds)} (${back.encrypted.cpuSeconds.toFixed(1)} s CPU, age decrypt too): ${(back.encrypted.seconds / back.plain.seconds).toFixed(2)}×`]);
      }
    }
    rows.push(['1', `${keys}: read limit, etcdctl snapshot save`, `${secs(size.etcdSnapshot.seconds)} (${mbps(size.etcdSnapshot.bytes, size.etcdSnapshot.seconds)} of db)`]);
    rows.push(['1', `${keys}: one core, gzip -3 of the tar`, `${secs(size.gzip.seconds)} (${mbps(size.tarBytes, size.gzip.seconds)} of tar)`]);
    rows.push(['1', `${keys}: compression limit, pigz -3 on ${size.pigz.threads} cores`, `${secs(size.pigz.seconds)} (${mbps(size.tarBytes, size.pigz.seconds)} of tar)`]);
    rows.push(['1', `${keys}: upload limit, aws s3 cp`, `${secs(size.awsUpload.seconds)} (${mbps(size.awsUpload.bytes, size.awsUpload.seconds)})`]);
    rows.push(['1', `**${keys}: ours / slowest stage**`, `**${ratio.toFixed(2)}×** (slowest: ${slowest})`]);
    const peer = size.vcluster;
    rows.push(['1', `${keys}: vCluster's own writer → MinIO (etcd over TLS)`, `${secs(peer.seconds)} (${peer.cpuSeconds.toFixed(1)} s CPU, etcd ${peer.etcdCpuSeconds.toFixed(1)} s; ${secs(peer.processSeconds)} as a whole process) · ${(peer.archiveBytes / MB).toFixed(0)} MB archive · ${count(peer.keys)} keys · peak RSS ${mib(peer.peakRssBytes)} (${mib(peer.startRssBytes)} before the snapshot)${peer.runsSeconds ? ` · median of ${peer.runsSeconds.length} runs (${peer.runsSeconds.map(secs).join(', ')})` : ''}`]);
    rows.push([
      '1',
      `**${keys}: ours vs vCluster's writer**`,
      `**speed-up ${(peer.seconds / size.s3.seconds).toFixed(1)}×** (their time over ours) · CPU ${size.s3.cpuSeconds.toFixed(1)} s vs ${peer.cpuSeconds.toFixed(1)} s (etcd ${size.etcdCpuSeconds.toFixed(1)} s vs ${peer.etcdCpuSeconds.toFixed(1)} s) · peak RSS ${mib(size.s3.peakRssBytes)} vs ${mib(peer.peakRssBytes)} (above the process before it: +${mib(size.s3.peakRssBytes - size.s3.startRssBytes)} vs +${mib(peer.peakRssBytes - peer.startRssBytes)}) · archive ${(size.s3.archiveBytes / MB).toFixed(0)} vs ${(peer.archiveBytes / MB).toFixed(0)} MB`,
    ]);
    if (size.s3x4) {
      const x4 = size.s3x4;
      rows.push(['1', `${keys} × 4 dumps at once → MinIO (one process)`, [`${secs(x4.seconds)} (${x4.cpuSeconds.toFixed(1)} s CPU)`, ...memory(x4)].join(' · ')]);
    }
    rows.push(['2', `${keys} → OCI registry`, dumpRow(size, 'oci')]);
    rows.push(['2', `${keys} → directory`, dumpRow(size, 'file')]);
  }
  const [small, large] = [results.throughput[0], results.throughput.at(-1)];
  if (small && large && large !== small) {
    const growth = large.s3.peakRssBytes / small.s3.peakRssBytes - 1;
    rows.push(['1', `peak RSS growth, ${count(small.keys)} → ${count(large.keys)} keys (MinIO)`, `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}% (limit +20%)`]);
  }
  for (const pass of results.scale.policies ?? []) {
    const outcomes = Object.entries(pass.outcomes).map(([outcome, n]) => `${count(n)} ${outcome}`).join(', ');
    rows.push(['3', `${count(Object.values(pass.outcomes).reduce((a, b) => a + b, 0) + pass.errors)} policies, sync ${SYNC_CONCURRENCY} at once: ${pass.pass}`, `${secs(pass.seconds)} · ${pass.errors} errors · ${outcomes}${applied(pass)}`]);
  }
  const volumes = results.scale.volumes;
  if (volumes) {
    rows.push(['4', `${count(volumes.pvcs)} PVCs, ${volumes.concurrency} at once`, `${secs(volumes.seconds)} end to end · ${volumes.status} · ${count(volumes.completedVolumes)} volumes Completed`]);
    const bytes = volumes.historyBytes === undefined ? '' : ` · ${(volumes.historyBytes / MB).toFixed(2)} MB of ${HISTORY_LIMITS.bytes / 1024 ** 2} MiB`;
    rows.push(['4', 'parent history vs limits', `${count(volumes.historyEvents)} events of ${count(HISTORY_LIMITS.events)}${bytes}`]);
  }
  const latency = results.scale.latency;
  if (latency) {
    rows.push(['5', `fire → Completed, ${latency.runs} runs @every ${latency.every}`, `median ${secs(latency.medianSeconds)} · max ${secs(latency.maxSeconds)} · ${latency.notCompleted} not completed`]);
  }
  for (const pass of results.fleet?.sync ?? []) {
    const outcomes = Object.entries(pass.outcomes).map(([outcome, n]) => `${count(n)} ${outcome}`).join(', ');
    const cpu = coresBusy(pass.cpuSeconds, pass.seconds);
    rows.push(['6', `${count(Object.values(pass.outcomes).reduce((a, b) => a + b, 0) + pass.errors)} clusters, sync on Temporal/PostgreSQL: ${pass.pass}`, `${secs(pass.seconds)} · ${pass.errors} errors · ${outcomes}${cpu ? ` · cores busy: ${cpu}` : ''}${applied(pass)}`]);
  }
  const burst = results.fleet?.burst;
  if (burst) {
    rows.push(['6', `${count(burst.clusters)} clusters firing on one minute, 3 workers × 2 dumps`, `all done ${secs(burst.seconds)} after the fire · ${count(burst.completed)} Completed · ${burst.failed} Failed`]);
    rows.push(['6', 'dumps per worker (most at once)', burst.perWorker.map((w) => `${count(w.snapshots)} (${w.maxConcurrentDumps})`).join(' · ')]);
    rows.push(['6', 'CPU during the burst', `Temporal server ${burst.serverCpuSeconds.toFixed(0)} s · PostgreSQL ${burst.postgresCpuSeconds.toFixed(0)} s`]);
    const list = burst.scheduleList;
    rows.push(['6', '`temporal schedule list -q VclusterName=…` during the burst', `median ${secs(list.medianSeconds)} · max ${secs(list.maxSeconds)} · ${list.runs} runs · ${list.failures} failed`]);
  }
  const widths = [4, Math.max(...rows.map((r) => r[1].length)), Math.max(...rows.map((r) => r[2].length))];
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(['part', 'measurement', 'result']), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
