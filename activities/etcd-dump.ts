// Streams a virtual cluster's etcd v3 key space into a snapshot archive the way vCluster's writeKeyValueSnapshot
// does (pkg/snapshot/client.go): release entry, request entry, then every key under `/` in byte order, read in pages
// of 1000 at one pinned revision. Memory stays at two pages: the next page is fetched while this one is written.
import { ApplicationFailure } from '@temporalio/common';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  SortOrder,
  SortTarget,
  type IKeyValue,
  type IRangeRequest,
  type IRangeResponse,
} from 'etcd3';
import type { ArchiveWriter } from './archive';

export const ETCD_ERROR_TYPES = {
  unreachable: 'EtcdUnreachable',
  badCredentials: 'EtcdBadCredentials',
  revisionCompacted: 'EtcdRevisionCompacted',
  readFailed: 'EtcdReadFailed',
  unsupportedKey: 'EtcdUnsupportedKey',
} as const;

/** Archive-level bookkeeping in vCluster's format; never dumped from etcd (a restore may have left copies there). */
export const SNAPSHOT_METADATA_PREFIX = '/vcluster/snapshot/';
const METADATA_PREFIX = Buffer.from(SNAPSHOT_METADATA_PREFIX);
export const RELEASE_KEY = `${SNAPSHOT_METADATA_PREFIX}release`;
export const REQUEST_KEY = `${SNAPSHOT_METADATA_PREFIX}request/v1beta1`;
/** vCluster's EtcdPaginationLimit. */
export const PAGE_SIZE = 1000;

export interface EtcdConnection {
  endpoints: string[];
  /** PEM material, e.g. `etcd-ca.crt`, `apiserver-etcd-client.crt`/`.key` from vCluster's `<name>-certs` Secret. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/** vCluster's HelmRelease (`/vcluster/snapshot/release`), read by `vcluster create --restore`. */
export interface ReleaseInfo {
  releaseName: string;
  releaseNamespace: string;
  chartName: string;
  chartVersion: string;
  valuesYaml: string;
}

/** vCluster's snapshot Request (`/vcluster/snapshot/request/v1beta1`). Only the URL: credentials never go in. */
export interface SnapshotRequestInfo {
  name: string;
  creationTimestamp: Date | string;
  /** e.g. `s3://bucket/prefix/name.tar.gz`; any query, fragment or user info is dropped. */
  url: string;
}

export interface DumpOptions {
  /** Called after each page is written (heartbeat here); awaited, so it may apply backpressure. */
  onProgress?: (keys: number, bytes: number) => void | Promise<void>;
  release?: ReleaseInfo;
  request?: SnapshotRequestInfo;
  signal?: AbortSignal;
  /** Key prefix to dump; the product dumps `/` (everything), tests narrow it to their own keys. */
  prefix?: string;
  /** Deadline of the first call, which fails fast when etcd is unreachable. */
  connectTimeoutMs?: number;
  pageTimeoutMs?: number;
}

export interface DumpResult {
  keys: number;
  /** Sum of the raw value bytes written. */
  bytes: number;
  /** The etcd revision every page was read at. */
  revision: string;
}

export async function dumpEtcd(
  connection: EtcdConnection,
  writer: Pick<ArchiveWriter, 'addEntry'>,
  options: DumpOptions = {},
): Promise<DumpResult> {
  const { signal, prefix = '/', connectTimeoutMs = 5_000, pageTimeoutMs = 60_000 } = options;
  const endpoints = connection.endpoints.join(', ');
  const client = connect(connection, endpoints);
  const cancel = () => client.close();
  signal?.addEventListener('abort', cancel);
  // Only etcd's own errors are mapped; the writer's (a failed upload) pass through unchanged.
  const read = (request: IRangeRequest, timeoutMs: number) =>
    client.kv.range(request, { deadline: Date.now() + timeoutMs }).catch((err: unknown) => {
      signal?.throwIfAborted();
      throw etcdFailure(err, endpoints, timeoutMs);
    });
  try {
    signal?.throwIfAborted();
    const range = { key: Buffer.from(prefix), range_end: prefixEnd(Buffer.from(prefix)) };
    // No keys_only: kine rejects it.
    const { revision } = (await read({ ...range, limit: 1 }, connectTimeoutMs)).header;

    if (options.release) await writer.addEntry(RELEASE_KEY, releaseJson(options.release));
    if (options.request) await writer.addEntry(REQUEST_KEY, requestJson(options.request));

    let keys = 0;
    let bytes = 0;
    for await (const page of pages((request) => read({ ...range, ...request, revision }, pageTimeoutMs), range.key)) {
      for (const kv of page) {
        signal?.throwIfAborted();
        if (kv.key.subarray(0, METADATA_PREFIX.length).equals(METADATA_PREFIX)) continue;
        await writer.addEntry(keyName(kv.key), kv.value);
        keys++;
        bytes += kv.value.length;
      }
      signal?.throwIfAborted();
      await options.onProgress?.(keys, bytes);
    }
    signal?.throwIfAborted();
    return { keys, bytes, revision };
  } finally {
    signal?.removeEventListener('abort', cancel);
    client.close();
  }
}

/** Yields page N while page N+1 is already being fetched: at most two pages are held. */
async function* pages(read: (request: IRangeRequest) => Promise<IRangeResponse>, firstKey: Buffer): AsyncGenerator<IKeyValue[]> {
  const fetchFrom = (key: Buffer) => {
    const page = read({ key, limit: PAGE_SIZE, sort_order: SortOrder.Ascend, sort_target: SortTarget.Key });
    page.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    return page;
  };
  let next: Promise<IRangeResponse> | undefined = fetchFrom(firstKey);
  while (next) {
    const page: IRangeResponse = await next;
    const lastKey = page.kvs.at(-1)?.key;
    // vCluster's nextStartKey: the smallest key after the last one.
    next = page.more && lastKey ? fetchFrom(Buffer.concat([lastKey, Buffer.from([0])])) : undefined;
    yield page.kvs;
  }
}

/** The end of the range of keys starting with `prefix` (etcd's GetPrefixRangeEnd); `\0` = no end. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Tar entry names are strings: a key that is not valid UTF-8 cannot be written losslessly, so it fails loudly. */
function keyName(key: Buffer): string {
  const name = key.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(key)) {
    throw ApplicationFailure.create({
      type: ETCD_ERROR_TYPES.unsupportedKey,
      message: `etcd key ${JSON.stringify(name)} is not valid UTF-8 and cannot be archived`,
      nonRetryable: true,
    });
  }
  return name;
}

function releaseJson(release: ReleaseInfo): Buffer {
  return goJson({
    releaseName: release.releaseName,
    releaseNamespace: release.releaseNamespace,
    chartName: release.chartName,
    chartVersion: release.chartVersion,
    values: Buffer.from(release.valuesYaml).toString('base64'),
  });
}

/** Shaped like vCluster's snapshot controller writes it, in its CreatingEtcdBackup phase (status.error is `{}`). */
function requestJson(request: SnapshotRequestInfo): Buffer {
  const creationTimestamp = new Date(request.creationTimestamp).toISOString().replace(/\.\d+Z$/, 'Z');
  return goJson({
    metadata: { name: request.name, creationTimestamp },
    spec: { url: withoutCredentials(request.url) },
    status: { phase: 'CreatingEtcdBackup', error: {} },
  });
}

function withoutCredentials(url: string): string {
  return url.replace(/[?#].*$/s, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** JSON as Go's encoding/json writes it: HTML-sensitive characters escaped. */
function goJson(value: unknown): Buffer {
  const json = JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(json);
}

function connect(connection: EtcdConnection, endpoints: string): Etcd3 {
  const { tls } = connection;
  try {
    return new Etcd3({
      hosts: connection.endpoints,
      credentials: tls && { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      // A page of 1000 objects easily passes grpc-js's 4 MiB default; etcd's Go client allows math.MaxInt32.
      grpcOptions: { 'grpc.max_receive_message_length': 2 ** 31 - 1 },
    });
  } catch (err) {
    // grpc rejects unusable TLS material (a certificate without its key, unparsable PEM) before dialing.
    const cause = err instanceof Error ? err : new Error(String(err));
    const message = `TLS material for etcd at ${endpoints} is unusable: ${cause.message}`;
    throw ApplicationFailure.create({ type: ETCD_ERROR_TYPES.badCredentials, message, nonRetryable: true, cause });
  }
}

const TLS_FAILURE = /certificate|altnames|alert|ssl|self[- ]signed|PEM routines|wrong version number|decrypt/i;

function etcdFailure(err: unknown, endpoints: string, timeoutMs: number): ApplicationFailure {
  const cause = err instanceof Error ? err : new Error(String(err));
  if (cause instanceof GRPCDeadlineExceededError) {
    const message = `etcd at ${endpoints} is unreachable: no answer within ${timeoutMs / 1000}s`;
    return ApplicationFailure.create({ type: ETCD_ERROR_TYPES.unreachable, message, cause });
  }
  const failure = (type: string, message: string, nonRetryable = false) =>
    ApplicationFailure.create({ type, message: `${message}: ${cause.message}`, nonRetryable, cause });
  if (
    cause instanceof GRPCUnauthenticatedError ||
    cause instanceof EtcdAuthenticationFailedError ||
    cause instanceof EtcdPermissionDeniedError ||
    TLS_FAILURE.test(cause.message)
  ) {
    return failure(ETCD_ERROR_TYPES.badCredentials, `etcd at ${endpoints} rejected the TLS material or credentials`, true);
  }
  if (/required revision has been compacted/.test(cause.message)) {
    return failure(ETCD_ERROR_TYPES.revisionCompacted, `etcd at ${endpoints} compacted the revision being dumped`);
  }
  if (cause instanceof GRPCUnavailableError) {
    return failure(ETCD_ERROR_TYPES.unreachable, `etcd at ${endpoints} is unreachable`);
  }
  return failure(ETCD_ERROR_TYPES.readFailed, `reading etcd at ${endpoints} failed`);
}
