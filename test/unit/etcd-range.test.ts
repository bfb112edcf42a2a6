import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { decodeRangeResponse, encodeRangeRequest, type RangeRequest } from '../../lib/etcd/range';

// The reference codec: protobufjs over etcd's own rpc.proto, as etcd3 ships and loads it.
const definition = loadSync(join(require.resolve('etcd3'), '..', '..', 'proto', 'rpc.proto'), { keepCase: true, longs: String, defaults: true });
const range = (definition['etcdserverpb.KV'] as Record<string, MethodDefinition<object, object>>).Range!;

interface ReferencePage {
  header: { revision: string };
  kvs: { key: Buffer; value: Buffer }[];
  more: boolean;
  count: string;
}

describe('etcd Range codec (lib/etcd/range) against protobufjs on etcd’s rpc.proto', () => {
  it('decodes what etcd sends: header, keys and values byte for byte, more, count', () => {
    const kvs = Array.from({ length: 300 }, (_, i) => ({
      key: Buffer.from(`/registry/configmaps/ns-${i % 7}/cm-${i}`),
      value: randomBytes(i * 13),
      create_revision: 1_000 + i,
      mod_revision: 2 ** 40 + i,
      version: i,
      lease: i % 2 ? '7587862106744213525' : 0,
    }));
    const bytes = range.responseSerialize({
      header: { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: 2 ** 35 + 3, raft_term: 9 },
      kvs,
      more: true,
      count: 123_456,
    });
    const page = decodeRangeResponse(bytes);
    const reference = range.responseDeserialize(bytes) as ReferencePage;
    assert.equal(page.revision, reference.header.revision);
    assert.equal(page.revision, String(2 ** 35 + 3));
    assert.equal(page.fromMember, true);
    assert.equal(page.more, true);
    assert.equal(page.count, 123_456);
    assert.equal(page.kvs.length, 300);
    page.kvs.forEach((kv, i) => {
      assert.ok(kv.key.equals(kvs[i]!.key), `key ${i}`);
      assert.ok(kv.value.equals(kvs[i]!.value), `value ${i}`);
    });
  });

  it('reads kine’s header (member 0) and an empty last page', () => {
    const page = decodeRangeResponse(range.responseSerialize({ header: { revision: 42 }, kvs: [], more: false, count: 0 }));
    assert.deepEqual(page, { revision: '42', fromMember: false, kvs: [], more: false, count: 0 });
  });

  it('encodes the request etcd reads: key, range end, limit, revision', () => {
    const request: RangeRequest = { key: Buffer.from('/registry/'), rangeEnd: Buffer.from('/registry0'), limit: 1000, revision: String(2 ** 33 + 1) };
    const decoded = range.requestDeserialize(encodeRangeRequest(request)) as { key: Buffer; range_end: Buffer; limit: string; revision: string };
    assert.ok(decoded.key.equals(request.key));
    assert.ok(decoded.range_end.equals(request.rangeEnd));
    assert.equal(decoded.limit, '1000');
    assert.equal(decoded.revision, String(2 ** 33 + 1));
    const latest = range.requestDeserialize(encodeRangeRequest({ ...request, revision: undefined })) as { revision: string };
    assert.equal(latest.revision, '0');
  });

  it('refuses bytes that are not a RangeResponse, saying so', () => {
    const bytes = range.responseSerialize({ header: { revision: 5 }, kvs: [{ key: Buffer.from('/a'), value: Buffer.from('value') }], more: false, count: 1 });
    for (const cut of [1, 5, bytes.length - 1]) {
      assert.throws(() => decodeRangeResponse(bytes.subarray(0, cut)), /not a RangeResponse/, `cut at ${cut}`);
    }
    assert.throws(() => decodeRangeResponse(Buffer.from([0x0f, 0x00])), /not a RangeResponse/, 'wire type 7');
  });
});
