// The request engine against vCluster's own control plane: a real `vcluster start` (v0.36.1, default embedded SQLite
// store behind kine) runs against the harness kube-apiserver in its own namespaces (scripts/servers/vcluster.ts).
// A scheduled snapshot files a vCluster snapshot request, the vCluster takes the snapshot from its own store and
// uploads it, and the run ends Completed with a record; the archive passes verify and, restored into an empty etcd,
// holds every ConfigMap the virtual cluster's own API server lists.
import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { Etcd3 } from 'etcd3';
import { listSnapshots } from '../../client/catalog';
import { restoreSnapshot, verifySnapshot } from '../../client/restore';
import { WORKFLOW_TYPES, type SnapshotPolicy, type SnapshotRecord, type SnapshotStatusView, type StorageLocation } from '../../contracts/definitions';
import { REQUEST_LABEL } from '../../lib/vcluster/request';
import { applyPolicy, describe as describePolicy, triggerNow, type ScheduleTarget } from '../../lib/schedules';
import { snapshotNameFor } from '../../contracts/naming';
import { createStore } from '../../lib/storage';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import { startRegistry, type RegistryServer } from '../../scripts/servers/registry';
import { startTlsProxy, type TlsProxy } from '../../scripts/servers/tls-proxy';
import type { KubeServer } from '../../scripts/servers/kube';
import { startVcluster, type VclusterServer } from '../../scripts/servers/vcluster';
import { spawnWorkerProcess, type WorkerProcess } from '../faults/support/workers';
import { eventually } from '../harness/eventually';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const CONFIGMAPS = 500;

function minioClient(): S3Client {
  const { minio } = testEnv();
  return new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
}

describe('request engine: vCluster v0.36.1 takes the snapshot from its embedded SQLite store', function () {
  this.timeout(300_000);
  const env = () => testEnv();
  const namespace = uniqueName('vc-req');
  const name = 'req';
  const cluster = { name, namespace };
  let vcluster: VclusterServer;
  let worker: TestWorker;
  let connection: Connection;
  let target: ScheduleTarget;
  let bucket: string;
  let registryTls: TlsProxy;
  let registry: RegistryServer;

  before(async function () {
    const { kube, minio } = env();
    // vCluster's OCI store pushes with https only: inside its namespace the registry's port is a TLS front of a
    // plain registry of this test's, signed by a test CA the syncer trusts (SSL_CERT_FILE); the worker reads it plainly.
    registry = await startRegistry({ dir: join(env().runDir, 'vclusters'), name: 'registry-vc', relativeUrls: true });
    const registryPort = Number(registry.host.split(':')[1]);
    registryTls = await startTlsProxy({ dir: join(env().runDir, 'vclusters', 'registry-tls'), targetPort: registryPort });
    vcluster = await startVcluster({
      dir: join(env().runDir, 'vclusters'),
      kube: kube as unknown as KubeServer,
      name,
      namespace,
      hostPorts: [Number(new URL(minio.endpoint).port)],
      portMap: { [registryPort]: registryTls.port },
      env: { SSL_CERT_FILE: registryTls.caFile },
    });
    const virtual = vcluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await virtual.createNamespace({ body: { metadata: { name: 'apps' } } });
    for (let start = 0; start < CONFIGMAPS; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CONFIGMAPS - start) }, (_, i) =>
          virtual.createNamespacedConfigMap({ namespace: 'apps', body: { metadata: { name: `cm-${start + i}` }, data: { index: String(start + i), blob: 'x'.repeat(200) } } }),
        ),
      );
    }
    bucket = uniqueName('vc-req');
    await minioClient().send(new CreateBucketCommand({ Bucket: bucket }));
    // The storage credentials the policy references, in the cluster's own namespace.
    await adminKube()
      .makeApiClient(k8s.CoreV1Api)
      .createNamespacedSecret({ namespace, body: { metadata: { name: 'minio' }, stringData: { AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey } } });
    worker = await startTestWorker({ pollIntervalMs: 200 });
    connection = await Connection.connect({ address: env().temporal.address });
    target = { client: new Client({ connection, namespace: env().temporal.namespace }), taskQueue: worker.taskQueue };
  });

  after(async () => {
    await connection?.close();
    await worker?.stop();
    await vcluster?.stop();
    await registryTls?.stop();
    await registry?.stop();
  });

  function policyFor(storage: StorageLocation): SnapshotPolicy {
    return basePolicy(storage, {
      cluster,
      // What discovery derives for vCluster's default store: not reachable from the worker.
      state: { endpoints: [], origin: 'none', unavailableReason: 'embedded SQLite store' },
      release: { chartName: 'vcluster', chartVersion: '0.36.1' },
    });
  }

  function s3Storage(bucketName: string): StorageLocation {
    const { minio } = env();
    return { type: 's3', bucket: bucketName, prefix: 'snapshots', endpoint: minio.endpoint, forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential: { name: 'minio', namespace } };
  }

  /** Applies the policy as a schedule, fires it now, and returns the handle of the run the schedule started. */
  async function scheduledRun(policy: SnapshotPolicy): Promise<WorkflowHandle> {
    await applyPolicy(target, policy);
    const before = new Set((await describePolicy(target, cluster)).recentRuns.map((r) => r.runId));
    await triggerNow(target, cluster);
    const run = await eventually('the schedule to start a run', async () => (await describePolicy(target, cluster)).recentRuns.find((r) => !before.has(r.runId)));
    return target.client.workflow.getHandle(run.workflowId, run.runId);
  }

  /** The SnapshotStatus values and vCluster phases a run went through, from its history. */
  async function flowOf(handle: WorkflowHandle): Promise<{ statuses: string[]; requestPhases: string[] }> {
    const history = await handle.fetchHistory();
    const statuses: string[] = [];
    const requestPhases: string[] = [];
    for (const event of history.events ?? []) {
      const upserted = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.SnapshotStatus?.data;
      if (upserted) statuses.push(JSON.parse(Buffer.from(upserted).toString('utf8')) as string);
      const signal = event.workflowExecutionSignaledEventAttributes;
      if (signal?.signalName === 'dumpProgress') {
        const payload = signal.input?.payloads?.[0]?.data;
        const phase = payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { requestPhase?: string }).requestPhase : undefined;
        if (phase !== undefined) requestPhases.push(phase);
      }
    }
    return { statuses: statuses.filter((s, i) => s !== statuses[i - 1]), requestPhases };
  }

  async function requestSecretsLeft(): Promise<string[]> {
    const secrets = await adminKube().makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace, labelSelector: REQUEST_LABEL });
    return secrets.items.map((s) => s.metadata?.name ?? '');
  }

  let stored: { policy: SnapshotPolicy; view: SnapshotStatusView };

  it('a scheduled snapshot to MinIO ends Completed, the vCluster phase visible, credentials gone after the run', async () => {
    const policy = policyFor(s3Storage(bucket));
    const handle = await scheduledRun(policy);
    const view = (await handle.result()) as SnapshotStatusView;
    assert.equal(view.status, 'Completed', view.error);
    assert.equal(view.engine, 'request');
    assert.equal(view.vclusterPhase, 'Completed');
    assert.ok(view.keysWritten >= CONFIGMAPS, `${view.keysWritten} keys`);
    const flow = await flowOf(handle);
    assert.deepEqual(flow.statuses, ['InProgress', 'Completed'], 'the seed status flow, as the search attribute went');
    assert.equal(flow.requestPhases.at(-1), 'Completed', `vCluster phases seen: ${flow.requestPhases.join(' -> ')}`);
    assert.deepEqual(await requestSecretsLeft(), [], 'the request Secret (it holds the storage credentials) is gone');

    const { minio } = env();
    const store = createStore(policy.storage, { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
    const record = (await store.getRecord(view.snapshotName!)) as SnapshotRecord;
    assert.deepEqual([record.status, record.engine, record.keys, record.bytes], ['Completed', 'request', view.keysWritten, view.bytesWritten]);
    const catalog = await listSnapshots(target, cluster);
    assert.ok(catalog.some((entry) => entry.snapshotName === view.snapshotName && entry.status === 'Completed'), JSON.stringify(catalog));
    stored = { policy, view };
  });

  it('the archive vCluster wrote passes verify and, restored into an empty etcd, holds every ConfigMap the virtual API server lists', async () => {
    const { policy, view } = stored;
    const verified = await verifySnapshot(target, view.snapshotName!, { policy });
    assert.equal(verified.ok, true, verified.problem?.message);
    assert.equal(verified.sha256, (await createStore(policy.storage, { accessKeyId: env().minio.accessKeyId, secretAccessKey: env().minio.secretAccessKey }).getRecord(view.snapshotName!))?.sha256);
    assert.equal(verified.request?.url, `s3://${bucket}/snapshots/${view.snapshotName}.tar.gz`, 'vCluster embedded its request (no credentials)');

    let etcd: EtcdServer | undefined;
    try {
      etcd = await startEtcd({ dir: join(env().runDir, 'vclusters'), name: uniqueName('restored') });
      await restoreSnapshot(target, view.snapshotName!, { policy, endpoints: [etcd.endpoint] });
      const client = new Etcd3({ hosts: etcd.endpoint });
      try {
        const keys = await client.getAll().prefix('/registry/configmaps/').keys();
        const restored = keys.map((key) => key.slice('/registry/configmaps/'.length)).sort();
        const listed = (await vcluster.kubeConfig().makeApiClient(k8s.CoreV1Api).listConfigMapForAllNamespaces()).items
          .map((cm) => `${cm.metadata?.namespace}/${cm.metadata?.name}`)
          .sort();
        assert.equal(listed.filter((n) => n.startsWith('apps/cm-')).length, CONFIGMAPS);
        assert.deepEqual(restored, listed);
      } finally {
        client.close();
      }
    } finally {
      await etcd?.stop();
    }
  });

  it('a directory target: vCluster writes the archive there, the run completes and verify passes', async () => {
    const path = join(env().runDir, 'vclusters', uniqueName('dir-target'));
    mkdirSync(path, { recursive: true });
    const policy = policyFor({ type: 'container', path });
    const view = (await (await scheduledRun(policy)).result()) as SnapshotStatusView;
    assert.equal(view.status, 'Completed', view.error);
    assert.equal(view.url, `container://${path}/${view.snapshotName}.tar.gz`);
    const verified = await verifySnapshot(target, view.snapshotName!, { policy });
    assert.equal(verified.ok, true, verified.problem?.message);
    // NotFound detection as for direct snapshots: the archive gone, the record stays.
    rmSync(join(path, `${view.snapshotName}.tar.gz`));
    const catalog = await listSnapshots(target, cluster);
    assert.equal(catalog.find((e) => e.snapshotName === view.snapshotName)?.status, 'NotFound', JSON.stringify(catalog));
  });

  it('a registry target: vCluster pushes its OCI artifact, the run completes, our catalog lists it and verify passes', async () => {
    const repository = `${namespace}/snapshots`;
    const policy = policyFor({ type: 'oci', registry: registry.host, repository, insecure: true });
    const view = (await (await scheduledRun(policy)).result()) as SnapshotStatusView;
    assert.equal(view.status, 'Completed', view.error);
    assert.equal(view.engine, 'request');
    const verified = await verifySnapshot(target, view.snapshotName!, { policy });
    assert.equal(verified.ok, true, verified.problem?.message);
    const manifest = (await (
      await fetch(`http://${registry.host}/v2/${repository}/manifests/${view.snapshotName}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    ).json()) as { artifactType?: string; layers: { mediaType: string }[] };
    assert.equal(manifest.artifactType, 'application/vnd.loft.vcluster', 'the artifact vCluster itself pushed');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.loft.vcluster.etcd.v1.tar+gzip']);
    assert.ok((await listSnapshots(target, cluster)).some((e) => e.snapshotName === view.snapshotName && e.status === 'Completed'));
  });

  it('a request vCluster fails (missing bucket) ends the run Failed with vCluster\'s own message, no Secret left', async () => {
    const policy = policyFor(s3Storage(uniqueName('no-such-bucket')));
    const handle = await scheduledRun(policy);
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /failed snapshot request .*NoSuchBucket|bucket does not exist/i);
      return true;
    });
    const view = await handle.query<SnapshotStatusView>('status');
    assert.deepEqual([view.status, view.engine, view.vclusterPhase], ['Failed', 'request', 'Failed']);
    assert.match(view.error ?? '', /failed snapshot request/);
    assert.deepEqual(await requestSecretsLeft(), []);
    const record = await createStore(policy.storage, { accessKeyId: env().minio.accessKeyId, secretAccessKey: env().minio.secretAccessKey }).getRecord(view.snapshotName!).catch(() => undefined);
    assert.equal(record, undefined, 'the record lives in the missing bucket too: nothing was written');
  });

  it('a request vCluster fails (wrong credentials) ends the run Failed with vCluster\'s message naming the S3 error', async () => {
    await adminKube()
      .makeApiClient(k8s.CoreV1Api)
      .createNamespacedSecret({ namespace, body: { metadata: { name: 'minio-wrong' }, stringData: { AWS_ACCESS_KEY_ID: env().minio.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret-key' } } });
    const policy = policyFor({ ...s3Storage(bucket), credential: { name: 'minio-wrong', namespace } } as StorageLocation);
    const handle = await scheduledRun(policy);
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /failed snapshot request .*(SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|403)/i);
      return true;
    });
    assert.deepEqual(await requestSecretsLeft(), []);
  });

  /** Runs `body` with the vCluster's processes stopped (SIGSTOP), so a request waits in phase ''. */
  async function withVclusterPaused<T>(body: (resume: () => void) => Promise<T>): Promise<T> {
    const paused = vcluster.processes().map((p) => p.pid);
    for (const pid of paused) process.kill(pid, 'SIGSTOP');
    let resumed = false;
    const resume = () => {
      if (resumed) return;
      resumed = true;
      for (const pid of paused) process.kill(pid, 'SIGCONT');
    };
    try {
      return await body(resume);
    } finally {
      resume();
    }
  }

  function requestsFor(snapshotName: string) {
    return adminKube().makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace, labelSelector: `${REQUEST_LABEL},vcsnap.io/snapshot=${snapshotName.toLowerCase()}` });
  }

  it('a cancelled run withdraws its request (ConfigMap and Secret deleted) and records why', async () => {
    const policy = policyFor(s3Storage(bucket));
    const nominalTime = new Date('2026-11-20T08:00:00Z');
    await withVclusterPaused(async () => {
      const handle = await target.client.workflow.start(WORKFLOW_TYPES.snapshot, {
        taskQueue: worker.taskQueue,
        workflowId: uniqueName('req-cancelled'),
        args: [{ policy, nominalTime: nominalTime.toISOString() }],
      });
      await eventually('the request to be filed', async () => (await requestsFor(snapshotNameFor(name, nominalTime))).items.length === 1);
      await handle.cancel();
      await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && /cancel/i.test(String(err.cause?.message ?? err.message)));
      assert.equal((await requestsFor(snapshotNameFor(name, nominalTime))).items.length, 0, 'the request ConfigMap is withdrawn');
      assert.deepEqual(await requestSecretsLeft(), []);
      const record = await createStore(policy.storage, { accessKeyId: env().minio.accessKeyId, secretAccessKey: env().minio.secretAccessKey }).getRecord(snapshotNameFor(name, nominalTime));
      assert.deepEqual([record?.status, record?.error, record?.engine], ['Failed', 'cancelled', 'request']);
    });
  });

  it('a worker killed (kill -9) while waiting on a request: the next attempt follows it, no second request; retention prunes the older request snapshot', async () => {
    // One successful snapshot kept: the run below (named an hour ahead, so it is the newest) prunes the first test's.
    const policy = { ...policyFor(s3Storage(bucket)), retention: { periodDays: 30, maxSnapshots: 1 } };
    const nominalTime = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    const snapshotName = snapshotNameFor(name, nominalTime);
    // Worker processes of their own on a queue of their own, so the first one can die without any cleanup.
    const taskQueue = uniqueName('req-killed');
    const first = await spawnWorkerProcess({ name: `${taskQueue}-first`, taskQueue });
    let second: WorkerProcess | undefined;
    try {
      await withVclusterPaused(async (resume) => {
        const handle = await target.client.workflow.start(WORKFLOW_TYPES.snapshot, { taskQueue, workflowId: taskQueue, args: [{ policy, nominalTime: nominalTime.toISOString() }] });
        await eventually('the request to be filed', async () => (await requestsFor(snapshotName)).items.length === 1);
        await first.kill();
        second = await spawnWorkerProcess({ name: `${taskQueue}-second`, taskQueue });
        resume();
        // The retry starts once the killed attempt's heartbeat times out (30 s).
        const view = (await handle.result()) as SnapshotStatusView;
        assert.equal(view.status, 'Completed', view.error);
        assert.equal((await requestsFor(snapshotName)).items.length, 1, 'one request for the snapshot, followed by both attempts');
        assert.deepEqual(view.retention, { deleted: [stored.view.snapshotName], failed: [] });
        const store = createStore(policy.storage, { accessKeyId: env().minio.accessKeyId, secretAccessKey: env().minio.secretAccessKey });
        assert.deepEqual((await store.listArchives()).map((a) => a.snapshotName), [snapshotName], 'the pruned archive is gone');
        assert.deepEqual((await store.listRecords()).map((r) => r.snapshotName).filter((n) => n !== snapshotNameFor(name, new Date('2026-11-20T08:00:00Z'))), [snapshotName], 'and its record');
        assert.deepEqual(await requestSecretsLeft(), []);
      });
    } finally {
      await first.kill();
      await second?.stop();
    }
  });
});
