// Client-side encryption end to end on real servers: the harness kube-apiserver's etcd is snapshotted through a real
// worker into MinIO, encrypted to the worker's and the cluster's age recipients. The stored object holds none of the
// test Secrets' values; verify and restore decrypt with the identity Secret; `vcsnap export` writes the plain archive,
// which passes the vCluster-format checks and vCluster's own restore; a worker without the identity fails with the
// reason; after a key rotation old and new snapshots stay readable.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants, gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { Etcd3 } from 'etcd3';
import { restoreSnapshot, SnapshotActionError, verifySnapshot } from '../../client/restore';
import type { SecretRef, SnapshotPolicy } from '../../contracts/definitions';
import { AGE_MAGIC } from '../../lib/archive/encryption';
import { verifyArchive } from '../../lib/archive/verify';
import { readArchiveEntries } from '../../lib/archive/writer';
import { SNAPSHOT_METADATA_PREFIX } from '../../lib/etcd/dump';
import { mapLimit } from '../../lib/concurrency';
import type { ScheduleTarget } from '../../lib/schedules';
import { createStore } from '../../lib/storage';
import { runDrill } from '../../client/drill';
import { etcdBinary, startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { etcdFlags, runVclusterCompat } from '../../scripts/servers/vcluster-compat';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, grantTo, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const VCSNAP = join(__dirname, '..', '..', 'bin', 'vcsnap.js');
const run = promisify(execFile);
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08]);

async function keyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** Every key and value of an etcd. */
async function etcdContents(endpoint: string): Promise<Map<string, Buffer>> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    const range = await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]) });
    return new Map(range.kvs.map((kv) => [kv.key.toString('utf8'), Buffer.from(kv.value)]));
  } finally {
    client.close();
  }
}

describe('client-side encryption (real servers)', function () {
  this.timeout(600_000);
  const namespace = uniqueName('enc');
  const operatorNamespace = uniqueName('enc-operator');
  const bucket = uniqueName('enc-bucket');
  const credential: SecretRef = { name: 's3-creds', namespace: operatorNamespace };
  const identitySecret: SecretRef = { name: 'vcsnap-age-identities', namespace: operatorNamespace };
  const stoppers: Array<() => Promise<void>> = [];
  let core: k8s.CoreV1Api;
  let s3: S3Client;
  let oldKey: { identity: string; recipient: string };
  let newKey: { identity: string; recipient: string };
  let clusterKey: { identity: string; recipient: string };
  let policy: SnapshotPolicy;
  /** Encrypts to the worker's old key (and the cluster's key), holds both identities. */
  let worker: TestWorker;
  /** Same recipients, no identity Secret. */
  let keyless: TestWorker;
  let target: ScheduleTarget;
  let snapshotName: string;
  let key: string;
  let stored: Buffer;
  /** Every value of every Secret in the host cluster when the snapshot was taken. */
  let secretValues: Buffer[];

  const setIdentities = (identities: string[]) =>
    core.replaceNamespacedSecret({ name: identitySecret.name, namespace: identitySecret.namespace, body: { metadata: { name: identitySecret.name }, stringData: { identities: `# vcsnap age identities\n${identities.join('\n')}\n` } } });

  async function takeSnapshot(on: TestWorker, nominalTime: string): Promise<string> {
    const view = await on.client.workflow.execute(snapshotWorkflow, { taskQueue: on.taskQueue, workflowId: uniqueName('enc-snapshot'), args: [{ policy, nominalTime }] });
    assert.equal(view.status, 'Completed', view.error);
    return view.snapshotName!;
  }

  /** `tls`: a TLS listener for vCluster's code, and a plain one (`plainEndpoint`) to read it back. */
  async function freshEtcd(name: string, tls = false): Promise<EtcdServer> {
    const etcd = await startEtcd({ dir: join(testEnv().runDir, uniqueName(name)), name, tls, plain: tls });
    stoppers.push(() => etcd.stop());
    return etcd;
  }

  before(async function () {
    [oldKey, newKey, clusterKey] = [await keyPair(), await keyPair(), await keyPair()];
    const kube = adminKube();
    core = kube.makeApiClient(k8s.CoreV1Api);
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    await core.createNamespace({ body: { metadata: { name: operatorNamespace } } });
    await core.createNamespacedSecret({
      namespace: operatorNamespace,
      body: { metadata: { name: credential.name, ...grantTo('team-a') }, stringData: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } },
    });
    await core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: identitySecret.name }, stringData: { identities: 'placeholder' } } });
    await setIdentities([newKey.identity, oldKey.identity]);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, type: 'Opaque', stringData: { password: `db-password-${uniqueName('p')}`, user: 'tenant-admin-user' } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'api-token' }, type: 'Opaque', stringData: { token: `api-token-${uniqueName('t')}-${'x'.repeat(40)}` } } });
    await mapLimit(
      Array.from({ length: 200 }, (_, i) => i),
      16,
      (i) => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${i}` }, data: { payload: `value ${i} `.repeat(i % 30) } } }),
    );
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const state = { endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' as const };
    policy = basePolicy(
      { type: 's3', bucket, prefix: 'snaps', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
      { state, encryption: { recipients: [clusterKey.recipient] } },
    );
    worker = await startTestWorker({ encryptionRecipients: [oldKey.recipient], encryptionIdentitySecret: identitySecret, drillEtcdBinary: etcdBinary() });
    keyless = await startTestWorker({ encryptionRecipients: [oldKey.recipient] });
    stoppers.push(() => worker.stop(), () => keyless.stop());
    target = { client: worker.client, taskQueue: worker.taskQueue };

    snapshotName = await takeSnapshot(worker, '2026-11-23T12:00:00Z');
    key = `snaps/${snapshotName}.tar.gz.age`;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    stored = Buffer.from(await object.Body!.transformToByteArray());
    const secrets = (await core.listSecretForAllNamespaces()).items;
    secretValues = secrets.flatMap((secret) => Object.values(secret.data ?? {}).map((value) => Buffer.from(value, 'base64'))).filter((value) => value.length >= 8);
  });

  after(async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    s3?.destroy();
  });

  it('stores <name>.tar.gz.age, an age file whose record names its recipients and the digest of the stored bytes', async () => {
    assert.ok(stored.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `snaps/${snapshotName}.tar.gz` })), 'no plain archive beside it');
    const record = (await createStore(policy.storage, testEnv().minio).getRecord(snapshotName))!;
    assert.equal(record.archiveUrl, `s3://${bucket}/${key}`);
    assert.deepEqual(record.encryption, { format: 'age', recipients: [oldKey.recipient, clusterKey.recipient] });
    assert.equal(record.sha256, createHash('sha256').update(stored).digest('hex'));
    assert.equal(record.bytes, stored.length);
    assert.ok(record.signature, 'signed, encryption fields included');
  });

  it("holds none of the host cluster Secrets' values in any byte of the stored object, raw or inflated", () => {
    assert.ok(secretValues.length >= 6, `${secretValues.length} Secret values to look for`);
    // Wherever a gzip header appears by chance, what it inflates to is searched too.
    const haystacks = [stored];
    for (let at = stored.indexOf(GZIP_HEADER); at >= 0; at = stored.indexOf(GZIP_HEADER, at + 1)) {
      try {
        haystacks.push(gunzipSync(stored.subarray(at), { finishFlush: constants.Z_SYNC_FLUSH }));
      } catch {
        // Not a gzip stream: nothing to inflate.
      }
    }
    const found = secretValues.filter((value) => haystacks.some((haystack) => haystack.includes(value) || haystack.includes(Buffer.from(value.toString('base64')))));
    assert.deepEqual(found.map((value) => `${value.length}-byte value`), []);
    console.log(`      scanned ${stored.length} stored bytes (${haystacks.length - 1} chance gzip headers) for ${secretValues.length} Secret values: none found`);
  });

  it('verifies through the worker, decrypting with the identity Secret', async () => {
    const report = await verifySnapshot(target, snapshotName, { policy });
    assert.equal(report.ok, true, report.problem?.message);
    assert.equal(report.sha256, report.record?.sha256);
    assert.equal(report.archiveBytes, stored.length);
    assert.ok(report.url.endsWith('.tar.gz.age'), report.url);
  });

  it('restores into an empty etcd key for key; the exported plain archive passes the format checks and vCluster\'s own restore', async () => {
    const etcd = await freshEtcd('enc-restore');
    const result = await restoreSnapshot(target, snapshotName, { policy, endpoints: [etcd.endpoint] });
    assert.equal(result.restore.keysRestored, result.verify.keys);

    const identityFile = join(testEnv().runDir, uniqueName('identity'));
    writeFileSync(identityFile, `${oldKey.identity}\n`, { mode: 0o600 });
    const output = join(testEnv().runDir, `${snapshotName}.tar.gz`);
    const s3Url = `s3://${bucket}/${key}?region=us-east-1&force-path-style=true&url=${Buffer.from(testEnv().minio.endpoint).toString('base64')}`;
    // As an operator runs it: the CLI in its own process, the storage credential read from its Secret by kubeconfig.
    const { stdout } = await run(process.execPath, [VCSNAP, 'export', s3Url, '-o', output, '--identity', identityFile, '--secret', `${credential.namespace}/${credential.name}`], {
      env: { ...process.env, KUBECONFIG: testEnv().kube.kubeconfigFile },
    });
    assert.match(stdout, /keys, \d+ bytes \(decrypted from \d+ stored bytes/);
    const plain = readFileSync(output);
    assert.equal(plain.indexOf(AGE_MAGIC), -1);
    const report = await verifyArchive(createReadStream(output));
    assert.equal(report.ok, true, report.problem?.message);
    assert.equal(report.keys, result.verify.keys);
    // The scan above can fail: the plain archive does hold the tenant's Secret values.
    const tar = gunzipSync(plain);
    assert.ok(secretValues.filter((value) => tar.includes(value)).length >= 3, 'the plain archive holds the Secret values');

    const archived = new Map<string, Buffer>();
    for await (const entry of readArchiveEntries(createReadStream(output))) if (!entry.name.startsWith(SNAPSHOT_METADATA_PREFIX)) archived.set(entry.name, entry.body);
    const restored = await etcdContents(etcd.endpoint);
    assert.equal(restored.size, archived.size);
    for (const [name, value] of archived) assert.ok(restored.get(name)?.equals(value), `key ${name} restored with its value`);

    // vCluster's own restore (RestoreClient.Run) of the exported file, into a fresh TLS etcd: the same keys.
    const vclusterEtcd = await freshEtcd('enc-vcluster', true);
    await runVclusterCompat(['restore', ...etcdFlags(vclusterEtcd.endpoint, vclusterEtcd.tls!), `container://${output}`]);
    const byVcluster = await etcdContents(vclusterEtcd.plainEndpoint!);
    for (const [name, value] of archived) assert.ok(byVcluster.get(name)?.equals(value), `vCluster restored key ${name}`);
  });

  it('drills it: restored into a scratch etcd and compared key for key, decrypting twice', async () => {
    const result = await runDrill(target, policy, snapshotName);
    assert.equal(result.outcome, 'passed', result.reason);
    assert.equal(result.checks?.problems.length, 0, result.checks?.problems.join('; '));
    assert.equal(result.checks?.keysRestored, result.checks?.keysArchived);
  });

  it('a worker without the identity fails restore with the reason, writing nothing', async () => {
    const etcd = await freshEtcd('enc-keyless');
    await assert.rejects(restoreSnapshot({ client: keyless.client, taskQueue: keyless.taskQueue }, snapshotName, { policy, endpoints: [etcd.endpoint] }), (err: unknown) => {
      assert.ok(err instanceof SnapshotActionError, String(err));
      assert.equal(err.type, 'EncryptionKeyUnavailable');
      assert.match(err.message, new RegExp(`snapshot ${snapshotName} is encrypted \\(age\\), and no identity to decrypt it was given: configure the worker's VCSNAP_ENCRYPTION_IDENTITY_SECRET`));
      return true;
    });
    assert.equal((await etcdContents(etcd.endpoint)).size, 0);
  });

  it('after a rotation, new snapshots use the new key and old ones stay readable with the old identity', async () => {
    const rotated = await startTestWorker({ encryptionRecipients: [newKey.recipient], encryptionIdentitySecret: identitySecret });
    stoppers.push(() => rotated.stop());
    const rotatedTarget = { client: rotated.client, taskQueue: rotated.taskQueue };
    const newName = await takeSnapshot(rotated, '2026-11-23T13:00:00Z');
    const record = (await createStore(policy.storage, testEnv().minio).getRecord(newName))!;
    assert.deepEqual(record.encryption?.recipients, [newKey.recipient, clusterKey.recipient]);
    for (const name of [snapshotName, newName]) assert.equal((await verifySnapshot(rotatedTarget, name, { policy })).ok, true, name);

    // With the old identity dropped from the Secret, the old snapshot names its problem; the new one still reads.
    await setIdentities([newKey.identity]);
    try {
      await assert.rejects(verifySnapshot(rotatedTarget, snapshotName, { policy }), (err: unknown) => {
        assert.ok(err instanceof SnapshotActionError, String(err));
        assert.equal(err.type, 'EncryptionKeyUnavailable');
        assert.match(err.message, /encrypted \(age\) to recipients none of the given identities matches/);
        assert.ok(!err.message.includes('AGE-SECRET-KEY'), 'no identity in the error');
        return true;
      });
      assert.equal((await verifySnapshot(rotatedTarget, newName, { policy })).ok, true);
    } finally {
      await setIdentities([newKey.identity, oldKey.identity]);
    }
  });
});
