import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { createArchiveWriter } from '../../lib/archive/writer';
import { implausibleValue, verifyArchive } from '../../lib/archive/verify';
import { type VerifyReport } from '../../contracts/restore';
import { clusterNameOf, parseSnapshotRef } from '../../client/snapshot-ref';

const RELEASE = '/vcluster/snapshot/release';
const REQUEST = '/vcluster/snapshot/request/v1beta1';
const REVISION = '/vcluster/snapshot/revision';
const DB = '/vcluster/snapshot/db';
const releaseBody = Buffer.from(JSON.stringify({ releaseName: 'demo', releaseNamespace: 'team-a', chartName: 'vcluster', chartVersion: '0.30.0', values: '' }));
const requestBody = Buffer.from(JSON.stringify({ metadata: { name: 'demo-1', creationTimestamp: '2026-11-23T12:00:00Z' }, spec: { url: 's3://b/p/demo-1.tar.gz' }, status: { phase: 'CreatingEtcdBackup' } }));

async function archiveOf(entries: Array<[string, Buffer]>): Promise<Buffer> {
  const writer = createArchiveWriter();
  const output = buffer(writer.stream);
  for (const [name, body] of entries) await writer.addEntry(name, body);
  await writer.finish();
  return output;
}

/** A tar built without the writer's care, to break the layout rules on purpose. */
async function rawTar(entries: Array<{ name: string; body?: Buffer; type?: 'file' | 'directory' }>): Promise<Buffer> {
  const tar = pack();
  const output = buffer(tar);
  for (const { name, body = Buffer.alloc(0), type = 'file' } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') tar.entry({ name, type, size: body.length }, body, done);
      else tar.entry({ name, type }, done);
    });
  }
  tar.finalize();
  return output;
}

/** Realistic values: JSON objects with random content, so gzip cannot squeeze them to nothing. */
function keys(count: number, prefix = '/registry/configmaps/ns/cm-'): Array<[string, Buffer]> {
  return Array.from({ length: count }, (_, i) => [
    `${prefix}${String(i).padStart(5, '0')}`,
    Buffer.from(JSON.stringify({ kind: 'ConfigMap', metadata: { name: `cm-${i}`, uid: randomBytes(16).toString('hex') }, data: { v: randomBytes(60).toString('base64') } })),
  ]);
}

const verify = (archive: Buffer, sha256?: string) => verifyArchive(Readable.from([archive.subarray(0, archive.length >> 1), archive.subarray(archive.length >> 1)]), sha256);
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const offsetIn = (report: VerifyReport) => Number(/compressed byte (\d+)/.exec(report.problem?.message ?? '')?.[1]);

describe('verifyArchive', () => {
  it('accepts a sound archive and reports keys, sizes, digest, release and request', async () => {
    const entries = keys(300);
    const archive = await archiveOf([[RELEASE, releaseBody], [REQUEST, requestBody], ...entries]);
    const report = await verify(archive, sha(archive).toUpperCase());
    assert.equal(report.ok, true, report.problem?.message);
    assert.equal(report.keys, 300);
    assert.equal(report.entries, 302);
    assert.equal(report.archiveBytes, archive.length);
    assert.equal(report.sha256, sha(archive));
    assert.equal(report.valueBytes, entries.reduce((sum, [, body]) => sum + body.length, 0));
    assert.equal(report.firstKey, entries[0]![0]);
    assert.equal(report.lastKey, entries.at(-1)![0]);
    assert.deepEqual(report.release, { releaseName: 'demo', releaseNamespace: 'team-a', chartName: 'vcluster', chartVersion: '0.30.0' });
    assert.deepEqual(report.request, { name: 'demo-1', url: 's3://b/p/demo-1.tar.gz' });
  });

  it('hands every entry to onEntry in order, with its value', async () => {
    const entries: Array<[string, Buffer]> = [[REQUEST, requestBody], ['/a', Buffer.from('1')], [`/${'k'.repeat(300)}`, randomBytes(5000)], ['/z', Buffer.alloc(0)]];
    const seen: Array<[string, Buffer]> = [];
    const report = await verifyArchive(Readable.from([await archiveOf(entries)]), undefined, { onEntry: (name, value) => void seen.push([name, value]) });
    assert.equal(report.ok, true);
    assert.deepEqual(seen, entries);
  });

  it('fails on a digest that does not match the record', async () => {
    const archive = await archiveOf(keys(3));
    const report = await verify(archive, 'ab'.repeat(32));
    assert.equal(report.ok, false);
    assert.equal(report.problem?.kind, 'digest');
    assert.match(report.problem!.message, new RegExp(`sha256 ${sha(archive)} \\(${archive.length} bytes\\) does not match the recorded ${'ab'.repeat(32)}: it reads cleanly`));
  });

  it('names the offset where a truncated archive ends', async () => {
    const archive = await archiveOf(keys(500));
    const cut = Math.floor(archive.length * 0.6);
    const report = await verify(archive.subarray(0, cut));
    assert.equal(report.ok, false);
    assert.equal(report.problem?.kind, 'gzip');
    assert.match(report.problem!.message, /truncated/);
    assert.equal(report.problem?.compressedOffset, cut);
    assert.equal(offsetIn(report), cut);
    assert.ok(report.entries > 0 && report.entries < 500, `read ${report.entries} entries before the cut`);
  });

  it('fails whichever byte in the middle is flipped, with an offset near it when the damage shows in the data', async () => {
    const archive = await archiveOf(keys(2000));
    const digest = sha(archive);
    const kinds = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const position = Math.floor(archive.length * (0.3 + i / 100));
      const damaged = Buffer.from(archive);
      damaged[position] ^= i % 2 ? 0xff : 1 << i % 8;
      const report = await verify(damaged, digest);
      assert.equal(report.ok, false, `flip at ${position} went unnoticed`);
      const kind = report.problem!.kind;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      // Rarely a flip leaves the data intact (a match distance pointing at identical bytes): only the digest sees it.
      if (kind === 'digest') continue;
      const offset = offsetIn(report);
      assert.ok(Number.isInteger(offset) && offset <= archive.length, `no offset in: ${report.problem?.message}`);
      if (kind === 'tar' || (kind === 'gzip' && !/checksum/.test(report.problem!.message))) {
        assert.ok(Math.abs(offset - position) < 4096, `${report.problem?.message} (flip at ${position})`);
      }
    }
    assert.ok((kinds.get('digest') ?? 0) <= 4, `mostly located: ${JSON.stringify([...kinds])}`);
  });

  it('locates corrupt gzip data close to the damage', async () => {
    // Whether inflate itself trips on 64 bytes of 0xff depends on the Huffman codes around them (random values here):
    // where it does not, only the member's CRC-32 catches the damage, so several places are damaged in turn.
    const archive = await archiveOf(keys(2000));
    let located = 0;
    const places = 8;
    for (let i = 0; i < places; i++) {
      const position = Math.floor(archive.length * (0.3 + i / 20));
      const damaged = Buffer.from(archive);
      damaged.fill(0xff, position, position + 64);
      const report = await verify(damaged);
      assert.ok(report.problem?.kind === 'gzip' || report.problem?.kind === 'tar', report.problem?.message);
      if (/gzip checksum/.test(report.problem.message)) continue;
      located++;
      assert.ok(Math.abs(offsetIn(report) - position) < 4096, `${report.problem.message} (damage at ${position})`);
      assert.match(report.problem.message, /after entry #\d+ "\/registry\/configmaps\/ns\/cm-\d{5}"/);
    }
    assert.ok(located >= places - 3, `located ${located} of ${places} damaged places`);
  });


  it('names the entry and tar offset of a broken tar header', async () => {
    const tar = await rawTar([{ name: '/a', body: Buffer.from('x'.repeat(700)) }, { name: '/b', body: Buffer.from('y') }]);
    tar[1536 + 10] ^= 0x20; // second header (after 512 + 1024 bytes), inside its name
    const report = await verify(gzipSync(tar));
    assert.equal(report.problem?.kind, 'tar');
    assert.equal(report.problem?.tarOffset, 1536);
    assert.equal(report.problem?.entry, '/a');
    assert.match(report.problem!.message, /tar byte 1536 .* after entry #1 "\/a"/);
  });

  it('reports data that is not gzip at all at offset 0', async () => {
    const report = await verify(Buffer.from('this is not a snapshot archive at all, it is plain text'));
    assert.equal(report.problem?.kind, 'gzip');
    assert.equal(report.problem?.compressedOffset, 0);
  });

  const layoutCases: Array<[string, Array<{ name: string; body?: Buffer; type?: 'file' | 'directory' }>, RegExp]> = [
    ['the release entry after the request entry', [{ name: REQUEST, body: requestBody }, { name: RELEASE, body: releaseBody }], /"\/vcluster\/snapshot\/release" .* must be the first entry/],
    ['the request entry after the revision entry', [{ name: REVISION, body: Buffer.from('7') }, { name: REQUEST, body: requestBody }], /request entry, which must come once, after the release entry/],
    ['the request entry twice', [{ name: REQUEST, body: requestBody }, { name: REQUEST, body: requestBody }], /must come once/],
    ['a revision entry that is not a decimal revision', [{ name: REVISION, body: Buffer.from('7x') }], /not a decimal etcd revision/],
    ['a database entry that is no etcd database', [{ name: DB, body: Buffer.alloc(8192, 1) }], /not an etcd \(bbolt\) database snapshot/],
    ['keys out of order', [{ name: '/b' }, { name: '/a' }], /entry #2 "\/a" .* out of order.*sorts before "\/b"/],
    ['a repeated key', [{ name: '/a' }, { name: '/a' }], /repeats the key before it/],
    ['byte order, not locale order', [{ name: '/a' }, { name: '/B' }], /out of order/],
    ['another entry under /vcluster/snapshot/ before the keys', [{ name: '/vcluster/snapshot/extra' }], /where only the release, request, revision and database entries belong/],
    ['a directory entry', [{ name: '/dir/', type: 'directory' }], /directory entry/],
    ['a release entry that is not JSON', [{ name: RELEASE, body: Buffer.from('{not json') }], /not a JSON object/],
  ];
  for (const [what, entries, message] of layoutCases) {
    it(`refuses ${what}, naming the entry`, async () => {
      const report = await verify(gzipSync(await rawTar(entries)));
      assert.equal(report.ok, false);
      assert.equal(report.problem?.kind, 'format');
      assert.match(report.problem!.message, message);
      assert.ok(report.problem?.entry);
    });
  }

  it("accepts the revision entry, and vCluster's copies of its entries among the keys (not counted as keys)", async () => {
    // vCluster v0.36.1's restore Puts every entry into etcd, so its next snapshot lists them again, in key order.
    const entries: Array<[string, Buffer]> = [[RELEASE, releaseBody], [REQUEST, requestBody], [REVISION, Buffer.from('4242')], ...keys(3), [RELEASE, releaseBody], [REQUEST, requestBody], [REVISION, Buffer.from('17')]];
    const report = await verify(await archiveOf(entries));
    assert.equal(report.ok, true, report.problem?.message);
    assert.deepEqual([report.kind, report.revision, report.keys, report.entries], ['key-value', '4242', 3, 9]);
    assert.equal(report.request?.url, 's3://b/p/demo-1.tar.gz');
  });

  it("reads vCluster's embedded-etcd kind: bbolt magic and etcd's trailing sha256 checked as the database streams", async () => {
    const db = randomBytes(300_000);
    db.writeUInt32LE(0xed0cdaed, 16);
    const snapshot = Buffer.concat([db, createHash('sha256').update(db).digest()]);
    const report = await verify(await archiveOf([[RELEASE, releaseBody], [DB, snapshot], ['/vcluster/snapshot/skipkeys', Buffer.from('{}')]]));
    assert.equal(report.ok, true, report.problem?.message);
    assert.deepEqual([report.kind, report.databaseBytes, report.keys], ['etcd-db', db.length, 0]);
    const damaged = Buffer.from(snapshot);
    damaged[150_000] ^= 1;
    const broken = await verify(await archiveOf([[DB, damaged]]));
    assert.match(broken.problem?.message ?? '', /trailing sha256 does not match/);
    const followed = await verify(await archiveOf([[DB, snapshot], ['/registry/a', Buffer.from('x')]]));
    assert.match(followed.problem?.message ?? '', /follows the etcd database entry/);
  });

  it('accepts an archive with only a request entry and no keys', async () => {
    const report = await verify(await archiveOf([[REQUEST, requestBody]]));
    assert.equal(report.ok, true);
    assert.equal(report.keys, 0);
  });

  it('throws (not a verdict) when the source stream itself fails', async () => {
    const source = new Readable({ read() {} });
    source.push(await archiveOf(keys(2)).then((a) => a.subarray(0, 20)));
    setImmediate(() => source.destroy(new Error('connection reset')));
    await assert.rejects(verifyArchive(source), /connection reset/);
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const source = new Readable({ read() {} });
    source.push((await archiveOf(keys(50))).subarray(0, 100));
    setImmediate(() => controller.abort(new Error('activity cancelled')));
    await assert.rejects(verifyArchive(source, undefined, { signal: controller.signal }), /activity cancelled/);
  });
});

describe('implausibleValue', () => {
  it('accepts JSON, Kubernetes protobuf envelopes and opaque values', () => {
    // k8s\0 + Unknown{typeMeta: {apiVersion: v1, kind: ConfigMap}, raw: {1: "x"}, contentEncoding: "", contentType: ""}
    const typeMeta = Buffer.from([0x0a, 0x02, ...Buffer.from('v1'), 0x12, 0x09, ...Buffer.from('ConfigMap')]);
    const raw = Buffer.from([0x0a, 0x01, 0x78]);
    const envelope = Buffer.concat([Buffer.from('k8s\0'), Buffer.from([0x0a, typeMeta.length]), typeMeta, Buffer.from([0x12, raw.length]), raw, Buffer.from([0x1a, 0x00, 0x22, 0x00])]);
    assert.equal(implausibleValue(envelope), undefined);
    assert.equal(implausibleValue(Buffer.from('{"a":1}')), undefined);
    assert.equal(implausibleValue(Buffer.from('12345')), undefined);
    assert.match(implausibleValue(Buffer.from('{"a":1')) ?? '', /JSON/);
    const broken = Buffer.from(envelope);
    broken[4 + 1] = 0x7f; // typeMeta length beyond the end
    assert.match(implausibleValue(broken) ?? '', /protobuf/);
  });
});

describe('snapshot references', () => {
  const storage = { type: 'container' as const, path: '/data/snaps' };
  const endpoint = Buffer.from('http://127.0.0.1:9000').toString('base64');

  it('takes a catalog name with its storage location', () => {
    assert.deepEqual(parseSnapshotRef('demo-2026-11-23T12-00-00Z', { storage, cluster: { name: 'demo', namespace: 'team-a' } }), {
      ok: true,
      ref: { storage, snapshotName: 'demo-2026-11-23T12-00-00Z', cluster: { name: 'demo', namespace: 'team-a' } },
    });
    const missing = parseSnapshotRef('demo-2026-11-23T12-00-00Z');
    assert.equal(missing.ok, false);
    assert.equal(clusterNameOf('my-cluster-2026-11-23T12-00-00Z'), 'my-cluster');
    assert.equal(clusterNameOf('snapshot-by-hand'), undefined);
  });

  it('takes an s3:// URL of the archive with vCluster query options and a Secret', () => {
    const parsed = parseSnapshotRef(`s3://bucket-1/team/snaps/demo-2026-11-23T12-00-00Z.tar.gz?region=eu-west-1&force-path-style=true&url=${endpoint}`, {
      credential: { name: 's3', namespace: 'vcsnap' },
    });
    assert.deepEqual(parsed, {
      ok: true,
      ref: {
        snapshotName: 'demo-2026-11-23T12-00-00Z',
        storage: {
          type: 's3', bucket: 'bucket-1', prefix: 'team/snaps', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000',
          forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential: { name: 's3', namespace: 'vcsnap' },
        },
      },
    });
    assert.equal(parseSnapshotRef('s3://bucket-1/demo.tar.gz').ok, true);
  });

  it('refuses s3:// URLs that name no archive, carry credentials or unknown options', () => {
    const secret = Buffer.from('secret').toString('base64');
    for (const url of ['s3://bucket-1', 's3://bucket-1/prefix/demo', `s3://bucket-1/demo.tar.gz?access-key-id=${secret}&secret-access-key=${secret}`, 's3://bucket-1/demo.tar.gz?bogus=1']) {
      const parsed = parseSnapshotRef(url);
      assert.equal(parsed.ok, false, url);
      assert.doesNotMatch(JSON.stringify(parsed), new RegExp(secret), 'credentials are never echoed');
    }
  });

  it('takes an oci:// reference with its tag', () => {
    assert.deepEqual(parseSnapshotRef('oci://127.0.0.1:5000/team/backups:demo-2026-11-23T12-00-00Z?insecure=true'), {
      ok: true,
      ref: { snapshotName: 'demo-2026-11-23T12-00-00Z', storage: { type: 'oci', registry: '127.0.0.1:5000', repository: 'team/backups', insecure: true } },
    });
    assert.equal(parseSnapshotRef('oci://ghcr.io/team/backups').ok, false, 'no tag');
    assert.equal(parseSnapshotRef('oci://ghcr.io/team/backups@sha256:abcd').ok, false, 'digest');
  });

  it('takes a container:// path and refuses other schemes', () => {
    assert.deepEqual(parseSnapshotRef('container:///data/snaps/demo-1.tar.gz'), { ok: true, ref: { snapshotName: 'demo-1', storage } });
    assert.equal(parseSnapshotRef('https://example.com/demo.tar.gz').ok, false);
    assert.equal(parseSnapshotRef('ftp://example.com/demo.tar.gz').ok, false);
  });

  it("takes vCluster's Azure blob URL with a Secret, and refuses one without a Secret, with a SAS or naming no archive", () => {
    const credential = { name: 'az', namespace: 'vcsnap' };
    assert.deepEqual(parseSnapshotRef('https://acct1.blob.core.windows.net/snaps/team/demo/demo-2026-11-23T12-00-00Z.tar.gz', { credential }), {
      ok: true,
      ref: {
        snapshotName: 'demo-2026-11-23T12-00-00Z',
        storage: { type: 'azure', serviceUrl: 'https://acct1.blob.core.windows.net', accountName: 'acct1', container: 'snaps', prefix: 'team/demo', credential },
      },
    });
    assert.deepEqual(parseSnapshotRef('http://127.0.0.1:10000/devstoreaccount1/snaps/demo-1.tar.gz', { credential }), {
      ok: true,
      ref: { snapshotName: 'demo-1', storage: { type: 'azure', serviceUrl: 'http://127.0.0.1:10000/devstoreaccount1', accountName: 'devstoreaccount1', container: 'snaps', prefix: '', credential } },
    });
    const sig = 'c2VjcmV0LXNhcy1zaWc';
    for (const url of [
      'https://acct1.blob.core.windows.net/snaps/demo-1.tar.gz',
      `https://acct1.blob.core.windows.net/snaps/demo-1.tar.gz?sv=2024-01-01&sig=${sig}`,
      'https://acct1.blob.core.windows.net/snaps/demo-1',
      'http://acct1.blob.core.windows.net/snaps/demo-1.tar.gz',
    ]) {
      const parsed = parseSnapshotRef(url, url.endsWith('snaps/demo-1.tar.gz') && url.startsWith('https://') ? {} : { credential });
      assert.equal(parsed.ok, false, url);
      assert.doesNotMatch(JSON.stringify(parsed), new RegExp(sig), 'a SAS is never echoed');
    }
  });
});
