// Part 1 and 2: dump + store of one etcd at each size, to MinIO, the OCI registry and a directory, through the real
// activity in a child process, beside the read, compression and upload limits measured on the same data.
import { execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startEtcd } from '../servers/etcd';
import { startMinio } from '../servers/minio';
import { startRegistry } from '../servers/registry';
import { serverGroup, versions } from '../servers/process';
import type { StorageLocation } from '../../contracts/definitions';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  archiveKeyCount,
  awsCli,
  awsUpload,
  compressTar,
  etcdSnapshot,
  gnuTime,
  pigzCli,
  processCpuSeconds,
  tarEntryCount,
  vclusterSnapshot,
  type PeerFigures,
  type S3Target,
  type Timed,
} from './baselines';
import type { DumpFigures, DumpJob } from './dump-child';
import { loadEtcd } from './load-etcd';
import { benchKeyPair, benchPolicy, s3Storage } from './policy';
import { verifyArchive } from '../../lib/archive/verify';
import { createStore } from '../../lib/storage';

const run = promisify(execFile);
const BUCKET = 'vcsnap-bench';

export interface SizeFigures {
  keys: number;
  valueBytes: number;
  loadSeconds: number;
  s3: DumpFigures;
  /** The same dump to MinIO, encrypted (age, one X25519 recipient) while it streams. */
  s3Encrypted?: DumpFigures;
  oci: DumpFigures;
  file: DumpFigures;
  /** Reading each MinIO archive back and verifying it (sha256, gunzip, tar format), the encrypted one decrypted too. */
  readBack?: { plain: ReadBack; encrypted: ReadBack };
  /** Four dumps at once to MinIO in one process (a worker's default VCSNAP_MAX_CONCURRENT_DUMPS). */
  s3x4?: DumpFigures;
  /** CPU etcd spent serving our MinIO dump. */
  etcdCpuSeconds: number;
  /** vCluster's own writer on the same data, to the same MinIO; its key count beside ours. */
  vcluster: PeerFigures & { archiveBytes: number; keys: number };
  tarBytes: number;
  tarEntries: number;
  etcdSnapshot: Timed;
  gzip: Timed;
  pigz: Timed & { threads: number };
  awsUpload: Timed;
}

export interface ReadBack {
  seconds: number;
  cpuSeconds: number;
  keys: number;
}

/** What `vcsnap verify` does to a stored archive, timed in this process: download, decrypt if needed, check. */
async function readBack(storage: StorageLocation, credentials: { accessKeyId: string; secretAccessKey: string }, snapshotName: string, expected: DumpFigures, identity?: string): Promise<ReadBack> {
  const store = createStore(storage, credentials);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const report = await verifyArchive(await store.getArchive(snapshotName), undefined, { identities: identity ? async () => [identity] : undefined, what: snapshotName });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (!report.ok || report.keys !== expected.keys) throw new Error(`read back ${snapshotName}: ${report.problem?.message ?? `${report.keys} keys, the dump wrote ${expected.keys}`}`);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, keys: report.keys };
}

/** The allocator settings the image gives the worker (the Dockerfile's `ENV MALLOC_...`): the child's RSS is the image's. */
const IMAGE_ALLOCATOR_ENV: Record<string, string> = Object.fromEntries(
  [...readFileSync(join(__dirname, '..', '..', 'Dockerfile'), 'utf8').matchAll(/^ENV (MALLOC_[A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
);

async function dumpInChild(job: DumpJob, env: NodeJS.ProcessEnv): Promise<DumpFigures> {
  // Compiled by `npm run bench` (scripts/bench/tsconfig.json): plain node, as the image runs the worker.
  const child = join(__dirname, '..', '..', '.vcsnap', 'bench-dist', 'scripts', 'bench', 'dump-child.js');
  // BENCH_CHILD_NODE_ARGS: node options for the dump child alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const { stdout } = await run(process.execPath, [...nodeArgs, child, JSON.stringify(job)], {
    env: { ...process.env, ...IMAGE_ALLOCATOR_ENV, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as DumpFigures;
}

/** The MinIO dumps that carry the memory targets run this many times; their rows are the medians (default 3). */
const DUMP_RUNS = Math.max(1, Number(process.env.BENCH_DUMP_RUNS ?? 3));

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * vCluster's writer, as many times as our MinIO dump when a run takes under a minute (its 100k-key run varies by a
 * tenth, as ours does: one run against our median made the speed-up swing), once when it takes longer (1M: 3 minutes).
 */
async function peerMedian(runOnce: () => Promise<PeerFigures>): Promise<PeerFigures> {
  const runs = [await runOnce()];
  while (runs.length < DUMP_RUNS && runs[0]!.seconds < 60) runs.push(await runOnce());
  if (runs.length === 1) return runs[0]!;
  const of = (field: Exclude<keyof PeerFigures, 'runsSeconds'>) => median(runs.map((r) => r[field]));
  return {
    seconds: of('seconds'),
    cpuSeconds: of('cpuSeconds'),
    processSeconds: of('processSeconds'),
    peakRssBytes: of('peakRssBytes'),
    startRssBytes: of('startRssBytes'),
    etcdCpuSeconds: of('etcdCpuSeconds'),
    runsSeconds: runs.map((r) => r.seconds),
  };
}

/** Each figure's median over the runs (peak RSS, heap and external apart), with every run's peak RSS beside it. */
function medianOf(runs: DumpFigures[]): DumpFigures {
  const of = (field: 'seconds' | 'peakRssBytes' | 'peakHeapBytes' | 'peakExternalBytes' | 'startRssBytes' | 'cpuSeconds') => median(runs.map((r) => r[field]));
  return {
    ...runs[0]!,
    seconds: of('seconds'),
    peakRssBytes: of('peakRssBytes'),
    peakHeapBytes: of('peakHeapBytes'),
    peakExternalBytes: of('peakExternalBytes'),
    startRssBytes: of('startRssBytes'),
    cpuSeconds: of('cpuSeconds'),
    ...(runs.length > 1 ? { runsPeakRssBytes: runs.map((r) => r.peakRssBytes) } : {}),
  };
}

export async function measureThroughput(dir: string, sizes: number[], log: (line: string) => void): Promise<SizeFigures[]> {
  const aws = awsCli(log);
  const pigz = pigzCli(log);
  const time = gnuTime(log);
  const { track, stopAll } = serverGroup();
  try {
    const [etcd, minio, registry] = await Promise.all([
      // TLS with client certificates for vCluster's writer (it reaches an external etcd over TLS only), plain HTTP on a
      // second listener of the same member for ours (the bench's dump has no host cluster to read TLS Secrets from).
      track(startEtcd({ dir, name: 'bench-etcd', tls: true, plain: true })),
      track(startMinio({ dir })),
      track(startRegistry({ dir, name: 'bench-registry' })),
    ]);
    const s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const target: S3Target = { endpoint: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, bucket: BUCKET };
    const s3Env = { AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey, AWS_REGION: 'us-east-1' };
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });

    const figures: SizeFigures[] = [];
    let loaded = 0;
    let valueBytes = 0;
    for (const keys of [...sizes].sort((a, b) => a - b)) {
      // One etcd grows from the small size to the large one: load only the keys it does not hold yet.
      log(`[bench] loading etcd to ${keys.toLocaleString('en-US')} keys`);
      const load = await loadEtcd(etcd.plainEndpoint!, loaded, keys, log);
      loaded = keys;
      valueBytes += load.valueBytes;

      const dump = async (storage: StorageLocation, label: string, parallel = 1, overrides: Partial<DumpJob['policy']> = {}, runs = 1): Promise<DumpFigures> => {
        const figures: DumpFigures[] = [];
        for (let i = 1; i <= runs; i++) {
          log(`[bench] ${keys.toLocaleString('en-US')} keys -> ${label}${parallel > 1 ? `, ${parallel} at once` : ''}${runs > 1 ? `, run ${i} of ${runs}` : ''}`);
          // A name per run: a stored archive of the same name would be taken as this run's own, not dumped again.
          const snapshotName = `keys-${keys}${parallel > 1 ? `-x${parallel}` : ''}${overrides.encryption ? '-age' : ''}${i > 1 ? `-r${i}` : ''}`;
          figures.push(await dumpInChild({ policy: benchPolicy(`bench-${label}`, storage, etcd.plainEndpoint!, overrides), snapshotName, parallel }, s3Env));
        }
        return medianOf(figures);
      };
      const fileDir = join(work, `file-${keys}`);
      const file = await dump({ type: 'container', path: fileDir }, 'file');
      const etcdBefore = processCpuSeconds(etcd.child.pid!);
      const s3Figures = await dump(s3Storage(minio.endpoint, BUCKET), 's3', 1, {}, DUMP_RUNS);
      const etcdCpuSeconds = (processCpuSeconds(etcd.child.pid!) - etcdBefore) / DUMP_RUNS;
      const age = await benchKeyPair();
      const s3Encrypted = await dump(s3Storage(minio.endpoint, BUCKET), 's3-age', 1, { encryption: { recipients: [age.recipient] } });
      log(`[bench] ${keys.toLocaleString('en-US')} keys: read back and verify, plain and encrypted`);
      const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
      const readBackFigures = {
        plain: await readBack(s3Storage(minio.endpoint, BUCKET), credentials, `keys-${keys}`, s3Figures),
        encrypted: await readBack(s3Storage(minio.endpoint, BUCKET), credentials, `keys-${keys}-age`, s3Encrypted, age.identity),
      };
      log(`[bench] ${keys.toLocaleString('en-US')} keys -> s3, vCluster ${versions().VCLUSTER_VERSION}'s own writer`);
      const peerKey = `vcluster/keys-${keys}.tar.gz`;
      const peerUrl = `s3://${BUCKET}/${peerKey}?region=us-east-1&force-path-style=true&url=${Buffer.from(minio.endpoint).toString('base64')}`;
      const peer = await peerMedian(() => vclusterSnapshot(time, etcd, peerUrl, { ...s3Env, AWS_EC2_METADATA_DISABLED: 'true' }));
      const oci = await dump({ type: 'oci', registry: registry.host, repository: 'bench/snapshots', insecure: true }, 'oci');
      const s3x4 = keys === Math.max(...sizes) ? await dump(s3Storage(minio.endpoint, BUCKET), 's3', 4, {}, DUMP_RUNS) : undefined;

      log(`[bench] ${keys.toLocaleString('en-US')} keys: baselines`);
      const archive = join(fileDir, `keys-${keys}.tar.gz`);
      const snapshotFile = join(work, `etcd-${keys}.db`);
      const etcdFigures = await etcdSnapshot(etcd.plainEndpoint!, snapshotFile);
      rmSync(snapshotFile, { force: true });
      const tarFile = join(work, `keys-${keys}.tar`);
      const compression = await compressTar(pigz, archive, tarFile);
      rmSync(tarFile, { force: true });
      const upload = await awsUpload(aws, archive, target, `aws-cli/keys-${keys}.tar.gz`);
      const tarEntries = tarEntryCount(archive);
      const peerFile = join(work, `vcluster-${keys}.tar.gz`);
      const peerObject = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: peerKey }));
      await pipeline(peerObject.Body as Readable, createWriteStream(peerFile));
      const vcluster = { ...peer, archiveBytes: statSync(peerFile).size, keys: archiveKeyCount(peerFile) };
      rmSync(peerFile, { force: true });
      if (vcluster.keys !== s3Figures.keys) throw new Error(`vCluster's archive holds ${vcluster.keys} keys, ours ${s3Figures.keys}: not the same data`);
      rmSync(fileDir, { recursive: true, force: true });
      figures.push({
        keys,
        valueBytes,
        loadSeconds: load.seconds,
        s3: s3Figures,
        s3Encrypted,
        readBack: readBackFigures,
        s3x4,
        etcdCpuSeconds,
        vcluster,
        oci,
        file,
        tarBytes: compression.tarBytes,
        tarEntries,
        etcdSnapshot: etcdFigures,
        gzip: compression.gzip,
        pigz: compression.pigz,
        awsUpload: upload,
      });
    }
    s3.destroy();
    return figures;
  } finally {
    await stopAll();
  }
}
