// A real worker on the harness's Temporal dev server, with its own task queue, for one test suite.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import * as k8s from '@kubernetes/client-node';
import { createActivities, type ActivityDeps } from '../../activities';
import { testEnv } from './env';

let runtimeInstalled = false;

export interface TestWorker {
  client: Client;
  taskQueue: string;
  worker: Worker;
  stop(): Promise<void>;
}

export function adminKube(): k8s.KubeConfig {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(testEnv().kube.kubeconfigFile);
  return kubeConfig;
}

export async function startTestWorker(deps: Partial<ActivityDeps> = {}): Promise<TestWorker> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const env = testEnv();
  const taskQueue = `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address: env.temporal.address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: env.temporal.namespace,
    taskQueue,
    workflowBundle: { codePath: env.workflowBundlePath },
    activities: createActivities({ kube: adminKube(), ...deps }),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: env.temporal.address });
  const client = new Client({ connection, namespace: env.temporal.namespace });
  return {
    client,
    taskQueue,
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}
