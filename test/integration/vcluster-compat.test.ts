// Compatibility proven by vCluster's own code (issue 18): scripts/go/vcluster-compat links vCluster's snapshot
// package at the pinned version and runs its real restore (RestoreClient.Run) and snapshot writer (Client.Run)
// against an external etcd over TLS with a client certificate, as vCluster reaches one.
// - Our archives, from S3 (MinIO), a directory, an OCI registry and Azure Blob storage (Azurite, reached at its public
//   host name `<account>.blob.core.windows.net` through an intercepting HTTPS proxy), restored by vCluster into a fresh TLS etcd: a
//   kube-apiserver on that etcd serves the same ConfigMaps, Secrets, Pods, CRD and custom objects as the source.
// - Our tar bytes equal Go archive/tar's for every entry shape (Go writes the expected bytes in the run).
// - Archives vCluster's code wrote (key/value kind from an etcd, etcd-db kind) are listed by the catalog, pass
//   verify, and restore (the db kind is refused with its reason; etcd's own snapshot restore takes it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { restoreSnapshot, SnapshotActionError, verifySnapshot } from '../../client/restore';
import type { AzureLocation, ClusterRef, SecretRef, SnapshotPolicy, StorageLocation } from '../../contracts/definitions';
import { createArchiveWriter, readArchiveEntries } from '../../lib/archive/writer';
import { mapLimit } from '../../lib/concurrency';
import { applyPolicy, removePolicy, type ScheduleTarget } from '../../lib/schedules';
import { createStore } from '../../lib/storage';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { adminKubeConfig, startKube } from '../../scripts/servers/kube';
import { toolPath, versions } from '../../scripts/servers/process';
import { startRegistry, type RegistryServer } from '../../scripts/servers/registry';
import { startInterceptingProxy, startTlsProxy, type InterceptingProxy, type TlsProxy } from '../../scripts/servers/tls-proxy';
import { etcdFlags, runVclusterCompat } from '../../scripts/servers/vcluster-compat';
import { snapshotWorkflow } from '../../workflows';
import { azureLocation } from '../harness/azure';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const execFileAsync = promisify(execFile);
const CONFIG_MAPS = 1001;
const VCLUSTER = versions().VCLUSTER_VERSION;
const GROUP = 'compat.vcsnap.io';
const CRD_NAME = `widgets.${GROUP}`;
/** Keys of 101-256 bytes that Go splits into a USTAR prefix and name, of 101-256 that it cannot split, and above 256. */
const LONG_NAMES = ['u'.repeat(80), 'p'.repeat(120), 'q'.repeat(253)];
const BACKENDS = ['s3', 'file', 'oci', 'azure'] as const;
type Backend = (typeof BACKENDS)[number];

interface ClusterObjects {
  configMaps: Record<string, unknown>;
  secrets: Record<string, unknown>;
  pods: Record<string, unknown>;
  widgets: Record<string, unknown>;
  crd: unknown;
}

async function pagedNames<T extends { metadata?: k8s.V1ObjectMeta }>(list: (_continue?: string) => Promise<{ items: T[]; metadata?: k8s.V1ListMeta }>, pick: (item: T) => unknown): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let _continue: string | undefined;
  do {
    const page = await list(_continue);
    for (const item of page.items) out[item.metadata!.name!] = pick(item);
    _continue = page.metadata?._continue;
  } while (_continue);
  return out;
}

/** What the comparison covers, per resource: names and content (a Pod's nodeName and status vCluster resets). */
async function objectsIn(kubeConfig: k8s.KubeConfig, namespace: string): Promise<ClusterObjects> {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const limit = 500;
  const configMaps = await pagedNames((_continue) => core.listNamespacedConfigMap({ namespace, limit, _continue }), (cm) => ({ uid: cm.metadata?.uid, data: cm.data, binaryData: cm.binaryData }));
  const secrets = await pagedNames((_continue) => core.listNamespacedSecret({ namespace, limit, _continue }), (s) => ({ uid: s.metadata?.uid, type: s.type, data: s.data }));
  const pods = await pagedNames(
    (_continue) => core.listNamespacedPod({ namespace, limit, _continue }),
    (pod) => {
      const { nodeName: _reset, ...spec } = pod.spec!;
      return { uid: pod.metadata?.uid, labels: pod.metadata?.labels, spec };
    },
  );
  const widgetList = (await custom.listNamespacedCustomObject({ group: GROUP, version: 'v1', namespace, plural: 'widgets' })) as { items: Array<{ metadata: { name: string; uid: string }; spec: unknown }> };
  const widgets = Object.fromEntries(widgetList.items.map((w) => [w.metadata.name, { uid: w.metadata.uid, spec: w.spec }]));
  const crd = (await kubeConfig.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: CRD_NAME })).spec;
  return { configMaps, secrets, pods, widgets, crd };
}

function tlsEtcdClient(etcd: EtcdServer): Etcd3 {
  const tls = etcd.tls!;
  return new Etcd3({ hosts: etcd.endpoint, credentials: { rootCertificate: readFileSync(tls.caFile), certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile) } });
}

describe(`vCluster ${VCLUSTER} compatibility, by vCluster's own code (real servers)`, function () {
  this.timeout(900_000);
  const namespace = uniqueName('compat');
  const cluster: ClusterRef = { name: 'compat', namespace };
  const bucket = uniqueName('compat-bucket');
  const credential: SecretRef = { name: 's3-creds', namespace };
  const stoppers: Array<() => Promise<void>> = [];
  let worker: TestWorker;
  let target: ScheduleTarget;
  let original: ClusterObjects;
  const taken: Partial<Record<Backend, { policy: SnapshotPolicy; snapshotName: string }>> = {};
  let registryTls: TlsProxy;
  /** Azurite at `https://<account>.blob.core.windows.net`, for vCluster's Azure store. */
  let azureFront: InterceptingProxy;
  let tlsRegistry: RegistryServer;
  /** The TLS etcd vCluster restored our S3 snapshot into: the source of vCluster's own snapshots below. */
  let vclusterEtcd: EtcdServer;

  const minioEnv = () => ({ AWS_ACCESS_KEY_ID: testEnv().minio.accessKeyId, AWS_SECRET_ACCESS_KEY: testEnv().minio.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
  /** vCluster's URL of an S3 key in the harness's MinIO: endpoint and path style as URL options, credentials from the environment. */
  const s3Url = (key: string) => `s3://${bucket}/${key}?region=us-east-1&force-path-style=true&url=${Buffer.from(testEnv().minio.endpoint).toString('base64')}`;

  /**
   * vCluster builds the public Azure host itself and takes no transport options: Go's HTTPS_PROXY brings it to
   * Azurite, which takes the account from the host's first label, as Azure does. The key comes from the environment.
   */
  const azureEnv = () => ({ HTTPS_PROXY: azureFront.url, SSL_CERT_FILE: azureFront.caFile, AZURE_STORAGE_KEY: testEnv().azurite.accountKey });

  /** The vcsnap CLI as an operator runs it, against this suite's worker; fails on a non-zero exit. */
  async function vcsnap(...args: string[]): Promise<{ stdout: string }> {
    const env = { ...process.env, TEMPORAL_ADDRESS: testEnv().temporal.address, TEMPORAL_NAMESPACE: testEnv().temporal.namespace, VCSNAP_TASK_QUEUE: worker.taskQueue, KUBECONFIG: testEnv().kube.kubeconfigFile };
    const { stdout } = await execFileAsync(process.execPath, [join(__dirname, '..', '..', 'bin', 'vcsnap.js'), ...args], { env, encoding: 'utf8' });
    return { stdout };
  }

  async function freshEtcd(name: string, tls: boolean): Promise<EtcdServer> {
    const etcd = await startEtcd({ dir: join(testEnv().runDir, uniqueName(name)), name, tls });
    stoppers.push(() => etcd.stop());
    return etcd;
  }

  async function kubeObjectsOn(etcd: EtcdServer): Promise<ClusterObjects> {
    const kube = await startKube({ dir: join(testEnv().runDir, uniqueName('kube-compat')), etcd });
    try {
      // Ready, yet still opening a CRD's storage: it answers 429 "storage is (re)initializing" for a moment.
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          return await objectsIn(adminKubeConfig(kube.server, kube.adminToken), namespace);
        } catch (err) {
          if ((err as { code?: number }).code !== 429 || Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      await kube.stop();
    }
  }

  /** vCluster's RestoreClient.Run from `url` into a fresh TLS etcd. */
  async function vclusterRestore(url: string, env: NodeJS.ProcessEnv = {}): Promise<{ etcd: EtcdServer; seconds: number }> {
    const etcd = await freshEtcd('etcd-vcluster', true);
    const started = Date.now();
    await runVclusterCompat(['restore', ...etcdFlags(etcd.endpoint, etcd.tls!), url], { env });
    return { etcd, seconds: (Date.now() - started) / 1000 };
  }

  async function assertSameObjects(etcd: EtcdServer, what: string): Promise<void> {
    const restored = await kubeObjectsOn(etcd);
    for (const resource of ['configMaps', 'secrets', 'pods', 'widgets'] as const) {
      assert.deepEqual(Object.keys(restored[resource]).sort(), Object.keys(original[resource]).sort(), `${what}: ${resource} names`);
      assert.deepEqual(restored[resource], original[resource], `${what}: ${resource} content`);
    }
    assert.deepEqual(restored.crd, original.crd, `${what}: the CRD`);
  }

  before(async function () {
    worker = await startTestWorker();
    target = { client: worker.client, taskQueue: worker.taskQueue };
    const kube = adminKube();
    const core = kube.makeApiClient(k8s.CoreV1Api);
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    // vCluster's OCI store pushes over https only: a registry of its own (relative upload URLs, so the upload stays
    // on the TLS front) behind a TLS front whose CA Go reads from SSL_CERT_FILE.
    tlsRegistry = await startRegistry({ dir: join(testEnv().runDir, 'compat-registry'), name: uniqueName('registry-compat'), relativeUrls: true });
    stoppers.push(() => tlsRegistry.stop());
    registryTls = await startTlsProxy({ dir: join(testEnv().runDir, uniqueName('registry-tls')), targetPort: Number(tlsRegistry.host.split(':')[1]) });
    azureFront = await startInterceptingProxy({ dir: join(testEnv().runDir, uniqueName('azure-front')), domain: 'blob.core.windows.net', targetPort: Number(new URL(testEnv().azurite.serviceUrl).port) });
    stoppers.push(() => azureFront.stop());

    // The source cluster: the harness kube-apiserver, on its own etcd.
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: credential.name }, stringData: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } } });
    const azure = await azureLocation(namespace, 'ours'); // its key Secret is one of the cluster's objects too
    // The vCluster's config, so our archives carry a release entry.
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: `vc-config-${cluster.name}` }, stringData: { 'config.yaml': 'controlPlane:\n  backingStore:\n    etcd:\n      deploy:\n        enabled: true\n' } } });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    const indexes = Array.from({ length: CONFIG_MAPS }, (_, i) => i);
    await mapLimit(indexes, 16, (i) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${String(i).padStart(4, '0')}` }, data: { index: String(i), payload: `value ${i} `.repeat(i % 50) } } }),
    );
    for (const name of LONG_NAMES) {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, binaryData: { blob: randomBytes(700).toString('base64') } } });
      await core.createNamespacedSecret({ namespace, body: { metadata: { name }, type: 'Opaque', data: { key: randomBytes(64).toString('base64') } } });
    }
    await mapLimit(
      Array.from({ length: 20 }, (_, i) => i),
      8,
      (i) => core.createNamespacedSecret({ namespace, body: { metadata: { name: `secret-${i}` }, type: 'Opaque', data: { bytes: randomBytes(32 + i).toString('base64'), zero: Buffer.from([0, 0, 255]).toString('base64') } } }),
    );
    for (let i = 0; i < 12; i++) {
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: `pod-${i}`, labels: { app: 'compat', index: String(i) } },
          spec: {
            automountServiceAccountToken: false,
            // Scheduled pods: vCluster's restore clears nodeName and status so its syncer does not delete them.
            nodeName: i % 2 ? 'node-a' : undefined,
            containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'INDEX', value: String(i) }] }],
          },
        },
      });
    }
    const crds = kube.makeApiClient(k8s.ApiextensionsV1Api);
    await crds.createCustomResourceDefinition({
      body: {
        metadata: { name: CRD_NAME },
        spec: {
          group: GROUP,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
        },
      },
    });
    for (;;) {
      const crd = await crds.readCustomResourceDefinition({ name: CRD_NAME });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const custom = kube.makeApiClient(k8s.CustomObjectsApi);
    for (const name of ['small', 'w'.repeat(200)]) {
      await custom.createNamespacedCustomObject({ group: GROUP, version: 'v1', namespace, plural: 'widgets', body: { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name }, spec: { size: name.length, nested: { list: [1, 'two', { three: 3 }] } } } });
    }
    original = await objectsIn(kube, namespace);
    assert.equal(Object.keys(original.configMaps).length, CONFIG_MAPS + LONG_NAMES.length);
    assert.equal(Object.keys(original.pods).length, 12);

    // Our snapshots of it, one per backend.
    const state = { endpoints: [testEnv().kube.etcdEndpoint], origin: 'explicit' as const };
    const release = { chartName: 'vcluster', chartVersion: VCLUSTER.slice(1) };
    const fileDir = join(testEnv().runDir, 'compat-dir', namespace);
    mkdirSync(fileDir, { recursive: true });
    const storages: Record<Backend, StorageLocation> = {
      s3: { type: 's3', bucket, prefix: 'ours', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
      file: { type: 'container', path: fileDir },
      oci: { type: 'oci', registry: testEnv().registry.host, repository: `compat/${uniqueName('ours')}`, insecure: true },
      azure: azure,
    };
    await Promise.all(
      BACKENDS.map(async (backend) => {
        const policy = basePolicy(storages[backend], { cluster, state, release });
        const view = await worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName(`compat-${backend}`), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
        assert.equal(view.status, 'Completed', view.error);
        taken[backend] = { policy, snapshotName: view.snapshotName! };
      }),
    );
  });

  after(async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await registryTls?.stop();
    await worker?.stop();
  });

  it("our tar bytes are Go archive/tar's, byte for byte, for every entry shape", async () => {
    const names = [
      '/registry/configmaps/ns/short',
      `/registry/configmaps/ns/${'a'.repeat(76)}`, // exactly 100 bytes
      `/registry/configmaps/ns/${'b'.repeat(77)}`, // 101: USTAR prefix split
      `/registry/configmaps/${'n'.repeat(130)}/${'c'.repeat(100)}`, // 256: split at the longest prefix
      `/registry/configmaps/ns/${'d'.repeat(101)}`, // last segment too long to split: PAX
      `/registry/configmaps/ns/${'e'.repeat(253)}`, // above 256: PAX
      `/${'f'.repeat(200)}/${'g'.repeat(60)}`, // prefix too long to split: PAX
      '/registry/configmaps/ns/ünïcode', // not ASCII: PAX
      '/registry/emoji/🙂/x',
      `/registry/${'h'.repeat(120)}//x`, // PAX; its header name is path.Join-cleaned
      `/a/../${'z'.repeat(120)}`,
      ...Array.from({ length: 12 }, (_, i) => `/${'r'.repeat(985 + i)}`), // PAX record lengths around 1000
    ];
    const sizes = [0, 1, 511, 512, 513, 1024, 4097];
    const entries = names.map((name, i): [string, Buffer] => [name, randomBytes(sizes[i % sizes.length]!)]);
    const input = Buffer.from(JSON.stringify(entries.map(([name, value]) => ({ name: Buffer.from(name).toString('base64'), value: value.toString('base64') }))));
    const fromGo = await runVclusterCompat(['tar'], { input });
    const writer = createArchiveWriter();
    const output = buffer(writer.stream);
    for (const [name, value] of entries) await writer.addEntry(name, value);
    await writer.finish();
    const ours = gunzipSync(await output);
    const differs = ours.findIndex((byte, i) => byte !== fromGo[i]);
    assert.ok(ours.equals(fromGo), `tar bytes differ from Go's at byte ${differs} (block ${Math.floor(differs / 512)}); lengths ${ours.length} and ${fromGo.length}`);
  });

  it('vCluster restores our S3 snapshot (release and request entries included); a kube-apiserver on its etcd serves the same objects', async () => {
    const { policy, snapshotName } = taken.s3!;
    const { prefix } = policy.storage as { prefix: string };
    const { etcd, seconds } = await vclusterRestore(s3Url(`${prefix}/${snapshotName}.tar.gz`), minioEnv());
    console.log(`      vCluster restored ${snapshotName} from S3 in ${seconds.toFixed(1)}s`);
    await assertSameObjects(etcd, 'S3');
    // v0.36.1 Puts every entry, metadata included, as an etcd key (outside /registry: the API server never reads it).
    const client = tlsEtcdClient(etcd);
    try {
      const metadata = (await client.getAll().prefix('/vcluster/snapshot/').keys()).sort();
      assert.deepEqual(metadata, ['/vcluster/snapshot/release', '/vcluster/snapshot/request/v1beta1', '/vcluster/snapshot/revision']);
      const pod = await client.get(`/registry/pods/${namespace}/pod-1`).buffer();
      assert.ok(pod && pod.subarray(0, 4).equals(Buffer.from('k8s\0')), 'the Pod vCluster re-encoded is protobuf');
    } finally {
      client.close();
    }
    vclusterEtcd = etcd;
  });

  it('vCluster restores our directory snapshot (container://)', async () => {
    const { policy, snapshotName } = taken.file!;
    const { etcd } = await vclusterRestore(`container://${(policy.storage as { path: string }).path}/${snapshotName}.tar.gz`);
    await assertSameObjects(etcd, 'directory');
  });

  it("vCluster's OCI store pulls our OCI snapshot and restores it", async () => {
    const { policy, snapshotName } = taken.oci!;
    const { registry, repository } = policy.storage as { registry: string; repository: string };
    const { etcd } = await vclusterRestore(`oci://${registry}/${repository}:${snapshotName}`);
    await assertSameObjects(etcd, 'OCI');
  });

  it("vCluster's Azure store reads our Azure snapshot at https://<account>.blob.core.windows.net with the account key", async () => {
    const { policy, snapshotName } = taken.azure!;
    const { accountName, container, prefix } = policy.storage as AzureLocation;
    const host = `${accountName}.blob.core.windows.net`;
    const { etcd, seconds } = await vclusterRestore(`https://${host}/${container}/${prefix}/${snapshotName}.tar.gz`, azureEnv());
    console.log(`      vCluster restored ${snapshotName} from Azure Blob storage in ${seconds.toFixed(1)}s`);
    assert.deepEqual([...new Set(azureFront.connects)], [`${host}:443`], 'vCluster dialled only the account host');
    await assertSameObjects(etcd, 'Azure');
  });

  it('oras, a generic OCI client, fetches our manifest and blob: the media types and the digest are right', async () => {
    const { policy, snapshotName } = taken.oci!;
    const { registry, repository } = policy.storage as { registry: string; repository: string };
    const oras = (args: string[]) => execFileAsync(toolPath('oras', 'ORAS_VERSION'), args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, env: { PATH: process.env.PATH, HOME: testEnv().runDir } });
    const manifest = JSON.parse((await oras(['manifest', 'fetch', '--plain-http', `${registry}/${repository}:${snapshotName}`])).stdout.toString('utf8')) as {
      mediaType: string;
      artifactType: string;
      config: { mediaType: string; digest: string };
      layers: Array<{ mediaType: string; digest: string; size: number }>;
    };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.artifactType, 'application/vnd.loft.vcluster');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.empty.v1+json');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.loft.vcluster.etcd.v1.tar+gzip']);
    const [layer] = manifest.layers;
    const blob = (await oras(['blob', 'fetch', '--plain-http', '--output', '-', `${registry}/${repository}@${layer!.digest}`])).stdout;
    assert.equal(blob.length, layer!.size);
    assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, layer!.digest);
    assert.ok(blob.equals(await buffer(await createStore(policy.storage, undefined).getArchive(snapshotName))), 'the blob is our archive byte for byte');
  });

  describe("archives vCluster's own code wrote", () => {
    const vcCluster: ClusterRef = { name: 'vcsrc', namespace };
    const snapshotName = `${vcCluster.name}-2026-11-24T00-00-00Z`;
    const releaseFlags = ['--release-name', vcCluster.name, '--release-namespace', namespace, '--chart-version', VCLUSTER.slice(1), '--values', 'sync: {}\n'];
    let s3Policy: SnapshotPolicy;

    before(function () {
      assert.ok(vclusterEtcd, 'the S3 restore test left the TLS etcd vCluster restored into');
      s3Policy = basePolicy({ type: 's3', bucket, prefix: 'vcluster', endpoint: testEnv().minio.endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential }, { cluster: vcCluster });
    });

    /** A key/value archive vCluster's store wrote at `storage`: our store lists it alone, verify passes, restore writes every key. */
    async function listVerifyRestore(store: ReturnType<typeof createStore>, storage: StorageLocation, etcdName: string, what: string): Promise<void> {
      const listing = await store.listArchives();
      assert.deepEqual(listing.map((l) => l.snapshotName), [snapshotName]);
      const verified = await verifySnapshot(target, { storage, snapshotName, cluster: vcCluster });
      assert.equal(verified.ok, true, verified.problem?.message);
      assert.ok(verified.keys > CONFIG_MAPS);
      const etcd = await freshEtcd(etcdName, false);
      const result = await restoreSnapshot(target, { storage, snapshotName, cluster: vcCluster }, { endpoints: [etcd.endpoint] });
      assert.equal(result.restore.keysRestored, verified.keys);
      await assertSameObjects(etcd, what);
    }

    it('key/value kind in S3: `vcsnap snapshots` lists it, `vcsnap verify` passes, `vcsnap restore` writes it: same objects', async () => {
      await runVclusterCompat(['snapshot', ...etcdFlags(vclusterEtcd.endpoint, vclusterEtcd.tls!), ...releaseFlags, s3Url(`vcluster/${snapshotName}.tar.gz`)], { env: minioEnv() });
      const etcd = await freshEtcd('etcd-ours', false);
      await applyPolicy(target, s3Policy);
      try {
        const listed = await vcsnap('snapshots', `${namespace}/${vcCluster.name}`, '--json');
        const entries = (JSON.parse(listed.stdout) as Array<{ entries: Array<{ snapshotName: string; status: string; origin?: string }> }>)[0]!.entries;
        const entry = entries.find((e) => e.snapshotName === snapshotName);
        assert.deepEqual(entry && [entry.status, entry.origin], ['Completed', 'external'], `the catalog lists ${snapshotName}: ${listed.stdout}`);
        const verified = await vcsnap('verify', snapshotName, '-n', namespace);
        assert.match(verified.stdout, new RegExp(`${snapshotName}\\.tar\\.gz: ok, \\d+ keys`));
        const restored = await vcsnap('restore', snapshotName, '-n', namespace, '--etcd', etcd.endpoint);
        assert.match(restored.stdout, new RegExp(`restored \\d+ keys .* into ${etcd.endpoint}`));
      } finally {
        await removePolicy(target, vcCluster);
      }
      const verified = await verifySnapshot(target, snapshotName, { policy: s3Policy });
      assert.equal(verified.kind, 'key-value');
      assert.equal(verified.release?.releaseName, vcCluster.name);
      const client = new Etcd3({ hosts: etcd.endpoint });
      try {
        const count = Number((await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true })).count);
        assert.equal(count, verified.keys, "every key, none of the /vcluster/snapshot/ entries (the release entry and the copies vCluster's restore had Put)");
        assert.deepEqual(await client.getAll().prefix('/vcluster/snapshot/').keys(), []);
      } finally {
        client.close();
      }
      await assertSameObjects(etcd, 'vCluster key/value archive restored by vcsnap');
    });

    it("key/value kind pushed by vCluster's OCI store (https): ours lists, verifies and restores it", async () => {
      const repository = `compat/${uniqueName('theirs')}`;
      const url = `oci://127.0.0.1:${registryTls.port}/${repository}:${snapshotName}`;
      await runVclusterCompat(['snapshot', ...etcdFlags(vclusterEtcd.endpoint, vclusterEtcd.tls!), url], { env: { SSL_CERT_FILE: registryTls.caFile } });
      const storage: StorageLocation = { type: 'oci', registry: tlsRegistry.host, repository, insecure: true };
      await listVerifyRestore(createStore(storage, undefined), storage, 'etcd-ours-oci', "vCluster's OCI artifact restored by vcsnap");
    });

    it("key/value kind uploaded by vCluster's Azure store: ours lists, verifies and restores it", async () => {
      const storage: AzureLocation = { ...(taken.azure!.policy.storage as AzureLocation), prefix: 'vcluster' };
      await runVclusterCompat(['snapshot', ...etcdFlags(vclusterEtcd.endpoint, vclusterEtcd.tls!), `https://${storage.accountName}.blob.core.windows.net/${storage.container}/vcluster/${snapshotName}.tar.gz`], { env: azureEnv() });
      await listVerifyRestore(createStore(storage, { accountKey: testEnv().azurite.accountKey }), storage, 'etcd-ours-azure', "vCluster's Azure blob restored by vcsnap");
    });

    it("etcd-db kind: verify passes (etcd's own hash checked), restore is refused with the reason, etcd's snapshot restore takes it", async () => {
      const dbName = `${vcCluster.name}-2026-11-24T01-00-00Z`;
      await runVclusterCompat(['snapshot-db', ...etcdFlags(vclusterEtcd.endpoint, vclusterEtcd.tls!), ...releaseFlags, s3Url(`vcluster/${dbName}.tar.gz`)], { env: minioEnv() });
      const verified = await verifySnapshot(target, dbName, { policy: s3Policy });
      assert.equal(verified.ok, true, verified.problem?.message);
      assert.equal(verified.kind, 'etcd-db');
      assert.ok((verified.databaseBytes ?? 0) > 1_000_000);
      const etcd = await freshEtcd('etcd-db-refused', false);
      await assert.rejects(restoreSnapshot(target, dbName, { policy: s3Policy, endpoints: [etcd.endpoint] }), (err: unknown) => {
        assert.ok(err instanceof SnapshotActionError, String(err));
        assert.equal(err.type, 'SnapshotNotRestorable');
        assert.match(err.message, /embedded-etcd kind: an etcd database .* cannot take a database over its API.*etcdutl snapshot restore/);
        return true;
      });
      // What the reason says works: etcd's own snapshot restore of the database entry into a new data dir.
      const dataDir = join(testEnv().runDir, uniqueName('etcd-db-restored'));
      let db: Buffer | undefined;
      for await (const entry of readArchiveEntries(await createStore(s3Policy.storage, { accessKeyId: testEnv().minio.accessKeyId, secretAccessKey: testEnv().minio.secretAccessKey }).getArchive(dbName))) {
        if (entry.name === '/vcluster/snapshot/db') db = entry.body;
      }
      assert.ok(db);
      await runVclusterCompat(['restore-db', dataDir], { input: db });
      const restored = await startEtcd({ dir: join(testEnv().runDir, uniqueName('etcd-db')), name: 'etcd-db', dataDir });
      stoppers.push(() => restored.stop());
      await assertSameObjects(restored, 'etcd-db archive through etcd snapshot restore');
    });
  });
});
