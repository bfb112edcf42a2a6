// The machine's limits for each stage of a dump, measured on the same data in the same run: etcd's own snapshot
// (read), `gzip -3` on one core and `pigz -3` on all cores over the same tar (compression), and `aws s3 cp` of the
// same archive (upload).
import { execFileSync, spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { etcdBinary, type EtcdServer } from '../servers/etcd';
import { etcdFlags, vclusterCompatBinary } from '../servers/vcluster-compat';

export interface Timed {
  seconds: number;
  bytes: number;
}

/** Runs a command to completion and times it; `stdout` is a file to write into (default: discarded). */
async function timed(command: string, args: string[], options: { stdout?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const out = options.stdout ? openSync(options.stdout, 'w') : 'ignore';
  const stdio: StdioOptions = ['ignore', out, 'pipe'];
  const started = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio, env: { ...process.env, ...options.env } });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))));
    });
  } finally {
    if (typeof out === 'number') closeSync(out);
  }
  return (performance.now() - started) / 1000;
}

/** `etcdctl snapshot save`: streams etcd's whole database file, the fastest way to read it out. */
export async function etcdSnapshot(endpoint: string, file: string): Promise<Timed> {
  const seconds = await timed(etcdBinary('etcdctl'), ['--endpoints', endpoint, 'snapshot', 'save', file]);
  return { seconds, bytes: statSync(file).size };
}

/**
 * Unpacks the archive to a plain tar once (untimed), then times `gzip -3` on one core and `pigz -3` on every core
 * over it (the fair limit: the pipeline compresses on several threads too).
 */
export async function compressTar(pigz: string, archive: string, tarFile: string): Promise<{ gzip: Timed; pigz: Timed & { threads: number }; tarBytes: number }> {
  await timed('gzip', ['-d', '-c', archive], { stdout: tarFile });
  const tarBytes = statSync(tarFile).size;
  const gzipSeconds = await timed('gzip', ['-3', '-c', tarFile]);
  const threads = availableParallelism();
  const pigzSeconds = await timed(pigz, ['-3', '-p', String(threads), '-c', tarFile]);
  return { gzip: { seconds: gzipSeconds, bytes: tarBytes }, pigz: { seconds: pigzSeconds, bytes: tarBytes, threads }, tarBytes };
}

/** `tar -tzf` must read what we wrote (multi-member gzip included); returns the entry count. */
export function tarEntryCount(archive: string): number {
  const listing = execFileSync('tar', ['-tzf', archive], { maxBuffer: 1024 ** 3 });
  let lines = 0;
  for (const byte of listing) if (byte === 0x0a) lines++;
  return lines;
}

export interface S3Target {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** `aws s3 cp` of the archive to the same MinIO (its default multipart settings: 8 MiB parts, 10 at once). */
export async function awsUpload(aws: string, archive: string, target: S3Target, key: string): Promise<Timed> {
  const env = { AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1' };
  const seconds = await timed(aws, ['--endpoint-url', target.endpoint, 's3', 'cp', '--only-show-errors', archive, `s3://${target.bucket}/${key}`], { env });
  return { seconds, bytes: statSync(archive).size };
}

function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs a Debian package (apt-get, updating the index once if the first try fails). */
function aptInstall(log: (line: string) => void, pkg: string): void {
  log(`[bench] installing Debian ${pkg} (apt-get)`);
  const apt = (...args: string[]) => execFileSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    apt('install', '-y', '-qq', pkg);
  } catch {
    apt('update', '-qq');
    apt('install', '-y', '-qq', pkg);
  }
}

/** A working `aws` CLI: the one on PATH if it runs (a pyenv shim may not), else Debian's awscli, installed now. */
export function awsCli(log: (line: string) => void): string {
  if (runs('aws', ['--version'])) return 'aws';
  if (!runs('/usr/bin/aws', ['--version'])) aptInstall(log, 'awscli');
  if (!runs('/usr/bin/aws', ['--version'])) throw new Error('awscli installed, but /usr/bin/aws does not run');
  return '/usr/bin/aws';
}

/** Debian's pigz (parallel gzip), installed now if missing. */
export function pigzCli(log: (line: string) => void): string {
  if (!runs('/usr/bin/pigz', ['--version'])) aptInstall(log, 'pigz');
  if (!runs('/usr/bin/pigz', ['--version'])) throw new Error('pigz installed, but /usr/bin/pigz does not run');
  return '/usr/bin/pigz';
}

export interface PeerFigures {
  /** The snapshot itself, as the program timed it: from reading its URL to Client.Run's return, no process start-up. */
  seconds: number;
  cpuSeconds: number;
  /** The whole process, start-up included (GNU time). */
  processSeconds: number;
  peakRssBytes: number;
  /** Resident memory of the process before the snapshot: the binary and its packages' initialisation. */
  startRssBytes: number;
  /** CPU etcd spent serving the dump. */
  etcdCpuSeconds: number;
  /** Where this is the median of several runs: each run's wall time, in the order they ran. */
  runsSeconds?: number[];
}

/** utime + stime of one process, in seconds (clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** GNU time (Debian `time`), installed now if missing: wall, CPU and peak RSS of a child. */
export function gnuTime(log: (line: string) => void): string {
  if (!runs('/usr/bin/time', ['-f', '%e', 'true'])) aptInstall(log, 'time');
  return '/usr/bin/time';
}

/**
 * vCluster v0.36.1's own snapshot writer (`snapshot.Client.Run` through scripts/go/vcluster-compat) from `etcd` over
 * TLS, as vCluster reaches an external etcd, to `url` (vCluster's URL form); `env` carries the storage credentials.
 */
export async function vclusterSnapshot(time: string, etcd: EtcdServer, url: string, env: NodeJS.ProcessEnv): Promise<PeerFigures> {
  const timeReport = `${etcd.dataDir}.time`;
  const ownReport = `${etcd.dataDir}.report.json`;
  const etcdBefore = processCpuSeconds(etcd.child.pid!);
  const processSeconds = await timed(time, ['-f', '%M', '-o', timeReport, vclusterCompatBinary(), 'snapshot', '--report', ownReport, ...etcdFlags(etcd.endpoint, etcd.tls!), url], { env });
  const maxKb = Number(readFileSync(timeReport, 'utf8').trim().split('\n').at(-1));
  const own = JSON.parse(readFileSync(ownReport, 'utf8')) as { seconds: number; cpuSeconds: number; startRssBytes: number };
  return { ...own, processSeconds, peakRssBytes: maxKb * 1024, etcdCpuSeconds: processCpuSeconds(etcd.child.pid!) - etcdBefore };
}

/** Keys (entries outside /vcluster/snapshot/) of an archive, listed by `tar -tzf`. */
export function archiveKeyCount(archive: string): number {
  const listing = execFileSync('tar', ['-tzf', archive], { maxBuffer: 1024 ** 3 }).toString('utf8');
  return listing.split('\n').filter((name) => name !== '' && !name.replace(/^\/?/, '/').startsWith('/vcluster/snapshot/')).length;
}
