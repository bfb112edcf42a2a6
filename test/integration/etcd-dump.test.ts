import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { Etcd3, type IOptions } from 'etcd3';
import { createArchiveWriter, readArchiveEntries, type ArchiveEntry } from '../../lib/archive/writer';
import { dumpEtcd, type DumpOptions, type DumpResult } from '../../lib/etcd/dump';
import { type EtcdConnection } from '../../lib/etcd/client';
import { etcdBinary } from '../../scripts/servers/etcd';
import { freePort, startProcess, toolPath, type RunningProcess } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';

const run = promisify(execFile);

async function dumpToArchive(connection: EtcdConnection, options: DumpOptions) {
  const writer = createArchiveWriter();
  const archive = buffer(writer.stream);
  let result: DumpResult;
  try {
    result = await dumpEtcd(connection, writer, options);
    await writer.finish();
  } catch (err) {
    writer.abort(err instanceof Error ? err : new Error(String(err)));
    await archive.catch(() => undefined);
    throw err;
  }
  const bytes = await archive;
  const all: ArchiveEntry[] = [];
  for await (const entry of readArchiveEntries(Readable.from(bytes))) all.push(entry);
  // The revision entry (vCluster's newest writer) follows the release and request entries and holds the pinned
  // revision; `entries` are the others, which is what each test looks at.
  const revisionAt = (options.release ? 1 : 0) + (options.request ? 1 : 0);
  assert.equal(all[revisionAt]?.name, '/vcluster/snapshot/revision');
  assert.equal(all[revisionAt]!.body.toString(), result.revision);
  const entries = all.filter((_, i) => i !== revisionAt);
  return { result, archive: bytes, entries };
}

function assertFailure(type: string, pattern: RegExp, nonRetryable: boolean) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.match(err.message, pattern);
    assert.equal(err.nonRetryable, nonRetryable);
    return true;
  };
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('dumpEtcd (real etcd)', function () {
  let etcd: Etcd3;
  let connection: EtcdConnection;
  let prefix: string;

  before(() => {
    connection = { endpoints: [testEnv().etcd.endpoint] };
    etcd = new Etcd3({ hosts: connection.endpoints });
  });
  after(() => etcd.close());
  beforeEach(() => {
    prefix = `/vcsnap-test/${randomUUID()}/`;
  });
  afterEach(async () => {
    await etcd.delete().prefix(prefix);
  });

  it('writes release, request, then every key in byte order with byte-exact values', async () => {
    const values: Record<string, Buffer> = {
      [`${prefix}registry/pods/default/b`]: Buffer.from('{"kind":"Pod"}'),
      [`${prefix}registry/pods/default/a`]: randomBytes(100_000),
      [`${prefix}registry/secrets/x`]: Buffer.from([0, 0xff, 0x80, 0x0a, 0x00]),
      [`${prefix}registry/empty`]: Buffer.alloc(0),
      [`${prefix}registry/ünïcode`]: Buffer.from('k8s\x00binary'),
      [`${prefix}Registry/upper`]: Buffer.from('sorts before lower case'),
    };
    for (const [key, value] of Object.entries(values)) await etcd.put(key).value(value);

    const { result, entries } = await dumpToArchive(connection, {
      prefix,
      release: { releaseName: 'demo', releaseNamespace: 'team-a', chartName: 'vcluster', chartVersion: '0.30.0', valuesYaml: 'sync:\n  toHost: {}\n' },
      request: { name: 'demo-2026-11-23T12-00-00Z', creationTimestamp: '2026-11-23T12:00:00.123Z', url: 's3://bucket/snaps/demo.tar.gz?access-key-id=QUtJQQ==&region=eu' },
    });

    const keys = Object.keys(values).sort(byteOrder);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['/vcluster/snapshot/release', '/vcluster/snapshot/request/v1beta1', ...keys],
    );
    for (const entry of entries.slice(2)) assert.deepEqual(entry.body, values[entry.name], entry.name);
    assert.deepEqual(JSON.parse(entries[0]!.body.toString()), {
      releaseName: 'demo',
      releaseNamespace: 'team-a',
      chartName: 'vcluster',
      chartVersion: '0.30.0',
      values: Buffer.from('sync:\n  toHost: {}\n').toString('base64'),
    });
    assert.equal(
      entries[1]!.body.toString(),
      '{"metadata":{"name":"demo-2026-11-23T12-00-00Z","creationTimestamp":"2026-11-23T12:00:00Z"},' +
        '"spec":{"url":"s3://bucket/snaps/demo.tar.gz"},"status":{"phase":"CreatingEtcdBackup","error":{}}}',
    );
    for (const entry of entries) {
      assert.equal(entry.header.type, 'file');
      assert.equal(entry.header.mode, 0o666);
    }
    assert.equal(result.keys, keys.length);
    assert.equal(result.bytes, Object.values(values).reduce((sum, v) => sum + v.length, 0));
    assert.match(result.revision, /^\d+$/);
  });

  it('never dumps keys under /vcluster/snapshot/', async () => {
    prefix = `/vcluster/`;
    const id = randomUUID();
    const kept = [`/vcluster/${id}/kept`, `/vcluster/snapshotx-${id}`];
    const skipped = [`/vcluster/snapshot/${id}`, `/vcluster/snapshot/release-${id}`];
    try {
      for (const key of [...kept, ...skipped]) await etcd.put(key).value('v');
      const { entries } = await dumpToArchive(connection, { prefix });
      const names = entries.map((e) => e.name);
      for (const key of kept) assert.ok(names.includes(key), key);
      assert.deepEqual(names.filter((name) => name.startsWith('/vcluster/snapshot/')), []);
    } finally {
      for (const key of [...kept, ...skipped]) await etcd.delete().key(key);
    }
  });

  it('pages through 2,500+ keys at one pinned revision: later writes are not included', async function () {
    const total = 2_600;
    const key = (i: number) => `${prefix}k/${String(i).padStart(5, '0')}`;
    for (let i = 0; i < total; i += 200) {
      const batch = Array.from({ length: Math.min(200, total - i) }, (_, j) => etcd.put(key(i + j)).value(`v${i + j}`));
      await Promise.all(batch);
    }
    const progress: number[] = [];
    const { result, entries } = await dumpToArchive(connection, {
      prefix,
      onProgress: async (keys) => {
        progress.push(keys);
        if (progress.length > 1) return;
        // After the first page: add keys that would land in later pages, change and delete keys not yet read.
        await etcd.put(`${prefix}k/99999-late`).value('late');
        await etcd.put(`${prefix}zz-late`).value('late');
        await etcd.put(key(2_000)).value('changed');
        await etcd.delete().key(key(2_500));
      },
    });
    assert.deepEqual(progress, [1_000, 2_000, 2_600]);
    assert.equal(result.keys, total);
    assert.deepEqual(
      entries.map((e) => e.name),
      Array.from({ length: total }, (_, i) => key(i)),
    );
    assert.equal(entries[2_000]!.body.toString(), 'v2000');
    assert.equal(entries[2_500]!.body.toString(), 'v2500');
    const now = await etcd.get(key(2_000)).string();
    assert.equal(now, 'changed', 'the write itself landed');
  });

  it('writes 300-character keys that the system tar reads back', async () => {
    const longKey = `${prefix}registry/configmaps/`.padEnd(300, 'x');
    const longSlashes = `${prefix}registry/${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}`;
    await etcd.put(longKey).value('long');
    await etcd.put(longSlashes).value('slashes');
    await etcd.put(`${prefix}short`).value('short');

    const { archive, entries } = await dumpToArchive(connection, { prefix });
    const expected = [longKey, longSlashes, `${prefix}short`].sort(byteOrder);
    assert.equal(longKey.length, 300);
    assert.deepEqual(
      entries.map((e) => e.name),
      expected,
    );

    const dir = mkdtempSync(join(tmpdir(), 'vcsnap-dump-'));
    try {
      const file = join(dir, 'snapshot.tar.gz');
      writeFileSync(file, archive);
      const { stdout } = await run('tar', ['-tzf', file]);
      assert.deepEqual(stdout.trimEnd().split('\n'), ['/vcluster/snapshot/revision', ...expected]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails non-retryably on a key that is not valid UTF-8 (a tar name cannot hold it losslessly)', async () => {
    await etcd.put(Buffer.concat([Buffer.from(prefix), Buffer.from([0xc3, 0x28])])).value('v');
    await assert.rejects(
      dumpToArchive(connection, { prefix }),
      assertFailure('EtcdUnsupportedKey', /is not valid UTF-8/, true),
    );
  });

  it('passes the writer’s own failure through unchanged', async () => {
    await etcd.put(`${prefix}a`).value('a');
    const uploadFailed = new Error('upload failed');
    await assert.rejects(dumpEtcd(connection, { addEntry: () => Promise.reject(uploadFailed) }, { prefix }), (err) => err === uploadFailed);
  });

  it('stops when the activity is cancelled', async () => {
    await etcd.put(`${prefix}a`).value('a');
    const controller = new AbortController();
    const writer = { addEntry: async () => controller.abort(new Error('activity cancelled')) };
    await assert.rejects(dumpEtcd(connection, writer, { prefix, signal: controller.signal }), /activity cancelled/);
  });

  it('fails fast with EtcdUnreachable naming the endpoint when nothing listens', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await assert.rejects(
      dumpEtcd({ endpoints: [endpoint] }, createArchiveWriter()),
      assertFailure('EtcdUnreachable', new RegExp(`etcd at ${endpoint} is unreachable`), false),
    );
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  it('moves on to the next endpoint when the first is down (as vCluster lists every etcd member)', async () => {
    await etcd.put(`${prefix}a`).value('from the live member');
    const down = `http://127.0.0.1:${await freePort()}`;
    const { entries } = await dumpToArchive({ endpoints: [down, ...connection.endpoints] }, { prefix });
    assert.deepEqual(entries.map((e) => [e.name, e.body.toString()]), [[`${prefix}a`, 'from the live member']]);
  });

  it('fails within the dial timeout with EtcdUnreachable when the endpoint never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const started = Date.now();
    try {
      await assert.rejects(
        dumpEtcd({ endpoints: [endpoint] }, createArchiveWriter()),
        assertFailure('EtcdUnreachable', new RegExp(`etcd at ${endpoint} is unreachable`), false),
      );
      assert.ok(Date.now() - started < 8_000, `took ${Date.now() - started} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('dumpEtcd (etcd with client-certificate auth, as vCluster deploys it)', function () {
  let dir: string;
  let server: RunningProcess | undefined;
  let endpoint: string;
  let pem: (name: string) => Buffer;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'vcsnap-etcd-tls-'));
    await makeCertificates(dir);
    pem = (name) => readFileSync(join(dir, name));
    const port = await freePort();
    const peerPort = await freePort();
    endpoint = `https://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const tls = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };
    server = await startProcess({
      name: 'etcd-tls',
      command: etcdBinary(),
      args: [
        '--name', 'etcd-tls', '--data-dir', join(dir, 'data'),
        '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `etcd-tls=${peer}`,
        '--cert-file', join(dir, 'server.crt'), '--key-file', join(dir, 'server.key'),
        '--trusted-ca-file', join(dir, 'ca.crt'), '--client-cert-auth', '--log-level', 'warn',
      ],
      logDir: dir,
      ready: () => answersReads({ hosts: endpoint, credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } }),
    });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dumps the whole key space by default, skipping /vcluster/snapshot/ and keys outside /', async () => {
    const tls = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };
    const client = new Etcd3({ hosts: endpoint, credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } });
    try {
      await client.put('/registry/namespaces/default').value('ns');
      await client.put('/vcluster/snapshot/revision').value('42');
      await client.put('compact_rev_key').value('outside /');
      const { entries, result } = await dumpToArchive({ endpoints: [endpoint], tls }, {});
      assert.deepEqual(
        entries.map((e) => e.name),
        ['/registry/namespaces/default'],
      );
      assert.equal(result.keys, 1);
    } finally {
      client.close();
    }
  });

  it('fails with EtcdRevisionCompacted when the pinned revision is compacted mid-dump', async () => {
    const tls = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };
    const client = new Etcd3({ hosts: endpoint, credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } });
    try {
      await Promise.all(Array.from({ length: 2_100 }, (_, i) => client.put(`/compact/${String(i).padStart(4, '0')}`).value('v')));
      const compactNow = async () => {
        const { header } = await client.kv.put({ key: Buffer.from('/compact-marker'), value: Buffer.from('x') });
        await client.kv.compact({ revision: header.revision, physical: true });
      };
      await assert.rejects(
        dumpToArchive({ endpoints: [endpoint], tls }, { prefix: '/compact/', onProgress: compactNow }),
        assertFailure('EtcdRevisionCompacted', new RegExp(`etcd at ${endpoint} compacted the revision`), false),
      );
    } finally {
      await client.delete().prefix('/compact');
      client.close();
    }
  });

  it('fails with EtcdBadCredentials (non-retryable) without a client certificate', async () => {
    await assert.rejects(
      dumpEtcd({ endpoints: [endpoint], tls: { ca: pem('ca.crt') } }, createArchiveWriter()),
      assertFailure('EtcdBadCredentials', new RegExp(`etcd at ${endpoint}`), true),
    );
  });

  it('fails with EtcdBadCredentials (non-retryable) when a client certificate comes without its key', async () => {
    await assert.rejects(
      dumpEtcd({ endpoints: [endpoint], tls: { ca: pem('ca.crt'), cert: pem('client.crt') } }, createArchiveWriter()),
      assertFailure('EtcdBadCredentials', new RegExp(`TLS material for etcd at ${endpoint} is unusable`), true),
    );
  });

  it('fails with EtcdBadCredentials (non-retryable) when the CA does not match', async () => {
    await assert.rejects(
      dumpEtcd({ endpoints: [endpoint], tls: { ca: pem('other-ca.crt'), cert: pem('client.crt'), key: pem('client.key') } }, createArchiveWriter()),
      assertFailure('EtcdBadCredentials', new RegExp(`etcd at ${endpoint}`), true),
    );
  });
});

describe('dumpEtcd (kine on SQLite, vCluster\'s embedded store, exposed over TCP)', function () {
  let dir: string;
  let server: RunningProcess | undefined;
  let endpoint: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'vcsnap-kine-'));
    endpoint = `http://127.0.0.1:${await freePort()}`;
    server = await startProcess({
      name: 'kine',
      command: toolPath('kine', 'KINE_VERSION'),
      args: ['--listen-address', endpoint.slice('http://'.length), '--endpoint', `sqlite://${join(dir, 'state.db')}`, '--metrics-bind-address', '0'],
      logDir: dir,
      ready: () => answersReads({ hosts: endpoint }),
    });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dumps every key at the revision kine reports, in byte order', async () => {
    const client = new Etcd3({ hosts: endpoint });
    const names = Array.from({ length: 1_200 }, (_, i) => `/registry/configmaps/ns-${i % 3}/cm-${String(i).padStart(4, '0')}`);
    try {
      for (const name of names) await client.put(name).value(`value of ${name}`);
      const { entries, result } = await dumpToArchive({ endpoints: [endpoint] }, {});
      const revision = (await client.get(names[0]!).exec()).header.revision;
      assert.equal(result.revision, revision);
      // kine keeps a key of its own (/registry/health) beside the cluster's: the dump has it too, as kine lists it.
      const stored = await client.getAll().prefix('/').strings();
      assert.deepEqual(entries.map((e) => e.name), Object.keys(stored).sort(byteOrder));
      for (const name of names) assert.ok(stored[name] === `value of ${name}`, name);
      for (const entry of entries) assert.equal(entry.body.toString(), stored[entry.name]);
    } finally {
      client.close();
    }
  });
});

/** A server's readiness: an etcd client's read succeeds. */
async function answersReads(options: IOptions): Promise<boolean> {
  const client = new Etcd3(options);
  try {
    await client.get('/ready').string();
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function makeCertificates(dir: string): Promise<void> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ca = async (name: string) => {
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
      '-keyout', `${name}.key`, '-out', `${name}.crt`);
  };
  const leaf = async (name: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1',
      '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  await ca('ca');
  await ca('other-ca');
  await leaf('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await leaf('client', 'extendedKeyUsage=clientAuth\n');
}
