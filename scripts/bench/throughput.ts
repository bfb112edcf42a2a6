// Part 1 and 2: dump + store of one etcd at each size, to MinIO, the OCI registry and a directory, through the real
// activity in a child process, beside the read, compression and upload limits measured on the same data.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startEtcd } from '../servers/etcd';
import { startMinio } from '../servers/minio';
import { startRegistry } from '../servers/registry';
import { serverGroup } from '../servers/process';
import type { StorageLocation } from '../../contracts/definitions';
import { awsCli, awsUpload, compressTar, etcdSnapshot, pigzCli, tarEntryCount, type S3Target, type Timed } from './baselines';
import type { DumpFigures, DumpJob } from './dump-child';
import { loadEtcd } from './load-etcd';
import { benchPolicy, s3Storage } from './policy';

const run = promisify(execFile);
const BUCKET = 'vcsnap-bench';

export interface SizeFigures {
  keys: number;
  valueBytes: number;
  loadSeconds: number;
  s3: DumpFigures;
  oci: DumpFigures;
  file: DumpFigures;
  /** Four dumps at once to MinIO in one process (a worker's default VCSNAP_MAX_CONCURRENT_DUMPS). */
  s3x4?: DumpFigures;
  tarBytes: number;
  tarEntries: number;
  etcdSnapshot: Timed;
  gzip: Timed;
  pigz: Timed & { threads: number };
  awsUpload: Timed;
}

async function dumpInChild(job: DumpJob, env: NodeJS.ProcessEnv): Promise<DumpFigures> {
  // Compiled by `npm run bench` (scripts/bench/tsconfig.json): plain node, as the image runs the worker.
  const child = join(__dirname, '..', '..', '.vcsnap', 'bench-dist', 'scripts', 'bench', 'dump-child.js');
  const { stdout } = await run(process.execPath, [child, JSON.stringify(job)], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as DumpFigures;
}

export async function measureThroughput(dir: string, sizes: number[], log: (line: string) => void): Promise<SizeFigures[]> {
  const aws = awsCli(log);
  const pigz = pigzCli(log);
  const { track, stopAll } = serverGroup();
  try {
    const [etcd, minio, registry] = await Promise.all([
      track(startEtcd({ dir, name: 'bench-etcd' })),
      track(startMinio({ dir })),
      track(startRegistry({ dir, name: 'bench-registry' })),
    ]);
    const s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
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
      const load = await loadEtcd(etcd.endpoint, loaded, keys, log);
      loaded = keys;
      valueBytes += load.valueBytes;

      const dump = async (storage: StorageLocation, label: string, parallel = 1): Promise<DumpFigures> => {
        log(`[bench] ${keys.toLocaleString('en-US')} keys -> ${label}${parallel > 1 ? `, ${parallel} at once` : ''}`);
        const job: DumpJob = { policy: benchPolicy(`bench-${label}`, storage, etcd.endpoint), snapshotName: `keys-${keys}${parallel > 1 ? `-x${parallel}` : ''}`, parallel };
        return dumpInChild(job, s3Env);
      };
      const fileDir = join(work, `file-${keys}`);
      const file = await dump({ type: 'container', path: fileDir }, 'file');
      const s3Figures = await dump(s3Storage(minio.endpoint, BUCKET), 's3');
      const oci = await dump({ type: 'oci', registry: registry.host, repository: 'bench/snapshots', insecure: true }, 'oci');
      const s3x4 = keys === Math.max(...sizes) ? await dump(s3Storage(minio.endpoint, BUCKET), 's3', 4) : undefined;

      log(`[bench] ${keys.toLocaleString('en-US')} keys: baselines`);
      const archive = join(fileDir, `keys-${keys}.tar.gz`);
      const snapshotFile = join(work, `etcd-${keys}.db`);
      const etcdFigures = await etcdSnapshot(etcd.endpoint, snapshotFile);
      rmSync(snapshotFile, { force: true });
      const tarFile = join(work, `keys-${keys}.tar`);
      const compression = await compressTar(pigz, archive, tarFile);
      rmSync(tarFile, { force: true });
      const upload = await awsUpload(aws, archive, target, `aws-cli/keys-${keys}.tar.gz`);
      const tarEntries = tarEntryCount(archive);
      rmSync(fileDir, { recursive: true, force: true });
      figures.push({
        keys,
        valueBytes,
        loadSeconds: load.seconds,
        s3: s3Figures,
        s3x4,
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
    return figures;
  } finally {
    await stopAll();
  }
}
