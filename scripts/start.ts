// `npm start`. With no configuration: an embedded default — a local Temporal dev server with its Web UI, MinIO, a
// host kube-apiserver with a demo virtual cluster (a real vCluster v0.36.1 control plane with its default embedded
// SQLite store, snapshotted by the request engine, when run as root; else a kube-apiserver on its own etcd, by the
// direct engine), seeded with sample objects, the worker, and a demo policy that fires every minute. With Temporal
// configuration, scripts/start.sh runs only the worker instead. Ctrl-C stops everything it started and nothing else.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { applyPolicy, triggerNow } from '../lib/schedules';
import { policyFor } from '../lib/policy';
import { TASK_QUEUE, type StorageLocation } from '../contracts/definitions';
import { scheduleIdFor } from '../contracts/naming';
import { loadRuntimeConfig } from '../lib/runtime-config';
import { runWorkers } from '../worker/dump-worker';
import { createProductWorkers } from '../worker/main';
import { StoreCache } from '../lib/storage/cache';
import { createProductMetrics, serveMetrics } from '../worker/metrics';
import { startKube, adminKubeConfig } from './servers/kube';
import { startMinio } from './servers/minio';
import { startVcluster } from './servers/vcluster';
import { freePort, serverGroup, versions } from './servers/process';
import { startTemporal, temporalCliPath } from './servers/temporal';

const DEMO_CLUSTER = { name: 'demo', namespace: 'vcluster-demo' };
const DEMO_BUCKET = 'vcsnap-demo';
const VCLUSTER_CHART_VERSION = versions().VCLUSTER_VERSION.replace(/^v/, '');

/** 50 sample ConfigMaps in `namespace` of the cluster `kube` points at. */
async function seedDemoCluster(kube: k8s.KubeConfig, namespace: string): Promise<void> {
  const core = kube.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(() => undefined);
  for (let i = 0; i < 50; i++) {
    await core
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: `sample-${i}` }, data: { index: String(i), note: 'seeded by npm start' } } })
      .catch(() => undefined);
  }
}

/** A real vCluster needs private mount, network and PID namespaces (unshare), so root. */
function canRunVcluster(): boolean {
  return process.getuid?.() === 0 && !process.env.VCSNAP_DEMO_DIRECT;
}

async function runEmbedded(): Promise<void> {
  // VCSNAP_DEMO_DIR keeps a second demo (the npm start test) off the first one's SQLite file and logs.
  const dir = process.env.VCSNAP_DEMO_DIR ?? join(__dirname, '..', '.vcsnap', 'demo');
  mkdirSync(dir, { recursive: true });
  const { track, stopAll } = serverGroup();
  // Set once the worker exists; Ctrl-C before that stops the servers directly.
  const running: { workers?: Worker[] } = {};
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping: worker, then the servers npm start started');
    if (running.workers) running.workers.forEach((worker) => worker.getState() === 'RUNNING' && worker.shutdown());
    else void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  const temporal = await track(startTemporal({ dir, ui: true, dbFile: join(dir, 'temporal.sqlite') }));
  const minio = await track(startMinio({ dir, accessKeyId: 'vcsnap-demo', secretAccessKey: 'vcsnap-demo-secret' }));
  const kube = await track(startKube({ dir }));
  const kubeConfig = adminKubeConfig(kube.server, kube.adminToken);
  // The virtual cluster: vCluster's own control plane (request engine), or the host kube-apiserver's etcd stands in
  // for one (direct engine).
  const vcluster = canRunVcluster()
    ? await track(startVcluster({ dir, kube, name: DEMO_CLUSTER.name, namespace: DEMO_CLUSTER.namespace, hostPorts: [Number(new URL(minio.endpoint).port)] }))
    : undefined;
  await seedDemoCluster(vcluster ? vcluster.kubeConfig() : kubeConfig, vcluster ? 'default' : DEMO_CLUSTER.namespace);
  const s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
  await s3.send(new CreateBucketCommand({ Bucket: DEMO_BUCKET })).catch(() => undefined);
  s3.destroy();
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  await core
    .createNamespacedSecret({
      namespace: DEMO_CLUSTER.namespace,
      body: { metadata: { name: 'demo-s3' }, stringData: { AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey } },
    })
    .catch(() => undefined);

  const runtimeMetricsPort = await freePort();
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${runtimeMetricsPort}` } } } });
  const metrics = createProductMetrics();
  const metricsServer = await serveMetrics(metrics.registry, 0, '127.0.0.1');
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  // The worker settings (dump limits, ready timeout, bundle) come from the environment as for `npm run worker`;
  // Temporal, the host cluster and the task queue are the demo's own.
  const temporalConfig = { connectionOptions: { address: temporal.address }, namespace: temporal.namespace };
  // The demo's records are signed with a key of its own lifetime (a deployed worker keeps its key in a Secret).
  const config = { ...loadRuntimeConfig(), temporal: temporalConfig, kube: kubeConfig, taskQueue: TASK_QUEUE };
  const stores = new StoreCache({ requestIdleTimeoutMs: config.transferStallTimeoutSeconds * 1000 });
  const { main, dumps } = await createProductWorkers(nativeConnection, config, metrics, randomBytes(32), stores);
  running.workers = [main, dumps];
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const storage: StorageLocation = {
    type: 's3', bucket: DEMO_BUCKET, prefix: 'demo', endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true,
    insecureSkipTlsVerify: false, skipClientCredentials: false, credential: { name: 'demo-s3', namespace: DEMO_CLUSTER.namespace },
  };
  const policy = policyFor(DEMO_CLUSTER, { schedule: '* * * * *', storage, etcdEndpoints: vcluster ? [] : [kube.etcd.endpoint] }, {
    retention: { periodDays: 1, maxSnapshots: 10 },
    catchupWindowSeconds: 60,
    // What discovery derives from the vCluster's vc-config Secret: the embedded SQLite store, reachable only by the
    // vCluster itself, and the chart's version.
    ...(vcluster && {
      state: { endpoints: [], origin: 'none' as const, unavailableReason: 'embedded SQLite store' },
      release: { chartName: 'vcluster', chartVersion: VCLUSTER_CHART_VERSION },
    }),
  });
  const outcome = await applyPolicy({ client }, policy);
  await triggerNow({ client }, DEMO_CLUSTER);
  const scheduleId = scheduleIdFor(DEMO_CLUSTER);
  const cli = `TEMPORAL_ADDRESS=${temporal.address} npx vcsnap`;
  console.log(`
vcsnap demo is running (schedule ${outcome}).

  Web UI:        ${temporal.uiUrl}/namespaces/default/schedules/${scheduleId}
  Temporal:      ${temporal.address} (namespace default)
  Schedule ID:   ${scheduleId}  (fires every minute, overlap SKIP)
  Snapshots in:  s3://${DEMO_BUCKET}/demo/  on MinIO ${minio.endpoint} (user ${minio.accessKeyId})
  Demo cluster:  ${
    vcluster
      ? `vCluster ${VCLUSTER_CHART_VERSION} (embedded SQLite, request engine), API ${vcluster.server}, KUBECONFIG=${vcluster.kubeconfigFile}`
      : `kube-apiserver ${kube.server}, etcd ${kube.etcd.endpoint} (direct engine; run as root for a real vCluster)`
  }
  Metrics:       http://127.0.0.1:${metricsServer.port}/metrics (product), http://127.0.0.1:${runtimeMetricsPort}/metrics (Temporal runtime)

  ${cli} list
  ${cli} describe ${DEMO_CLUSTER.namespace}/${DEMO_CLUSTER.name}
  ${cli} trigger ${DEMO_CLUSTER.namespace}/${DEMO_CLUSTER.name}
  ${cli} pause ${DEMO_CLUSTER.namespace}/${DEMO_CLUSTER.name} --note "looking around"
  ${temporalCliPath()} --address ${temporal.address} workflow list -q "VclusterName='demo'"

Ctrl-C stops the worker and every server started here.`);
  try {
    await runWorkers([main, dumps]);
  } finally {
    await connection.close();
    await nativeConnection.close();
    await metricsServer.close();
    await stopAll();
  }
}

runEmbedded().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
