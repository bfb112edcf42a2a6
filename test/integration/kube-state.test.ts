// A kube-apiserver writes real objects into its etcd; a snapshot of that etcd lands in a directory, MinIO and the
// registry, and each archive, read back with the system tar, matches etcd key by key and value by value at the
// snapshot's pinned revision, release entry first.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { createStore } from '../../lib/storage';
import type { SnapshotPolicy, StorageLocation } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

describe('snapshot of a real kube-apiserver etcd', function () {
  this.timeout(300_000);
  let worker: TestWorker;
  const namespace = uniqueName('kube-state');
  const name = uniqueName('vc');
  const valuesYaml = 'controlPlane:\n  distro:\n    k8s:\n      enabled: true\n';

  before(async () => {
    worker = await startTestWorker();
    const kube = adminKube();
    const core = kube.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (let i = 0; i < 30; i++) await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${i}` }, data: { i: String(i), 'blob.bin': 'é'.repeat(i) } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'app-secret' }, stringData: { token: 'app-level-data' } } });
    await kube.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
      },
    });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: `vc-config-${name}`, labels: { app: 'vcluster', release: name, chart: 'vcluster-0.30.0' } }, stringData: { 'config.yaml': valuesYaml } } });
  });
  after(async () => worker.stop());

  async function storages(): Promise<Array<{ label: string; storage: StorageLocation; credentials?: { accessKeyId: string; secretAccessKey: string } }>> {
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const bucket = uniqueName('kube-state');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const dir = join(testEnv().runDir, uniqueName('kube-state-files'));
    mkdirSync(dir, { recursive: true });
    return [
      { label: 'directory', storage: { type: 'container', path: dir } },
      {
        label: 'MinIO',
        storage: { type: 's3', bucket, prefix: 'k', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false },
        credentials: { accessKeyId, secretAccessKey },
      },
      { label: 'registry', storage: { type: 'oci', registry: testEnv().registry.host, repository: `kube-state/${uniqueName('r')}`, insecure: true } },
    ];
  }

  it('matches etcd key by key in a directory, MinIO and the registry', async () => {
    process.env.AWS_ACCESS_KEY_ID = testEnv().minio.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = testEnv().minio.secretAccessKey;
    const etcd = new Etcd3({ hosts: testEnv().kube.etcdEndpoint });
    try {
      for (const { label, storage, credentials } of await storages()) {
        const policy: SnapshotPolicy = {
          ...basePolicy(storage),
          cluster: { name, namespace },
          state: { endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' },
          release: { chartName: 'vcluster', chartVersion: '0.30.0' },
        };
        const view = await worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('kube-state'), args: [{ policy }] });
        assert.equal(view.status, 'Completed', label);
        const store = createStore(storage, credentials);
        const record = (await store.getRecord(view.snapshotName!))!;
        const archive = join(testEnv().runDir, `${view.snapshotName}-${label}.tar.gz`);
        await pipeline(await store.getArchive(view.snapshotName!), createWriteStream(archive));

        const listing = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        assert.equal(listing.status, 0, listing.stderr);
        const names = listing.stdout.split('\n').filter(Boolean);
        assert.equal(names[0], '/vcluster/snapshot/release', `${label}: release entry first`);
        assert.equal(names[1], '/vcluster/snapshot/request/v1beta1');
        assert.equal(names[2], '/vcluster/snapshot/revision', `${label}: the revision entry of vCluster's newest writer`);
        const keys = names.slice(3);
        assert.ok(!keys.some((k) => k.startsWith('/vcluster/snapshot/')));

        const expected = await etcd.getAll().prefix('/').revision(record.revision!).buffers();
        const expectedKeys = Object.keys(expected).filter((k) => !k.startsWith('/vcluster/snapshot/')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual(keys, expectedKeys, `${label}: keys in order at revision ${record.revision}`);
        assert.ok(keys.some((k) => k === `/registry/deployments/${namespace}/web`));
        assert.ok(keys.some((k) => k === `/registry/secrets/${namespace}/app-secret`));
        assert.equal(keys.filter((k) => k.startsWith(`/registry/configmaps/${namespace}/cm-`)).length, 30);

        const extractDir = join(testEnv().runDir, uniqueName('extract'));
        mkdirSync(extractDir, { recursive: true });
        const extracted = spawnSync('tar', ['-xzf', archive, '-C', extractDir], { encoding: 'utf8' });
        assert.equal(extracted.status, 0, extracted.stderr);
        for (const key of expectedKeys) assert.ok(readFileSync(join(extractDir, key)).equals(expected[key]), `${label}: value of ${key}`);
        const release = JSON.parse(readFileSync(join(extractDir, 'vcluster/snapshot/release'), 'utf8'));
        assert.deepEqual(release, { releaseName: name, releaseNamespace: namespace, chartName: 'vcluster', chartVersion: '0.30.0', values: Buffer.from(valuesYaml).toString('base64') });
      }
    } finally {
      etcd.close();
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});
