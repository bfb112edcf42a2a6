// Proves each server the harness starts is the real thing, reached through the libraries the product uses.
import { strict as assert } from 'node:assert';
import { createHash, randomUUID } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import * as k8s from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { Etcd3 } from 'etcd3';
import { SEARCH_ATTRIBUTES } from '../../contracts/definitions';
import { testEnv } from '../harness/env';
import { adminKube } from '../harness/temporal';

describe('real servers (harness smoke)', () => {
  it('Temporal dev server has the product search attributes registered', async () => {
    const connection = await Connection.connect({ address: testEnv().temporal.address });
    try {
      const response = await connection.operatorService.listSearchAttributes({ namespace: testEnv().temporal.namespace });
      for (const key of Object.values(SEARCH_ATTRIBUTES)) assert.ok(key.name in (response.customAttributes ?? {}), `${key.name} registered`);
    } finally {
      await connection.close();
    }
  });

  it('MinIO round-trips an object through @aws-sdk/client-s3', async () => {
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    const bucket = `smoke-${randomUUID().slice(0, 8)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hello minio' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hello minio');
    s3.destroy();
  });

  it('Azurite round-trips a blob through @azure/storage-blob, and refuses a request signed with another key', async () => {
    const { serviceUrl, accountName, accountKey } = testEnv().azurite;
    const container = new BlobServiceClient(serviceUrl, new StorageSharedKeyCredential(accountName, accountKey)).getContainerClient(`smoke-${randomUUID().slice(0, 8)}`);
    await container.create();
    await container.getBlockBlobClient('a/b.txt').upload('hello azurite', 13);
    assert.equal((await container.getBlobClient('a/b.txt').downloadToBuffer()).toString(), 'hello azurite');
    const forged = new BlobServiceClient(serviceUrl, new StorageSharedKeyCredential(accountName, Buffer.alloc(64, 7).toString('base64')), { retryOptions: { maxTries: 1 } });
    await assert.rejects(forged.getContainerClient(container.containerName).getBlobClient('a/b.txt').downloadToBuffer(), { statusCode: 403 });
  });

  for (const which of ['registry', 'authRegistry'] as const) {
    it(`${which} round-trips a blob and a manifest`, async () => {
      const env = testEnv();
      const host = env[which].host;
      const headers: Record<string, string> = {};
      if (which === 'authRegistry') {
        const unauthenticated = await fetch(`http://${host}/v2/`);
        assert.equal(unauthenticated.status, 401);
        assert.match(unauthenticated.headers.get('www-authenticate') ?? '', /^Basic /);
        headers.authorization = `Basic ${Buffer.from(`${env.authRegistry.username}:${env.authRegistry.password}`).toString('base64')}`;
      }
      const repo = `smoke/${randomUUID().slice(0, 8)}`;
      const blob = Buffer.from('{}');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
      assert.equal(start.status, 202);
      const location = new URL(start.headers.get('location')!, `http://${host}`);
      location.searchParams.set('digest', digest);
      const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
      assert.equal(put.status, 201);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest, size: 2 }],
      });
      const mediaType = 'application/vnd.oci.image.manifest.v1+json';
      const putManifest = await fetch(`http://${host}/v2/${repo}/manifests/v1`, { method: 'PUT', headers: { ...headers, 'content-type': mediaType }, body: manifest });
      assert.equal(putManifest.status, 201);
      const got = await fetch(`http://${host}/v2/${repo}/manifests/v1`, { headers: { ...headers, accept: mediaType } });
      assert.equal(await got.text(), manifest);
      const deleted = await fetch(`http://${host}/v2/${repo}/manifests/${got.headers.get('docker-content-digest')}`, { method: 'DELETE', headers });
      assert.equal(deleted.status, 202);
    });
  }

  it('etcd round-trips a key through etcd3', async () => {
    const etcd = new Etcd3({ hosts: testEnv().etcd.endpoint });
    const key = `/smoke/${randomUUID()}`;
    await etcd.put(key).value('v1');
    assert.equal(await etcd.get(key).string(), 'v1');
    await etcd.delete().key(key);
    etcd.close();
  });

  it('kube-apiserver stores a Namespace, a PVC and a VolumeSnapshot', async () => {
    const kube = adminKube();
    const core = kube.makeApiClient(k8s.CoreV1Api);
    const custom = kube.makeApiClient(k8s.CustomObjectsApi);
    const namespace = `smoke-${randomUUID().slice(0, 8)}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace });
    assert.equal(pvc.spec?.resources?.requests?.storage, '1Gi');
    await custom.createNamespacedCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      namespace,
      plural: 'volumesnapshots',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'snap' }, spec: { source: { persistentVolumeClaimName: 'data' } } },
    });
    const snapshot = (await custom.getNamespacedCustomObject({ group: 'snapshot.storage.k8s.io', version: 'v1', namespace, plural: 'volumesnapshots', name: 'snap' })) as {
      spec: { source: { persistentVolumeClaimName: string } };
    };
    assert.equal(snapshot.spec.source.persistentVolumeClaimName, 'data');
    await core.deleteNamespace({ name: namespace });
  });
});
