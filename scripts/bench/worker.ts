// The product's worker on the bench's Temporal server (as worker/main.ts wires it, with the product's defaults), and
// a client beside it.
import { randomUUID } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { DEFAULT_MAX_CONCURRENT_DUMPS } from '../../lib/runtime-config';
import { createDumpWorker, runWorkers } from '../../worker/dump-worker';
import type { TemporalServer } from '../servers/temporal';

export interface BenchWorker {
  client: Client;
  taskQueue: string;
  stop(): Promise<void>;
}

export async function connectClient(temporal: TemporalServer): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: temporal.address });
  return { client: new Client({ connection, namespace: temporal.namespace }), close: () => connection.close() };
}

export async function startBenchWorker(temporal: TemporalServer, kube: k8s.KubeConfig): Promise<BenchWorker> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `bench-${randomUUID().slice(0, 8)}`;
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const activities = createActivities({ kube });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities,
  });
  const dumps = await createDumpWorker({ connection: nativeConnection, namespace: temporal.namespace, taskQueue, activities, maxConcurrentDumps: DEFAULT_MAX_CONCURRENT_DUMPS });
  const running = runWorkers([worker, dumps]);
  const { client, close } = await connectClient(temporal);
  return {
    client,
    taskQueue,
    async stop() {
      for (const w of [worker, dumps]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await nativeConnection.close();
      await close();
    },
  };
}
