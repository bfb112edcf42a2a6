// A snapshot worker in a process of its own, so a fault test can kill -9 it. It runs the product's activities and
// the harness's prebuilt workflow bundle. Configured by environment:
//   FAULT_TEMPORAL_ADDRESS, FAULT_TEMPORAL_NAMESPACE, FAULT_TASK_QUEUE, FAULT_WORKFLOW_BUNDLE, KUBECONFIG,
//   FAULT_LOG_LEVEL (default WARN; INFO lets a test read the activities' own log lines),
//   FAULT_MAX_ACTIVITIES (activity slots; a worker with none free does not poll, so a frozen one takes no task)
// It prints `worker ready` once polling, and shuts down cleanly on SIGTERM.
import * as k8s from '@kubernetes/client-node';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { quietLog } from '../../harness/runtime';
import { createActivities } from '../../../activities';

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
    const worker = await Worker.create({
      connection,
      namespace: process.env.FAULT_TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: required('FAULT_TASK_QUEUE'),
      workflowBundle: { codePath: required('FAULT_WORKFLOW_BUNDLE') },
      activities: createActivities({ kube }),
      ...(process.env.FAULT_MAX_ACTIVITIES ? { maxConcurrentActivityTaskExecutions: Number(process.env.FAULT_MAX_ACTIVITIES) } : {}),
    });
    const running = worker.run();
    console.log(READY_LINE);
    await running;
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
