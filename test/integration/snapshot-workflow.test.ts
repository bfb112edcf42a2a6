// The snapshot workflow end to end on real servers: etcd -> vCluster archive -> file, S3 and OCI storage, with its
// status query, search attributes and metadata record.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { Etcd3 } from 'etcd3';
import { readArchiveEntries } from '../../lib/archive/writer';
import { parsePolicy } from '../../lib/policy';
import { createStore } from '../../lib/storage';
import { SEARCH_ATTRIBUTES, statusQuery, type SnapshotPolicy, type SnapshotStatusView } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, filePolicy, grantTo, uniqueName } from '../harness/fixtures';
import { startEtcd } from '../../scripts/servers/etcd';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

describe('snapshot workflow', function () {
  let worker: TestWorker;
  let etcd: Etcd3;
  const prefix = `/registry/configmaps/${uniqueName('wf')}/`;
  const secretNamespace = uniqueName('creds');

  before(async () => {
    worker = await startTestWorker();
    etcd = new Etcd3({ hosts: testEnv().etcd.endpoint });
    for (let i = 0; i < 25; i++) await etcd.put(`${prefix}cm-${String(i).padStart(3, '0')}`).value(`value-${i}`);
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: secretNamespace } } });
    const { accessKeyId, secretAccessKey } = testEnv().minio;
    await core.createNamespacedSecret({
      namespace: secretNamespace,
      // Like the seeds' example: the credentials live in a namespace of their own, granted to the clusters' namespace.
      body: { metadata: { name: 's3-creds', ...grantTo('team-a') }, stringData: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: '' } },
    });
    const { username, password } = testEnv().authRegistry;
    await core.createNamespacedSecret({ namespace: secretNamespace, body: { metadata: { name: 'oci-creds', ...grantTo('team-a') }, stringData: { username, password } } });
  });
  after(async () => {
    etcd.close();
    await worker.stop();
  });

  async function run(policy: SnapshotPolicy, nominalTime = '2026-11-23T12:00:00Z') {
    const handle = await worker.client.workflow.start(snapshotWorkflow, {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('snapshot'),
      args: [{ policy, nominalTime }],
    });
    return { handle, result: handle.result() };
  }

  async function assertArchiveHasKeys(archive: NodeJS.ReadableStream) {
    const names: string[] = [];
    for await (const entry of readArchiveEntries(archive as never)) names.push(entry.name);
    const ours = names.filter((n) => n.startsWith(prefix));
    assert.equal(ours.length, 25);
    assert.deepEqual(ours, [...ours].sort());
    assert.equal(names[0], '/vcluster/snapshot/request/v1beta1');
  }

  it('stores to a directory and reports Completed with keys, bytes, digest and record', async () => {
    const policy = filePolicy();
    const { handle, result } = await run(policy);
    const view = await result;
    assert.equal(view.status, 'Completed');
    assert.equal(view.snapshotName, `${policy.cluster.name}-2026-11-23T12-00-00Z`);
    assert.ok(view.keysWritten >= 25);
    const dir = (policy.storage as { path: string }).path;
    const archiveFile = join(dir, `${view.snapshotName}.tar.gz`);
    assert.deepEqual(readdirSync(dir).sort(), [`.${view.snapshotName}.tar.gz.owner`, `${view.snapshotName}.json`, `${view.snapshotName}.tar.gz`]);
    const record = JSON.parse(readFileSync(join(dir, `${view.snapshotName}.json`), 'utf8'));
    assert.equal(record.status, 'Completed');
    assert.equal(record.sha256, createHash('sha256').update(readFileSync(archiveFile)).digest('hex'));
    assert.equal(record.bytes, readFileSync(archiveFile).length);
    const tar = spawnSync('tar', ['-tzf', archiveFile], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
    await assertArchiveHasKeys(createReadStream(archiveFile));
    const queried: SnapshotStatusView = await handle.query(statusQuery);
    assert.equal(queried.status, 'Completed');
    assert.equal(queried.phase, 'done');
    const description = await handle.describe();
    assert.deepEqual(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.snapshotStatus), 'Completed');
    assert.deepEqual(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.clusterName), policy.cluster.name);
  });

  it('stores to MinIO with credentials from a Secret', async () => {
    const bucket = uniqueName('wf-bucket');
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const policy = basePolicy({
      type: 's3', bucket, prefix: 'snaps', endpoint, region: 'us-east-1', forcePathStyle: true,
      insecureSkipTlsVerify: false, skipClientCredentials: false, credential: { name: 's3-creds', namespace: secretNamespace },
    });
    const view = await (await run(policy)).result;
    assert.equal(view.status, 'Completed');
    assert.equal(view.url, `s3://${bucket}/snaps/${view.snapshotName}.tar.gz`);
    const store = createStore(policy.storage, { accessKeyId, secretAccessKey });
    await assertArchiveHasKeys(await store.getArchive(view.snapshotName!));
    assert.equal((await store.getRecord(view.snapshotName!))?.status, 'Completed');
  });

  it('pushes to the authenticated registry as a vCluster OCI artifact', async () => {
    const { host, username, password } = testEnv().authRegistry;
    const policy = basePolicy({ type: 'oci', registry: host, repository: `snaps/${uniqueName('repo')}`, insecure: true, credential: { name: 'oci-creds', namespace: secretNamespace } });
    const view = await (await run(policy)).result;
    assert.equal(view.status, 'Completed');
    const store = createStore(policy.storage, { username, password });
    await assertArchiveHasKeys(await store.getArchive(view.snapshotName!));
  });

  it('uses inline credentials (S3 URL options, OCI username/password) from vc-config without putting them in history', async () => {
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const bucket = uniqueName('inline');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const { host, username, password } = testEnv().authRegistry;
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    for (const [kind, storage] of [
      ['s3', ['      type: s3', '      s3:', `        url: s3://${bucket}/inline?url=${b64(endpoint)}&force-path-style=true&region=us-east-1&access-key-id=${b64(accessKeyId)}&secret-access-key=${b64(secretAccessKey)}`]],
      ['oci', ['      type: oci', '      oci:', `        repository: oci://${host}/inline/${uniqueName('r')}?insecure=true`, `        username: ${username}`, `        password: ${password}`]],
    ] as const) {
      const name = uniqueName(`inline-${kind}`);
      const yamlText = ['snapshots:', '  auto:', '    schedule: "@daily"', '    storage:', ...storage, '    etcd:', `      endpoints: [${testEnv().etcd.endpoint}]`, ''].join('\n');
      await core.createNamespacedSecret({ namespace: secretNamespace, body: { metadata: { name: `vc-config-${name}`, labels: { app: 'vcluster' } }, stringData: { 'config.yaml': yamlText } } });
      const parsed = parsePolicy(yamlText, { name, namespace: secretNamespace });
      assert.ok(parsed.ok && parsed.policy, JSON.stringify(parsed));
      const { handle, result } = await run(parsed.policy);
      assert.equal((await result).status, 'Completed', kind);
      const history = JSON.stringify(await handle.fetchHistory());
      for (const secret of [secretAccessKey, b64(secretAccessKey), password]) assert.ok(!history.includes(secret), `${kind}: a secret value is in the history`);
    }
  });

  it('shows InProgress with growing counts in the status query during a large dump', async () => {
    const etcdServer = await startEtcd({ dir: testEnv().runDir, name: uniqueName('etcd-large') });
    const progressWorker = await startTestWorker({ progressIntervalMs: 100 });
    const client = new Etcd3({ hosts: etcdServer.endpoint });
    try {
      const value = Buffer.alloc(2048, 'x');
      // etcd allows 128 operations per transaction by default.
      const putBatch = (batch: number) =>
        client
          .if('/none', 'Version', '==', 0)
          .then(...Array.from({ length: 100 }, (_, i) => client.put(`/registry/configmaps/big/cm-${batch}-${i}`).value(value)))
          .commit();
      for (let batch = 0; batch < 400; batch += 8) await Promise.all(Array.from({ length: 8 }, (_, i) => putBatch(batch + i)));
      const policy = filePolicy({ state: { endpoints: [etcdServer.endpoint], origin: 'explicit' } });
      const handle = await progressWorker.client.workflow.start(snapshotWorkflow, { taskQueue: progressWorker.taskQueue, workflowId: uniqueName('progress'), args: [{ policy }] });
      const seen: number[] = [];
      let done = false;
      const result = handle.result().finally(() => (done = true));
      while (!done) {
        const view = await handle.query(statusQuery);
        if (view.status === 'InProgress' && view.phase === 'dumping' && view.keysWritten > 0 && view.keysWritten !== seen.at(-1)) seen.push(view.keysWritten);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal((await result).status, 'Completed');
      assert.ok(seen.length >= 2, `expected growing counts during the dump, saw ${JSON.stringify(seen)}`);
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      assert.equal((await handle.query(statusQuery)).keysWritten, 40_000);
    } finally {
      client.close();
      await progressWorker.stop();
      await etcdServer.stop();
    }
  });

  it('fails with a reason naming the endpoint when etcd is unreachable, and records the failure', async () => {
    const policy = filePolicy({ state: { endpoints: ['http://127.0.0.1:1'], origin: 'explicit' } });
    const { handle, result } = await run(policy);
    await assert.rejects(result, (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /127\.0\.0\.1:1/);
      return true;
    });
    const view = await handle.query(statusQuery);
    assert.equal(view.status, 'Failed');
    const dir = (policy.storage as { path: string }).path;
    assert.deepEqual(readdirSync(dir), [`${view.snapshotName}.json`], 'no archive, only the Failed record');
  });

  it('fails fast with a reason when the cluster has no reachable state source', async () => {
    const policy = filePolicy({ engine: 'direct', state: { endpoints: [], origin: 'none', unavailableReason: 'embedded SQLite is reachable only inside the vCluster pod; configure an etcd endpoint' } });
    const { handle, result } = await run(policy);
    await assert.rejects(result, (err: unknown) => err instanceof WorkflowFailedError && /embedded SQLite/.test(String(err.cause?.message)));
    assert.equal((await handle.query(statusQuery)).status, 'Failed');
  });
});
