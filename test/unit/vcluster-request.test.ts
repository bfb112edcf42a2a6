// The request engine's pure parts: the ConfigMap + Secret vCluster's controller reads (v0.36.1 shapes), status
// reading, phase outcomes, version gate and the engine choice.
import { strict as assert } from 'node:assert';
import type { SnapshotPolicy } from '../../contracts/definitions';
import { engineFor } from '../../contracts/engine';
import { buildRequest, outcomeOf, requestNameFor, requestStatusOf, requestVersionProblem, storageOptionsFor } from '../../lib/vcluster/request';

const cluster = { name: 'demo', namespace: 'team-a' };
const snapshotName = 'demo-2026-11-23T12-00-00Z';

describe('vCluster snapshot requests (lib/vcluster/request)', () => {
  it('names a request deterministically, lowercase and distinct per snapshot, cluster and location', () => {
    const url = `s3://snaps/${snapshotName}.tar.gz`;
    const name = requestNameFor(cluster, snapshotName, url);
    assert.equal(name, requestNameFor(cluster, snapshotName, url));
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(name.length <= 63, name);
    assert.notEqual(name, requestNameFor({ ...cluster, namespace: 'team-b' }, snapshotName, url));
    assert.notEqual(name, requestNameFor(cluster, 'demo-2026-11-23T13-00-00Z', url));
    assert.notEqual(name, requestNameFor(cluster, snapshotName, `s3://other/${snapshotName}.tar.gz`), 'another location is another request');
  });

  it('builds the S3 options vCluster reads: full key, custom endpoint with a region, path style, credentials only in the Secret', () => {
    const storage = { type: 's3' as const, bucket: 'snaps', prefix: 'team-a', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false };
    const objects = buildRequest({
      policy: { cluster, storage },
      snapshotName,
      createdAt: new Date('2026-11-23T12:00:00.123Z'),
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret' },
      release: { releaseName: 'demo', releaseNamespace: 'team-a', chartName: 'vcluster', chartVersion: '0.36.1', valuesYaml: 'sync: {}\n' },
    });
    assert.equal(objects.url, `s3://snaps/team-a/${snapshotName}.tar.gz`);
    assert.deepEqual(objects.labels['vcluster.loft.sh/snapshot-request'], '');
    assert.equal(objects.labels['vcluster.loft.sh/vcluster-name'], 'demo');
    assert.equal(objects.labels['vcluster.loft.sh/vcluster-namespace'], 'team-a');
    const request = JSON.parse(objects.request.snapshotRequest);
    assert.deepEqual(request, { metadata: { name: objects.name, creationTimestamp: '2026-11-23T12:00:00Z' }, spec: { url: objects.url }, status: { error: {} } });
    assert.doesNotMatch(objects.request.snapshotRequest, /very-secret|AKIAEXAMPLE/);
    const options = JSON.parse(objects.options.snapshotOptions);
    assert.deepEqual(options.s3, {
      bucket: 'snaps', key: `team-a/${snapshotName}.tar.gz`, region: 'us-east-1', url: 'http://127.0.0.1:9000', 'force-path-style': true,
      'access-key-id': 'AKIAEXAMPLE', 'secret-access-key': 'very-secret',
    });
    assert.equal(options.type, 's3');
    assert.deepEqual(options.release, { releaseName: 'demo', releaseNamespace: 'team-a', chartName: 'vcluster', chartVersion: '0.36.1', values: Buffer.from('sync: {}\n').toString('base64') });
  });

  it('builds OCI (repository with the snapshot as tag) and container (a file path) targets', () => {
    const oci = storageOptionsFor({ type: 'oci', registry: '127.0.0.1:5000', repository: 'team/backups' }, snapshotName, { username: 'u', password: 'p' });
    assert.deepEqual(oci, { options: { type: 'oci', oci: { repository: `127.0.0.1:5000/team/backups:${snapshotName}`, username: 'u', password: 'p' } }, url: `oci://127.0.0.1:5000/team/backups:${snapshotName}` });
    const container = storageOptionsFor({ type: 'container', path: '/data/snaps/' }, snapshotName, undefined);
    assert.deepEqual(container, { options: { type: 'container', container: { path: `/data/snaps/${snapshotName}.tar.gz` } }, url: `container:///data/snaps/${snapshotName}.tar.gz` });
  });

  it("builds vCluster's Azure options (AzureOptions: blob-url, storage-key or sas) with the blob's https URL", () => {
    const location = { type: 'azure' as const, serviceUrl: 'https://acct1.blob.core.windows.net', accountName: 'acct1', container: 'snaps', prefix: 'team-a', credential: { name: 'az', namespace: 'team-a' } };
    const url = `https://acct1.blob.core.windows.net/snaps/team-a/${snapshotName}.tar.gz`;
    assert.deepEqual(storageOptionsFor(location, snapshotName, { accountKey: 'a2V5' }), { options: { type: 'azure', azure: { 'blob-url': url, 'storage-key': 'a2V5', sas: undefined } }, url });
    assert.deepEqual(storageOptionsFor(location, snapshotName, { sasToken: 'sv=1&sig=x' }), { options: { type: 'azure', azure: { 'blob-url': url, 'storage-key': undefined, sas: 'sv=1&sig=x' } }, url });
  });

  it('reads the status vCluster writes and maps phases to outcomes', () => {
    const data = (status: unknown) => ({ snapshotRequest: JSON.stringify({ metadata: { name: 'x' }, spec: { url: 'u' }, status }) });
    assert.deepEqual(requestStatusOf(data({ error: {} })), { phase: '' });
    assert.deepEqual(requestStatusOf(data({ phase: 'CreatingEtcdBackup', error: {} })), { phase: 'CreatingEtcdBackup' });
    assert.deepEqual(requestStatusOf(data({ phase: 'Failed', error: { message: 'NoSuchBucket: missing' } })), { phase: 'Failed', error: 'NoSuchBucket: missing' });
    assert.equal(requestStatusOf(data({ phase: 'InProgress' })).phase, 'Unknown');
    assert.equal(requestStatusOf({ snapshotRequest: '{not json' }).phase, 'Unknown');
    assert.deepEqual(outcomeOf({ phase: '' }), { done: false });
    assert.deepEqual(outcomeOf({ phase: 'CreatingEtcdBackup' }), { done: false });
    assert.deepEqual(outcomeOf({ phase: 'Completed' }), { done: true, ok: true });
    assert.deepEqual(outcomeOf({ phase: 'Failed', error: 'NoSuchBucket' }), { done: true, ok: false, reason: 'NoSuchBucket' });
    assert.equal(outcomeOf({ phase: 'Canceled' }).done, true);
  });

  it('refuses charts older than 0.30.0 with the version needed; unknown versions pass', () => {
    assert.match(requestVersionProblem('0.29.1') ?? '', /vCluster 0\.29\.1 .* needs vCluster 0\.30\.0 or newer/);
    assert.match(requestVersionProblem('0.21.0') ?? '', /0\.30\.0/);
    for (const ok of ['0.30.0', 'v0.36.1', '1.0.0', undefined, 'not-a-version']) assert.equal(requestVersionProblem(ok), undefined, String(ok));
  });

  it('picks the engine: forced wins; auto = direct where the etcd is reachable, request elsewhere', () => {
    const reachable: Pick<SnapshotPolicy, 'engine' | 'state'> = { state: { endpoints: ['https://e:2379'], origin: 'deployed-etcd' } };
    const embedded: Pick<SnapshotPolicy, 'engine' | 'state'> = { state: { endpoints: [], origin: 'none', unavailableReason: 'embedded SQLite' } };
    assert.equal(engineFor(reachable), 'direct');
    assert.equal(engineFor(embedded), 'request');
    assert.equal(engineFor({ ...reachable, engine: 'request' }), 'request');
    assert.equal(engineFor({ ...embedded, engine: 'direct' }), 'direct');
    assert.equal(engineFor({ ...embedded, engine: 'auto' }), 'request');
  });
});
