// etcd's Range call for the dump, on grpc-js with a protobuf codec of its own. etcd3 decodes every response through
// protobufjs (proto-loader, int64s as strings, copied into plain objects): a 1000-key page of 1.8 KB values took
// 1.4-2.5 ms of the event loop there against 0.16-0.3 ms here (100 pages, same process). The dump's event loop also
// feeds compression and the upload, so those milliseconds are the dump's: 1M keys, 1.4-2.5 s. Only the fields the
// dump reads are decoded; key and value are views of the message (no copy), as protobufjs gives them.
import * as grpc from '@grpc/grpc-js';
import { castGrpcError } from 'etcd3';
import type { EtcdConnection } from './client';

export interface RangeRequest {
  key: Buffer;
  rangeEnd: Buffer;
  limit: number;
  /** Decimal, as etcd reports it; absent = the newest revision. */
  revision?: string;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
}

export interface RangePage {
  /** The revision etcd answered at, decimal. */
  revision: string;
  /** Whether the header names an etcd member (kine leaves member_id 0). */
  fromMember: boolean;
  kvs: KeyValue[];
  more: boolean;
  /** Keys from the request's start to its end, whatever the limit. */
  count: number;
}

export interface RangeReader {
  range(request: RangeRequest, deadline: number): Promise<RangePage>;
  close(): void;
}

/** The grpc options every etcd client here uses. */
export const ETCD_GRPC_OPTIONS: grpc.ChannelOptions = {
  // A page of 1000 objects easily passes grpc-js's 4 MiB default; etcd's Go client allows math.MaxInt32.
  'grpc.max_receive_message_length': 2 ** 31 - 1,
  // HTTP/2's 64 KiB default window makes etcd wait for this (busy) event loop ~16 times per 1 MiB page.
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
};

const RANGE = '/etcdserverpb.KV/Range';

/**
 * Reads from the first endpoint, moving to the next when one is unavailable (as etcd3 fails over between hosts).
 * Errors come as etcd3 types them (castGrpcError), so the failures etcd3's calls map are mapped the same way.
 * Unusable TLS material throws here, before any dial.
 */
export function rangeReader(connection: EtcdConnection): RangeReader {
  const { tls } = connection;
  const secure = tls !== undefined || connection.endpoints.some((endpoint) => endpoint.startsWith('https://'));
  const credentials = tls ? grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null) : secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  const targets = connection.endpoints.map((endpoint) => endpoint.replace(/^https?:\/\//, ''));
  let current = 0;
  let client: grpc.Client | undefined;
  let closed = false;
  const call = (request: RangeRequest, deadline: number) =>
    new Promise<RangePage>((resolve, reject) => {
      client ??= new grpc.Client(targets[current]!, credentials, ETCD_GRPC_OPTIONS);
      client.makeUnaryRequest(RANGE, encodeRangeRequest, decodeRangeResponse, request, { deadline }, (err, page) => (err ? reject(err) : resolve(page!)));
    });
  return {
    async range(request, deadline) {
      for (;;) {
        try {
          return await call(request, deadline);
        } catch (err) {
          const unavailable = (err as grpc.ServiceError).code === grpc.status.UNAVAILABLE;
          if (closed || !unavailable || current === targets.length - 1 || Date.now() >= deadline) throw castGrpcError(err as Error);
          client?.close();
          client = undefined;
          current++;
        }
      }
    },
    close() {
      closed = true;
      client?.close();
    },
  };
}

// ---- protobuf wire format (etcd's rpc.proto and kv.proto), only what a range needs ----

function varintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

function writeVarint(buf: Buffer, offset: number, value: number): number {
  let rest = value;
  while (rest >= 0x80) {
    buf[offset++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[offset++] = rest;
  return offset;
}

/** RangeRequest: key = 1, range_end = 2, limit = 3, revision = 4. */
export function encodeRangeRequest(request: RangeRequest): Buffer {
  const revision = request.revision === undefined ? 0 : Number(request.revision);
  const fields: [tag: number, value: Buffer | number][] = [
    [(1 << 3) | 2, request.key],
    [(2 << 3) | 2, request.rangeEnd],
    [3 << 3, request.limit],
    [4 << 3, revision],
  ];
  let size = 0;
  for (const [, value] of fields) size += 1 + (typeof value === 'number' ? varintLength(value) : varintLength(value.length) + value.length);
  const buf = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const [tag, value] of fields) {
    buf[offset++] = tag;
    if (typeof value === 'number') {
      offset = writeVarint(buf, offset, value);
    } else {
      offset = writeVarint(buf, offset, value.length);
      offset += value.copy(buf, offset);
    }
  }
  return buf;
}

/** A cursor over one message; any read past the end or unknown wire type means the bytes are not a RangeResponse. */
class WireReader {
  constructor(
    readonly buf: Buffer,
    public offset = 0,
  ) {}

  /** Exact up to 2^53; beyond it only whether it is zero is kept (member ids are random 64-bit numbers). */
  varint(end: number): number {
    let value = 0;
    for (let scale = 1, i = 0; i < 10; i++, scale *= 0x80) {
      if (this.offset >= end) throw malformed();
      const byte = this.buf[this.offset++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
    throw malformed();
  }

  /** The end of the length-delimited field starting here. */
  delimited(end: number): number {
    const length = this.varint(end);
    if (this.offset + length > end) throw malformed();
    return this.offset + length;
  }

  skip(wireType: number, end: number): void {
    if (wireType === 0) this.varint(end);
    else if (wireType === 2) this.offset = this.delimited(end);
    else if (wireType === 1 || wireType === 5) this.offset += wireType === 1 ? 8 : 4;
    else throw malformed();
    if (this.offset > end) throw malformed();
  }
}

const malformed = () => new Error('etcd answered a range with bytes that are not a RangeResponse');

const EMPTY = Buffer.alloc(0);

function revisionOf(value: number): string {
  // 2^53 revisions: a thousand writes a second for 285,000 years. Past it, the dump would pin an inexact revision.
  if (!Number.isSafeInteger(value)) throw new Error(`etcd's revision is beyond 2^53, which this reader cannot pin`);
  return String(value);
}
/** Tags (field << 3 | wire type) of ResponseHeader.member_id, .revision, KeyValue.key, .value. */
const MEMBER_ID_TAG = 2 << 3;
const REVISION_TAG = 3 << 3;
const KEY_TAG = (1 << 3) | 2;
const VALUE_TAG = (5 << 3) | 2;

/** RangeResponse: header = 1 (ResponseHeader: member_id = 2, revision = 3), kvs = 2 (KeyValue: key = 1, value = 5), more = 3, count = 4. */
export function decodeRangeResponse(buf: Buffer): RangePage {
  const reader = new WireReader(buf);
  const page: RangePage = { revision: '0', fromMember: false, kvs: [], more: false, count: 0 };
  const end = buf.length;
  while (reader.offset < end) {
    const tag = reader.varint(end);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 1 && wireType === 2) {
      const headerEnd = reader.delimited(end);
      while (reader.offset < headerEnd) {
        const headerTag = reader.varint(headerEnd);
        if (headerTag === MEMBER_ID_TAG) page.fromMember = reader.varint(headerEnd) !== 0;
        else if (headerTag === REVISION_TAG) page.revision = revisionOf(reader.varint(headerEnd));
        else reader.skip(headerTag % 8, headerEnd);
      }
    } else if (field === 2 && wireType === 2) {
      const kvEnd = reader.delimited(end);
      let key: Buffer = EMPTY;
      let value: Buffer = EMPTY;
      while (reader.offset < kvEnd) {
        const kvTag = reader.varint(kvEnd);
        if (kvTag === KEY_TAG || kvTag === VALUE_TAG) {
          const fieldEnd = reader.delimited(kvEnd);
          const bytes = buf.subarray(reader.offset, fieldEnd);
          reader.offset = fieldEnd;
          if (kvTag === KEY_TAG) key = bytes;
          else value = bytes;
        } else {
          reader.skip(kvTag % 8, kvEnd);
        }
      }
      page.kvs.push({ key, value });
    } else if (field === 3 && wireType === 0) {
      page.more = reader.varint(end) !== 0;
    } else if (field === 4 && wireType === 0) {
      page.count = reader.varint(end);
    } else {
      reader.skip(wireType, end);
    }
  }
  return page;
}

