// A snapshot worker in a process of its own, so a fault test can kill -9 it. It runs the product's activities and
// the harness's prebuilt workflow bundle. Configured by environment:
//   FAULT_TEMPORAL_ADDRESS, FAULT_TEMPORAL_NAMESPACE, FAULT_TASK_QUEUE, FAULT_WORKFLOW_BUNDLE, KUBECONFIG,
//   FAULT_LOG_LEVEL (default WARN; INFO lets a test read the activities' own log lines),
//   FAULT_MAX_ACTIVITIES (activity slots; a worker with none free does not poll, so a frozen one takes no task),
//   VCSNAP_MAX_CONCURRENT_DUMPS (the dump worker's slots, default 4), VCSNAP_PRODUCT_METRICS_PORT (serve the
//   product's metrics there; default none)
// It prints `worker ready` once polling, and shuts down cleanly on SIGTERM.
import * as k8s from '@kubernetes/client-node';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { quietLog } from '../../harness/runtime';
import { createActivities } from '../../../activities';
import { DEFAULT_MAX_CONCURRENT_DUMPS } from '../../../lib/runtime-config';
import { createDumpWorker, runWorkers } from '../../../worker/dump-worker';
import { createProductMetrics, serveMetrics } from '../../../worker/metrics';

export const READY_LINE = 'worker ready';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`worker-process: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger((process.env.FAULT_LOG_LEVEL as LogLevel | undefined) ?? 'WARN', quietLog) });
  const kube = new k8s.KubeConfig();
  kube.loadFromFile(required('KUBECONFIG'));
  const connection = await NativeConnection.connect({ address: required('FAULT_TEMPORAL_ADDRESS') });
  try {
    const namespace = process.env.FAULT_TEMPORAL_NAMESPACE ?? 'default';
    const taskQueue = required('FAULT_TASK_QUEUE');
    const metrics = process.env.VCSNAP_PRODUCT_METRICS_PORT ? createProductMetrics() : undefined;
    const metricsServer = metrics && (await serveMetrics(metrics.registry, Number(process.env.VCSNAP_PRODUCT_METRICS_PORT), '127.0.0.1'));
    const maxConcurrentDumps = Number(process.env.VCSNAP_MAX_CONCURRENT_DUMPS || DEFAULT_MAX_CONCURRENT_DUMPS);
    const activities = createActivities({ kube, metrics, maxConcurrentDumps });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      workflowBundle: { codePath: required('FAULT_WORKFLOW_BUNDLE') },
      activities,
      ...(process.env.FAULT_MAX_ACTIVITIES ? { maxConcurrentActivityTaskExecutions: Number(process.env.FAULT_MAX_ACTIVITIES) } : {}),
    });
    const dumps = await createDumpWorker({
      connection,
      namespace,
      taskQueue,
      activities,
      maxConcurrentDumps: process.env.FAULT_MAX_ACTIVITIES ? Math.min(maxConcurrentDumps, Number(process.env.FAULT_MAX_ACTIVITIES)) : maxConcurrentDumps,
    });
    const running = runWorkers([worker, dumps]);
    console.log(READY_LINE);
    await running.finally(() => metricsServer?.close());
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    // main's finally has closed the connection, so the process ends by itself, with this code.
    console.error(err);
    process.exitCode = 1;
  });
}
