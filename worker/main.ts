// Worker entry: connect, load the workflow bundle, wire the activities to the host cluster, run until SIGINT/SIGTERM.
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { loadRecordKey } from '../lib/kube/record-key';
import { ensureSearchAttributes } from '../lib/search-attributes';
import { applyRecoveryPointSchedule, removeRecoveryPointSchedule } from '../lib/recovery-point-schedule';
import { loadRuntimeConfig, type OptionalWorkerSettings, type RuntimeConfig, type WorkerSettings } from '../lib/runtime-config';
import { dumpTaskQueue } from '../contracts/definitions';
import { StoreCache } from '../lib/storage/cache';
import { createDumpWorker, runWorkers } from './dump-worker';
import { createWorkerHealth } from './health';
import { createProductMetrics, serveMetrics, type MetricsServer, type ProductMetrics } from './metrics';

/**
 * The product's two workers on `connection`, as `config` says: the main one (task queue, workflow bundle, every
 * activity) and the dump worker (dump task queue, at most maxConcurrentDumps); `recordKey` signs the metadata records
 * they write (loadRecordKey); `stores` holds their storage clients.
 */
export async function createProductWorkers(
  connection: NativeConnection,
  config: RuntimeConfig,
  metrics: ProductMetrics,
  recordKey: Buffer | undefined,
  stores: StoreCache,
): Promise<{ main: Worker; dumps: Worker }> {
  const namespace = config.temporal.namespace ?? 'default';
  // On SIGTERM the workers stop polling and let running activities (dumps) finish for this long before cancelling them.
  const shutdownGraceTime = config.shutdownGraceSeconds * 1000;
  const activities = createActivities({
    stores,
    kube: config.kube,
    metrics,
    recordKey,
    maxConcurrentDumps: config.maxConcurrentDumps,
    transferStallTimeoutSeconds: config.transferStallTimeoutSeconds,
    volumeReadyTimeoutSeconds: config.volumeReadyTimeoutSeconds,
    requestPickupTimeoutSeconds: config.requestPickupTimeoutSeconds,
    defaultEngine: config.defaultEngine,
    sharedNamespaces: config.sharedNamespaces,
    servedNamespaces: config.servedNamespaces,
    drillIntervalSeconds: config.drillIntervalSeconds,
    drillEtcdBinary: config.drillEtcdBinary,
    drillEtcdEndpoint: config.drillEtcdEndpoint,
    drillKubeApiserver: config.drillKubeApiserver,
    alertWebhookSecret: config.alertWebhookSecret,
    encryptionRecipients: config.encryptionRecipients,
    encryptionIdentitySecret: config.encryptionIdentitySecret,
  } satisfies Partial<ActivityDeps> & Required<Omit<WorkerSettings, OptionalWorkerSettings>>);
  const main = await Worker.create({
    connection,
    namespace,
    taskQueue: config.taskQueue,
    shutdownGraceTime,
    // A prebuilt bundle (`npm run build` writes dist/workflow-bundle.js; the image uses it) skips webpack at start.
    ...(config.workflowBundle ? { workflowBundle: { codePath: config.workflowBundle } } : { workflowsPath: require.resolve('../workflows') }),
    // Every activity, dumpAndStore included: runs recorded before the dump queue still schedule it here.
    activities,
  });
  const dumps = await createDumpWorker({ connection, namespace, taskQueue: config.taskQueue, activities, maxConcurrentDumps: config.maxConcurrentDumps, options: { shutdownGraceTime } });
  return { main, dumps };
}

/** The fleet's recovery point check (lib/recovery-point-schedule), as this worker's settings say; never stops the worker. */
export async function ensureRecoveryPointCheck(connection: NativeConnection, config: RuntimeConfig): Promise<string> {
  const target = { client: new Client({ connection, namespace: config.temporal.namespace ?? 'default' }), taskQueue: config.taskQueue };
  try {
    if (!config.recoveryPointCheckSeconds) return (await removeRecoveryPointSchedule(target)) ? 'removed (off)' : 'off';
    return `${await applyRecoveryPointSchedule(target, config.recoveryPointCheckSeconds)}, every ${config.recoveryPointCheckSeconds}s`;
  } catch (err) {
    return `not applied: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** What `vcsnap setup` does, at every start, so an upgrade that adds an attribute needs no step; never stops the worker. */
async function registerSearchAttributes(connection: NativeConnection, config: RuntimeConfig): Promise<string> {
  try {
    const registered = await ensureSearchAttributes(connection, config.temporal.namespace ?? 'default');
    return registered.length ? `registered ${registered.join(', ')}` : 'all registered';
  } catch (err) {
    return `not checked (${err instanceof Error ? err.message : String(err)}): run \`vcsnap setup\` with rights to register them`;
  }
}

export async function runWorker(): Promise<void> {
  const config = loadRuntimeConfig();
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(config.metricsPort ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${config.metricsPort}` } } } : {}),
    },
  });
  const metrics = createProductMetrics();
  const stores = new StoreCache({ requestIdleTimeoutMs: config.transferStallTimeoutSeconds * 1000 });
  let metricsServer: MetricsServer | undefined;
  const connection = await NativeConnection.connect(config.temporal.connectionOptions);
  const health = createWorkerHealth(connection);
  try {
    if (config.productMetricsPort) {
      metricsServer = await serveMetrics(metrics.registry, config.productMetricsPort, '0.0.0.0', health);
      console.log(`[worker] product metrics on :${metricsServer.port}/metrics, probes on /livez and /readyz`);
    }
    const recordKey = await loadRecordKey(config.kube, process.env.POD_NAMESPACE || 'vcsnap');
    if (!recordKey) console.warn('[worker] no record signing key (no host cluster, no VCSNAP_RECORD_KEY): retention will leave volume snapshots in place');
    const { main, dumps } = await createProductWorkers(connection, config, metrics, recordKey, stores);
    health.attach(main);
    console.log(`[worker] search attributes: ${await registerSearchAttributes(connection, config)}`);
    console.log(`[worker] recovery point check: ${await ensureRecoveryPointCheck(connection, config)}`);
    console.log(
      `[worker] polling task queue ${config.taskQueue} and its dump queue ${dumpTaskQueue(config.taskQueue)} (at most ${config.maxConcurrentDumps} dumps at once) on ${config.temporal.connectionOptions.address ?? 'localhost:7233'}`,
    );
    // The SDK's runtime shuts the worker down on SIGTERM; these lines say how the drain went.
    process.once('SIGTERM', () => console.log(`[worker] SIGTERM: draining, running activities get up to ${config.shutdownGraceSeconds}s to finish`));
    const started = Date.now();
    await runWorkers([main, dumps]);
    console.log(`[worker] drained: no activity left running, stopped after ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    stores.close();
    health.close();
    await metricsServer?.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
