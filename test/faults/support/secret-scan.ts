// The secret scan run after the whole suite: the credential values tests used must appear in no workflow history or
// schedule, no log file, no archive and no metadata record. Needles are each secret as is and base64-encoded;
// haystacks are read raw and, where a gzip stream starts, inflated too. An inflated snapshot archive is read entry
// by entry, its release entry's base64 Helm values decoded; only the snapshotted cluster's own Kubernetes Secrets
// (`/registry/secrets/...` keys dumped from its etcd, or the etcd database of vCluster's embedded-etcd kind) may hold such values: they are that cluster's data, which a
// snapshot must contain, not credentials the product resolved.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { constants, gunzipSync, inflateRawSync } from 'node:zlib';
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import * as k8s from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { DB_KEY, RELEASE_KEY } from '../../../lib/etcd/dump';
import { testEnv } from '../../harness/env';
import { adminKube } from '../../harness/temporal';
import { s3Client } from './fixtures';
import { FIXTURE_DIR } from './yaml-mutations';

export interface Secret {
  value: string;
  source: string;
}

export interface Leak {
  secret: string;
  /** e.g. `history of workflow X`, `file faults/worker-crash.log (gunzipped)` */
  where: string;
}

const SECRET_KEYS = /^(AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AZURE_STORAGE_KEY|AZURE_STORAGE_BLOB_SAS|AZURE_CLIENT_SECRET|password|.*\.key)$/;
const INLINE_SECRET = /(?:password|secret-access-key|secretAccessKey|session-token)["']?\s*[:=]\s*["']?([^"'\s&,}]+)/g;
const MIN_LENGTH = 8;

/** Every secret value the suite put anywhere: harness credentials, kube Secrets, fixture inline passwords. */
export async function secretsUsedInTests(): Promise<Secret[]> {
  const env = testEnv();
  const found: Secret[] = [
    { value: env.minio.secretAccessKey, source: 'harness MinIO secret key' },
    { value: env.authRegistry.password, source: 'harness registry password' },
    { value: env.azurite.accountKey, source: 'harness Azurite account key' },
  ];
  const secrets = await adminKube().makeApiClient(k8s.CoreV1Api).listSecretForAllNamespaces();
  for (const secret of secrets.items) {
    const where = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      const value = Buffer.from(encoded, 'base64').toString('utf8');
      if (SECRET_KEYS.test(key)) found.push({ value: pemBody(value), source: `${where} key ${key}` });
      else for (const match of value.matchAll(INLINE_SECRET)) found.push({ value: match[1], source: `${where} key ${key} (inline)` });
    }
  }
  for (const file of readdirSync(FIXTURE_DIR)) {
    for (const match of readFileSync(join(FIXTURE_DIR, file), 'utf8').matchAll(INLINE_SECRET)) found.push({ value: match[1], source: `fixture ${file}` });
  }
  const unique = new Map(found.filter((s) => s.value.length >= MIN_LENGTH).map((s) => [s.value, s]));
  return [...unique.values()];
}

/** A PEM private key is matched by its longest base64 line, which no other text shares. */
function pemBody(value: string): string {
  if (!value.includes('-----BEGIN')) return value;
  return value.split('\n').reduce((longest, line) => (line.length > longest.length && !line.startsWith('-----') ? line : longest), '');
}

export class SecretScanner {
  readonly leaks: Leak[] = [];
  readonly counts = { histories: 0, schedules: 0, objects: 0, files: 0, bytes: 0 };
  private readonly needles: { secret: Secret; bytes: Buffer }[];

  constructor(readonly secrets: Secret[]) {
    this.needles = secrets.flatMap((secret) => [Buffer.from(secret.value), Buffer.from(Buffer.from(secret.value).toString('base64'))].map((bytes) => ({ secret, bytes })));
  }

  /** Raw bytes, and the first gzip stream inside them (an archive, a record, an xl.meta's inline data) inflated. */
  scan(data: Buffer, where: string): void {
    this.counts.bytes += data.length;
    this.match(data, where);
    const inflated = firstGzipStream(data);
    if (!inflated) return;
    const entries = tarEntries(inflated);
    if (!entries) return this.match(inflated, `${where} (gunzipped)`);
    for (const entry of entries) {
      // vCluster's embedded-etcd kind holds the cluster's whole etcd database, its Secrets included (the product
      // never writes one: the compatibility tests have vCluster's code write it).
      if (CLUSTER_SECRET_KEY.test(entry.name) || entry.name === DB_KEY) continue;
      this.match(entry.body, `${where} (entry ${entry.name})`);
      if (entry.name === RELEASE_KEY) for (const values of releaseValues(entry.body)) this.match(values, `${where} (release entry values)`);
    }
  }

  private match(data: Buffer, where: string): void {
    for (const { secret, bytes } of this.needles) {
      if (data.includes(bytes) && !this.leaks.some((l) => l.secret === secret.source && l.where === where)) this.leaks.push({ secret: secret.source, where });
    }
  }

  async scanTemporal(client: Client): Promise<void> {
    const runs: { workflowId: string; runId: string }[] = [];
    for await (const run of client.workflow.list()) runs.push(run);
    await forEachLimit(runs, 8, async ({ workflowId, runId }) => {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      this.scan(Buffer.concat(bytesIn(history)), `history of workflow ${workflowId}`);
      this.counts.histories++;
    });
    for await (const schedule of client.schedule.list()) {
      const description = await client.schedule.getHandle(schedule.scheduleId).describe();
      this.scan(Buffer.concat(bytesIn(description)), `schedule ${schedule.scheduleId}`);
      this.counts.schedules++;
    }
  }

  /** Every object in the harness's MinIO, through the S3 API (its data directory splits large objects up). */
  async scanMinio(): Promise<void> {
    const s3 = s3Client(testEnv().minio);
    try {
      for (const bucket of (await s3.send(new ListBucketsCommand({}))).Buckets ?? []) {
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket.Name, ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            const body = await s3.send(new GetObjectCommand({ Bucket: bucket.Name, Key: object.Key }));
            this.scan(Buffer.from(await body.Body!.transformToByteArray()), `s3://${bucket.Name}/${object.Key}`);
            this.counts.objects++;
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
    } finally {
      s3.destroy();
    }
  }

  /** Every blob of the harness Azurite account, read through its API (its data dir holds extents, not blobs). */
  async scanAzurite(): Promise<void> {
    const { serviceUrl, accountName, accountKey } = testEnv().azurite;
    const service = new BlobServiceClient(serviceUrl, new StorageSharedKeyCredential(accountName, accountKey));
    for await (const container of service.listContainers()) {
      const client = service.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        this.scan(await client.getBlobClient(blob.name).downloadToBuffer(), `${serviceUrl}/${container.name}/${blob.name}`);
        this.counts.objects++;
      }
    }
  }

  /**
   * Files under the run dir that the product or its servers wrote: logs, file-store archives and records, registry
   * blobs, other MinIO data, Temporal's SQLite file. Not the harness's own credential files (env.json, the kube
   * directory with tokens and kubeconfig, htpasswd, registry config), etcd data (the host cluster's Secrets live
   * there by design), the harness MinIO (scanned through S3) and Azurite (scanned through its blob API), the fuzz test's input files, or a cluster's Secrets
   * that a test extracted from an archive.
   */
  scanRunDir(runDir = testEnv().runDir, skip: string[] = [join(runDir, 'minio-data'), join(runDir, 'azurite-data'), join(runDir, 'faults', 'fuzz')]): void {
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (skip.includes(path)) continue;
        if (entry.isDirectory()) {
          // The servers' own state: the host kube-apiserver's certificates, MinIO's metadata, etcd data, and a
          // vCluster's data dir (its PKI and SQLite store: the cluster's own Secrets live there, as in etcd).
          if (entry.name === 'kube' || entry.name === '.minio.sys' || existsSync(join(path, 'member', 'wal'))) continue;
          if (/^vcluster-/.test(entry.name) && existsSync(join(path, 'data'))) continue;
          walk(path);
        } else if (entry.isFile() && !SKIPPED_FILES.has(entry.name) && !EXTRACTED_CLUSTER_SECRET.test(path)) {
          // A server may remove a temporary file between the listing and its read: what is gone holds nothing.
          const content = readIfPresent(path);
          if (!content?.length) continue;
          this.scan(content, `file ${relative(runDir, path)}`);
          this.counts.files++;
        }
      }
    };
    walk(runDir);
  }
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const SKIPPED_FILES = new Set(['env.json', 'htpasswd', 'config.yml', 'workflow-bundle.js']);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);
const CLUSTER_SECRET_KEY = /^\/?registry\/secrets\//;
/** The same entry extracted from an archive by a test (`tar -x` into the run dir). */
const EXTRACTED_CLUSTER_SECRET = /\/registry\/secrets\//;

/**
 * Inflates the first plausible gzip stream. A stream cut short (a part file, an aborted upload) yields what it has;
 * so does one with a bad checksum (a header without optional fields is skipped and the raw deflate data inflated).
 */
function firstGzipStream(data: Buffer): Buffer | undefined {
  for (let at = data.indexOf(GZIP_MAGIC), tries = 0; at >= 0 && tries < 16; at = data.indexOf(GZIP_MAGIC, at + 1), tries++) {
    // Reserved flag bits clear and a known OS byte: skips most magic bytes that random data contains by chance.
    if (at + 10 > data.length || (data[at + 3] & 0xe0) !== 0 || (data[at + 9] > 13 && data[at + 9] !== 255)) continue;
    const options = { finishFlush: constants.Z_SYNC_FLUSH };
    try {
      return data[at + 3] === 0 ? inflateRawSync(data.subarray(at + 10), options) : gunzipSync(data.subarray(at), options);
    } catch {
      // not a gzip stream after all
    }
  }
  return undefined;
}

/**
 * The entries of a tar stream (USTAR names, PAX `path` records), or undefined when `data` holds none. Blocks that are
 * not a valid header where one is due (a corrupted archive) are skipped until the next valid header.
 */
function tarEntries(data: Buffer): { name: string; body: Buffer }[] | undefined {
  const entries: { name: string; body: Buffer }[] = [];
  let paxPath: string | undefined;
  for (let offset = 0; offset + 512 <= data.length; ) {
    const header = data.subarray(offset, offset + 512);
    if (!validChecksum(header)) {
      offset += 512;
      continue;
    }
    const size = parseInt(text(header, 124, 12) || '0', 8);
    const body = data.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (header[156] === 0x78 /* x: PAX header */) {
      paxPath = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
      continue;
    }
    const prefix = text(header, 345, 155);
    entries.push({ name: paxPath ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100)), body });
    paxPath = undefined;
  }
  return entries.length > 0 ? entries : undefined;
}

function text(header: Buffer, start: number, length: number): string {
  return header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '').trim();
}

function validChecksum(header: Buffer): boolean {
  if (header.subarray(257, 262).toString('latin1') !== 'ustar') return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum === parseInt(text(header, 148, 8), 8);
}

/** The release entry's Helm values, base64 in its JSON. */
function releaseValues(entry: Buffer): Buffer[] {
  try {
    const { values } = JSON.parse(entry.toString('utf8')) as { values?: unknown };
    return typeof values === 'string' ? [Buffer.from(values, 'base64')] : [];
  } catch {
    return [];
  }
}

/** Every string and byte array inside a decoded protobuf message or plain object. */
function bytesIn(value: unknown, out: Buffer[] = [], depth = 0): Buffer[] {
  if (depth > 64 || value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(Buffer.from(value));
  else if (value instanceof Uint8Array) out.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  else if (value instanceof Date) return out;
  else if (typeof value === 'object') for (const child of Object.values(value)) bytesIn(child, out, depth + 1);
  return out;
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}
