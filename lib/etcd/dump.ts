// Streams a virtual cluster's etcd v3 key space into a snapshot archive the way vCluster's writeKeyValueSnapshot
// does (pkg/snapshot/client.go): release entry, request entry, revision entry (vCluster's newest writer), then every key under `/` in byte order, read in pages
// of 1000 at one pinned revision. Memory stays at two pages: the next page is fetched while this one is written.
// The pages come through lib/etcd/range (its own Range call; etcd3's decoding cost the event loop 1-2.5 s per 1M keys).
import type { ApplicationFailure } from '@temporalio/common';
import { failure } from '../../contracts/errors';
import type { ArchiveWriter } from '../archive/writer';
import { commonEtcdFailure, etcdFailureOf, withUsableTls, type EtcdConnection } from './client';
import { rangeReader, type KeyValue, type RangePage, type RangeRequest } from './range';

/** Archive-level bookkeeping in vCluster's format; never dumped from etcd (a restore may have left copies there). */
export const SNAPSHOT_METADATA_PREFIX = '/vcluster/snapshot/';
const METADATA_PREFIX = Buffer.from(SNAPSHOT_METADATA_PREFIX);
export const RELEASE_KEY = `${SNAPSHOT_METADATA_PREFIX}release`;
export const REQUEST_KEY = `${SNAPSHOT_METADATA_PREFIX}request/v1beta1`;
/**
 * The revision every page is read at, decimal: vCluster's newest writer (RevisionStoreKey, after v0.36.1) puts it
 * after the release and request entries. vCluster v0.36.1's restore takes it as one more key and Puts it into etcd
 * (outside /registry, so the API server never sees it); its newer restore skips every /vcluster/snapshot/ entry.
 */
export const REVISION_KEY = `${SNAPSHOT_METADATA_PREFIX}revision`;
/** vCluster's embedded-etcd kind: the etcd database snapshot itself, then optionally the keys to delete after it. */
export const DB_KEY = `${SNAPSHOT_METADATA_PREFIX}db`;
export const SKIP_KEYS_KEY = `${SNAPSHOT_METADATA_PREFIX}skipkeys`;
/** vCluster's EtcdPaginationLimit. */
export const PAGE_SIZE = 1000;

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
  const client = withUsableTls(() => rangeReader(connection), endpoints);
  const cancel = () => client.close();
  signal?.addEventListener('abort', cancel);
  // Only etcd's own errors are mapped; the writer's (a failed upload) pass through unchanged.
  const read = (request: RangeRequest, timeoutMs: number) =>
    client.range(request, Date.now() + timeoutMs).catch((err: unknown) => {
      signal?.throwIfAborted();
      throw etcdFailure(err, endpoints, timeoutMs);
    });
  try {
    signal?.throwIfAborted();
    const range = { key: Buffer.from(prefix), rangeEnd: prefixEnd(Buffer.from(prefix)) };
    // The revision to pin is in every answer's header: asked with a read of one key, which etcd answers without
    // counting the range (the whole range with limit 1 walks every key of it: 18 ms per 100,000 keys). No keys_only:
    // kine rejects it.
    const { revision, fromMember } = await read({ key: range.key, rangeEnd: NO_RANGE_END, limit: 1 }, connectTimeoutMs);
    // etcd names its member in every header; kine leaves it 0 (and would misread a window, see below).
    const windows = new RangeWindows(range, fromMember);

    if (options.release) await writer.addEntry(RELEASE_KEY, releaseJson(options.release));
    if (options.request) await writer.addEntry(REQUEST_KEY, requestJson(options.request));
    await writer.addEntry(REVISION_KEY, Buffer.from(revision));

    let keys = 0;
    let bytes = 0;
    for await (const page of pages((request) => read({ ...request, revision }, pageTimeoutMs), windows)) {
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
async function* pages(read: (request: RangeRequest) => Promise<RangePage>, windows: RangeWindows): AsyncGenerator<KeyValue[]> {
  const fetch = (request: PageRequest) => {
    const page = read(request);
    page.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    return { request, page };
  };
  let next: { request: PageRequest; page: Promise<RangePage> } | undefined = fetch(windows.first());
  while (next) {
    const page = await next.page;
    const following = windows.next(next.request, page);
    next = following && fetch(following);
    yield page.kvs;
  }
}

type PageRequest = Omit<RangeRequest, 'revision'>;
const ZERO = Buffer.from([0]);
/** An empty range_end: the request reads the one key. */
const NO_RANGE_END = Buffer.alloc(0);

/**
 * etcd answers a range request with the count of all the keys from its start to its end, walking its index to get
 * it: paging through one range of n keys walks n²/(2 * PAGE_SIZE) index entries (3 minutes for 1M keys). Against
 * etcd, pages are therefore read from windows of the range: the keys sharing the first `depth` bytes of the window's
 * start, deeper when a window counts more than 16 pages (down to the prefix the page's keys share) and shallower by a
 * byte when a new window counts less than one page. The windows tile the range in order, so the pages hold exactly
 * what one long range would. No sort order is asked for: etcd returns keys in order, and with any sort order it
 * reads the whole rest of the range for every page.
 * kine turns range_end into a `<prefix>/` to list, which a window's end is not: it gets the whole range, as before.
 */
class RangeWindows {
  private depth: number;
  /** Whether the last request opened a window (rather than continuing one after a full page). */
  private freshWindow = true;

  constructor(
    private readonly range: { key: Buffer; rangeEnd: Buffer },
    private readonly windowed: boolean,
  ) {
    this.depth = range.key.length;
  }

  first(): PageRequest {
    return this.window(this.range.key);
  }

  /** The request after `request`, given its answer; undefined when the range is done. */
  next(request: PageRequest, page: RangePage): PageRequest | undefined {
    const firstKey = page.kvs[0]?.key;
    const lastKey = page.kvs.at(-1)?.key;
    const { count } = page;
    if (count > 16 * PAGE_SIZE && firstKey && lastKey) {
      this.depth = Math.max(this.depth + 1, commonPrefixLength(firstKey, lastKey));
    } else if (this.freshWindow && count < PAGE_SIZE) {
      this.depth = Math.max(this.range.key.length, this.depth - 1);
    }
    this.freshWindow = !page.more;
    // vCluster's nextStartKey: the smallest key after the last one.
    if (page.more && lastKey) return this.window(Buffer.concat([lastKey, ZERO]));
    if (request.rangeEnd.equals(this.range.rangeEnd)) return undefined;
    return this.window(request.rangeEnd);
  }

  private window(key: Buffer): PageRequest {
    let end = this.range.rangeEnd;
    if (this.windowed) {
      const windowEnd = prefixEnd(key.subarray(0, this.depth));
      const beyond = windowEnd.equals(ZERO) || (!end.equals(ZERO) && Buffer.compare(windowEnd, end) > 0);
      if (!beyond) end = windowEnd;
    }
    return { key, rangeEnd: end, limit: PAGE_SIZE };
  }
}

function commonPrefixLength(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
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
    throw failure('EtcdUnsupportedKey', `etcd key ${JSON.stringify(name)} is not valid UTF-8 and cannot be archived`);
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

function etcdFailure(err: unknown, endpoints: string, timeoutMs: number): ApplicationFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (/required revision has been compacted/.test(message)) {
    return etcdFailureOf(err, 'EtcdRevisionCompacted', `etcd at ${endpoints} compacted the revision being dumped`);
  }
  return commonEtcdFailure(err, endpoints, timeoutMs) ?? etcdFailureOf(err, 'EtcdReadFailed', `reading etcd at ${endpoints} failed`);
}
