// Verify and restore end to end on real servers: a kube-apiserver's etcd is snapshotted to MinIO, Azurite and a registry,
// restored into a fresh etcd, and a second kube-apiserver on that etcd serves the same objects.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { Etcd3 } from 'etcd3';
import { createActivities } from '../../activities';
import { readArchiveEntries } from '../../lib/archive/writer';
import type { RestoreArchiveInput, RestoreProgress, RestoreReport, SnapshotLocationRef } from '../../contracts/restore';
import { createStore, type SnapshotStore } from '../../lib/storage';
import { mapLimit } from '../../lib/concurrency';
import { resolveSnapshotRef, restoreSnapshot, SnapshotActionError, verifySnapshot } from '../../client/restore';
import { applyPolicy, removePolicy } from '../../lib/schedules';
import type { ScheduleTarget } from '../../lib/schedules';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { adminKubeConfig, startKube } from '../../scripts/servers/kube';
import type { ClusterRef, SecretRef, SnapshotPolicy } from '../../contracts/definitions';
import { restoreWorkflow, snapshotWorkflow } from '../../workflows';
import { createAzureContainer } from '../harness/azure';
import { testEnv } from '../harness/env';
import { basePolicy, grantTo, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const CONFIG_MAPS = 1001;

interface ClusterObjects {
  configMaps: Record<string, Record<string, string> | undefined>;
  deployment: { uid?: string; labels?: Record<string, string>; spec?: k8s.V1DeploymentSpec };
  secret: { uid?: string; type?: string; data?: Record<string, string> };
}

async function objectsIn(kubeConfig: k8s.KubeConfig, namespace: string): Promise<ClusterObjects> {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
  const configMaps: ClusterObjects['configMaps'] = {};
  let _continue: string | undefined;
  do {
    const page = await core.listNamespacedConfigMap({ namespace, limit: 500, _continue });
    for (const item of page.items) configMaps[item.metadata!.name!] = item.data;
    _continue = page.metadata?._continue;
  } while (_continue);
  const deployments = await apps.listNamespacedDeployment({ namespace });
  assert.equal(deployments.items.length, 1);
  const [deployment] = deployments.items;
  const secrets = (await core.listNamespacedSecret({ namespace })).items;
  assert.equal(secrets.length, 1);
  const [secret] = secrets;
  return {
    configMaps,
    deployment: { uid: deployment!.metadata?.uid, labels: deployment!.metadata?.labels, spec: deployment!.spec },
    secret: { uid: secret!.metadata?.uid, type: secret!.type, data: secret!.data },
  };
}

async function etcdKeyCount(endpoint: string): Promise<{ count: number; revision: string }> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    const response = await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
    return { count: Number(response.count), revision: response.header.revision };
  } finally {
    client.close();
  }
}

describe('restore and verify (real servers)', function () {
  this.timeout(600_000);
  const namespace = uniqueName('restore');
  const secretNamespace = uniqueName('restore-creds');
  const bucket = uniqueName('restore-bucket');
  const credential: SecretRef = { name: 's3-creds', namespace: secretNamespace };
  /** The cluster URL references name, so its grants (the credential Secret is granted to team-a) apply. */
  const TEAM_A = { name: 'restore', namespace: 'team-a' };
  const stoppers: Array<() => Promise<void>> = [];
  let worker: TestWorker;
  let target: ScheduleTarget;
  let original: ClusterObjects;
  let s3Policy: SnapshotPolicy;
  let ociPolicy: SnapshotPolicy;
  let azurePolicy: SnapshotPolicy;
  let s3SnapshotName: string;
  let ociSnapshotName: string;
  let azureSnapshotName: string;
  const azureCredential: SecretRef = { name: 'azure-creds', namespace: secretNamespace };

  const s3Url = (prefix: string, snapshotName: string) => {
    const endpoint = Buffer.from(testEnv().minio.endpoint).toString('base64');
    return `s3://${bucket}/${prefix}/${snapshotName}.tar.gz?region=us-east-1&force-path-style=true&url=${endpoint}`;
  };
  const s3Store = (policy: SnapshotPolicy): SnapshotStore => {
    const { accessKeyId, secretAccessKey } = testEnv().minio;
    return createStore(policy.storage, { accessKeyId, secretAccessKey });
  };

  async function freshEtcd(name: string): Promise<EtcdServer> {
    const etcd = await startEtcd({ dir: join(testEnv().runDir, uniqueName(name)), name });
    stoppers.push(() => etcd.stop());
    return etcd;
  }

  async function takeSnapshot(policy: SnapshotPolicy): Promise<string> {
    const view = await worker.client.workflow.execute(snapshotWorkflow, {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('restore-source'),
      args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }],
    });
    assert.equal(view.status, 'Completed', view.error);
    return view.snapshotName!;
  }

  /** Restores `ref` into a fresh etcd, starts a kube-apiserver on it and lists the namespace through it. */
  async function roundTrip(ref: string, options: { credential?: SecretRef; cluster?: ClusterRef } = {}) {
    const etcd = await freshEtcd('etcd-b');
    const result = await restoreSnapshot(target, ref, { endpoints: [etcd.endpoint], ...options });
    assert.equal(result.verify.ok, true, result.verify.problem?.message);
    assert.equal(result.restore.keysRestored, result.verify.keys);
    assert.equal((await etcdKeyCount(etcd.endpoint)).count, result.verify.keys, 'exactly the archived keys, no /vcluster/snapshot/ entry');
    const kube = await startKube({ dir: join(testEnv().runDir, uniqueName('kube-b')), etcd });
    stoppers.push(() => kube.stop());
    const restored = await objectsIn(adminKubeConfig(kube.server, kube.adminToken), namespace);
    return { result, restored };
  }

  before(async function () {
    worker = await startTestWorker();
    target = { client: worker.client, taskQueue: worker.taskQueue };
    const kube = adminKube();
    const core = kube.makeApiClient(k8s.CoreV1Api);
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    await core.createNamespace({ body: { metadata: { name: secretNamespace } } });
    await core.createNamespacedSecret({
      namespace: secretNamespace,
      body: { metadata: { name: credential.name, ...grantTo('team-a') }, stringData: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: '' } },
    });
    await core.createNamespacedSecret({
      namespace: secretNamespace,
      body: { metadata: { name: azureCredential.name, ...grantTo('team-a') }, stringData: { AZURE_STORAGE_KEY: testEnv().azurite.accountKey } },
    });
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();

    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const indexes = Array.from({ length: CONFIG_MAPS }, (_, i) => i);
    await mapLimit(indexes, 16, (i) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${String(i).padStart(4, '0')}` }, data: { index: String(i), payload: `value ${i} `.repeat(i % 50) } } }),
    );
    await kube.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] } },
        },
      },
    });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, type: 'Opaque', stringData: { password: 'p4ss-w0rd', user: 'admin' } } });
    original = await objectsIn(kube, namespace);
    assert.equal(Object.keys(original.configMaps).length, CONFIG_MAPS);

    // Source A: the harness kube-apiserver's own etcd.
    const state = { endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' as const };
    s3Policy = basePolicy(
      { type: 's3', bucket, prefix: 'snaps', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
      { state },
    );
    ociPolicy = basePolicy({ type: 'oci', registry: testEnv().registry.host, repository: `restore/${uniqueName('repo')}`, insecure: true }, { state });
    const { serviceUrl, accountName } = testEnv().azurite;
    azurePolicy = basePolicy({ type: 'azure', serviceUrl, accountName, container: await createAzureContainer('restore'), prefix: 'snaps', credential: azureCredential }, { state });
    [s3SnapshotName, ociSnapshotName, azureSnapshotName] = await Promise.all([takeSnapshot(s3Policy), takeSnapshot(ociPolicy), takeSnapshot(azurePolicy)]);
  });

  after(async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await worker?.stop();
  });

  it('round trip through MinIO: a kube-apiserver on the restored etcd serves the same objects', async () => {
    const { result, restored } = await roundTrip(s3Url('snaps', s3SnapshotName), { credential, cluster: TEAM_A });
    assert.equal(result.verify.sha256, result.verify.record?.sha256);
    assert.equal(result.verify.keys, result.verify.record?.keys);
    assert.ok(result.verify.keys > CONFIG_MAPS);
    assert.equal(result.restore.skippedEntries, 2, 'the request and revision entries');
    assert.deepEqual(restored, original);
  });

  it('round trip through Azure Blob (Azurite), by the blob URL, the account key from a granted Secret', async () => {
    const { serviceUrl, container } = azurePolicy.storage as { serviceUrl: string; container: string };
    const { result, restored } = await roundTrip(`${serviceUrl}/${container}/snaps/${azureSnapshotName}.tar.gz`, { credential: azureCredential, cluster: TEAM_A });
    assert.equal(result.verify.sha256, result.verify.record?.sha256);
    assert.equal(result.verify.keys, result.verify.record?.keys);
    assert.deepEqual(restored, original);
  });

  it('round trip through the registry', async () => {
    const { repository, registry } = ociPolicy.storage as { registry: string; repository: string };
    const { result, restored } = await roundTrip(`oci://${registry}/${repository}:${ociSnapshotName}?insecure=true`);
    assert.equal(result.verify.sha256, result.verify.record?.sha256);
    assert.deepEqual(restored, original);
  });

  describe('a damaged archive', () => {
    let flippedAt: number;
    let cutAt: number;

    before(async () => {
      const store = s3Store(s3Policy);
      const archive = await buffer(await store.getArchive(s3SnapshotName));
      const record = (await store.getRecord(s3SnapshotName))!;
      flippedAt = archive.length >> 1;
      const flipped = Buffer.from(archive);
      flipped[flippedAt] ^= 0xff;
      cutAt = Math.floor(archive.length * 0.7);
      for (const [name, bytes] of [[`${s3SnapshotName}-flipped`, flipped], [`${s3SnapshotName}-cut`, archive.subarray(0, cutAt)]] as const) {
        await store.putArchive(name, Readable.from([bytes]));
        await store.putRecord({ ...record, snapshotName: name, archiveUrl: store.urlFor(name) });
      }
    });

    it('fails verify with the offset of a flipped byte', async () => {
      const report = await verifySnapshot(target, s3Url('snaps', `${s3SnapshotName}-flipped`), { credential, cluster: TEAM_A });
      assert.equal(report.ok, false);
      assert.ok(report.problem, 'a problem is reported');
      if (report.problem.kind !== 'digest') {
        const offset = Number(/compressed byte (\d+)/.exec(report.problem.message)?.[1]);
        assert.ok(Number.isInteger(offset), report.problem.message);
        assert.equal(report.problem.compressedOffset, offset);
        if (report.problem.kind === 'tar' || /corrupt at/.test(report.problem.message)) assert.ok(Math.abs(offset - flippedAt) < 4096, `${report.problem.message} (flipped ${flippedAt})`);
      }
      console.log(`      flipped byte ${flippedAt}: ${report.problem.message}`);
    });

    it('fails verify of a truncated archive at the offset where it ends, by catalog name', async () => {
      const report = await verifySnapshot(target, `${s3SnapshotName}-cut`, { policy: s3Policy });
      assert.equal(report.ok, false);
      assert.equal(report.problem?.compressedOffset, cutAt);
      assert.match(report.problem!.message, new RegExp(`truncated.*compressed byte ${cutAt}`));
    });

    it('is refused by restore, which writes nothing', async () => {
      const etcd = await freshEtcd('etcd-refused');
      await assert.rejects(restoreSnapshot(target, `${s3SnapshotName}-flipped`, { policy: s3Policy, endpoints: [etcd.endpoint] }), (err: unknown) => {
        assert.ok(err instanceof SnapshotActionError, String(err));
        assert.equal(err.type, 'SnapshotCorrupt');
        assert.match(err.message, /failed verification/);
        return true;
      });
      assert.equal((await etcdKeyCount(etcd.endpoint)).count, 0);
    });
  });

  it('refuses a non-empty etcd without force and writes nothing; force clears it first', async () => {
    const etcd = await freshEtcd('etcd-used');
    const client = new Etcd3({ hosts: etcd.endpoint });
    await client.put('/existing').value('keep me');
    client.close();
    const before = await etcdKeyCount(etcd.endpoint);
    await assert.rejects(restoreSnapshot(target, s3SnapshotName, { policy: s3Policy, endpoints: [etcd.endpoint] }), (err: unknown) => {
      assert.ok(err instanceof SnapshotActionError, String(err));
      assert.equal(err.type, 'RestoreTargetNotEmpty');
      assert.match(err.message, new RegExp(`etcd at ${etcd.endpoint} is not empty: it holds 1 keys, e.g. "/existing"`));
      return true;
    });
    assert.deepEqual(await etcdKeyCount(etcd.endpoint), before, 'same keys, same revision: nothing written');

    const forced = await restoreSnapshot(target, s3SnapshotName, { policy: s3Policy, endpoints: [etcd.endpoint], force: true });
    assert.equal(forced.restore.clearedKeys, 1);
    const after = await etcdKeyCount(etcd.endpoint);
    assert.equal(after.count, forced.verify.keys, '/existing is gone');
  });

  it("finds a catalog name's storage through its cluster's schedule", async () => {
    await applyPolicy(target, s3Policy);
    try {
      const ref = await resolveSnapshotRef(target, s3SnapshotName, { namespace: s3Policy.cluster.namespace });
      assert.deepEqual(ref, { storage: s3Policy.storage, snapshotName: s3SnapshotName, cluster: s3Policy.cluster });
      assert.equal((await verifySnapshot(target, ref)).ok, true);
    } finally {
      await removePolicy(target, s3Policy.cluster);
    }
    await assert.rejects(resolveSnapshotRef(target, s3SnapshotName, { namespace: s3Policy.cluster.namespace }), /no schedule for cluster/);
  });

  it('runs one restore per target etcd at a time', async () => {
    const etcd = await freshEtcd('etcd-busy');
    const first = restoreSnapshot(target, s3SnapshotName, { policy: s3Policy, endpoints: [etcd.endpoint], batch: { keys: 1 } });
    while ((await etcdKeyCount(etcd.endpoint)).count === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await assert.rejects(restoreSnapshot(target, s3SnapshotName, { policy: s3Policy, endpoints: [etcd.endpoint], force: true }), (err: unknown) => {
      assert.ok(err instanceof SnapshotActionError, String(err));
      assert.equal(err.type, 'RestoreInProgress');
      return true;
    });
    assert.equal((await first).restore.keysRestored, (await first).verify.keys);
  });

  it('resumes after the last key an interrupted attempt reported', async () => {
    const etcd = await freshEtcd('etcd-resume');
    const activities = createActivities({ kube: adminKube() });
    const snapshot: SnapshotLocationRef = { storage: s3Policy.storage, snapshotName: s3SnapshotName, cluster: s3Policy.cluster };
    const input: RestoreArchiveInput = { snapshot, target: { endpoints: [etcd.endpoint] }, force: false, batch: { keys: 50 } };
    const restore = activities.restoreArchiveToEtcd;

    const quiet = { logger: new DefaultLogger('WARN') };
    const first = new MockActivityEnvironment({ attempt: 1 }, quiet);
    let progress: RestoreProgress | undefined;
    first.on('heartbeat', (details: RestoreProgress) => {
      progress = details;
      if (details.keys >= 300) first.cancel(); // the worker goes away mid-restore
    });
    await assert.rejects(first.run<[RestoreArchiveInput], RestoreReport, typeof restore>(restore, input));
    assert.equal(progress?.keys, 300);
    const interrupted = await etcdKeyCount(etcd.endpoint);
    assert.equal(interrupted.count, 300);

    const second = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: progress }, quiet);
    const report = await second.run<[RestoreArchiveInput], RestoreReport, typeof restore>(restore, input);
    assert.equal(report.resumedAfterKey, progress!.lastKey);

    // Every archived key is in etcd with its value; the first 300 were not written again.
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      const stored = new Map((await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]) })).kvs.map((kv) => [kv.key.toString('utf8'), kv]));
      let archived = 0;
      for await (const entry of readArchiveEntries(await s3Store(s3Policy).getArchive(s3SnapshotName))) {
        if (entry.name.startsWith('/vcluster/snapshot/')) continue;
        archived++;
        const kv = stored.get(entry.name);
        assert.ok(kv && kv.value.equals(entry.body), `${entry.name} restored with its value`);
        const rewritten = Number(kv.mod_revision) > Number(interrupted.revision);
        assert.equal(rewritten, Buffer.compare(Buffer.from(entry.name), Buffer.from(progress!.lastKey!)) > 0, `${entry.name} written once`);
      }
      assert.equal(stored.size, archived);
      assert.equal(report.keysRestored, archived);
    } finally {
      client.close();
    }
  });

  it('resumes on a new worker after the first one stops mid-restore', async () => {
    const etcd = await freshEtcd('etcd-restart');
    const taskQueue = uniqueName('restore-restart');
    const env = testEnv();
    const startWorker = async () => {
      const connection = await NativeConnection.connect({ address: env.temporal.address });
      const activities = createActivities({ kube: adminKube() });
      const w = await Worker.create({ connection, namespace: env.temporal.namespace, taskQueue, workflowBundle: { codePath: env.workflowBundlePath }, activities });
      const running = w.run();
      let stopped: Promise<void> | undefined;
      const stop = async () => {
        w.shutdown();
        await running;
        await connection.close();
      };
      return () => (stopped ??= stop());
    };
    const snapshot: SnapshotLocationRef = { storage: s3Policy.storage, snapshotName: s3SnapshotName, cluster: s3Policy.cluster };
    const stopFirst = await startWorker();
    let stopSecond: (() => Promise<void>) | undefined;
    try {
      // One key per transaction keeps the restore running long enough to stop its worker in the middle.
      const handle = await worker.client.workflow.start(restoreWorkflow, {
        taskQueue,
        workflowId: uniqueName('restore-restart'),
        args: [{ snapshot, target: { endpoints: [etcd.endpoint] }, batch: { keys: 1 } }],
      });
      const deadline = Date.now() + 60_000;
      while ((await etcdKeyCount(etcd.endpoint)).count < 300) {
        assert.ok(Date.now() < deadline, 'the restore did not get going');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await stopFirst();
      const stoppedAt = (await etcdKeyCount(etcd.endpoint)).count;
      stopSecond = await startWorker();
      const { verify, restore } = await handle.result();
      assert.ok(restore.resumedAfterKey, 'the second attempt resumed');
      assert.equal(restore.transactions, verify.keys - stoppedAt, 'only the keys after the last reported one were written again');
      assert.equal(restore.keysRestored, verify.keys);
      assert.equal((await etcdKeyCount(etcd.endpoint)).count, verify.keys);
    } finally {
      await stopFirst();
      await stopSecond?.();
    }
  });
});
