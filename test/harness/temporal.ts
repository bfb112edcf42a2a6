// A real worker on the harness's Temporal dev server, with its own task queue, for one test suite.
import { randomUUID } from 'node:crypto';
import { Client, Connection, isGrpcServiceError, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import { status } from '@grpc/grpc-js';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as k8s from '@kubernetes/client-node';
import { createActivities } from '../../activities';
import { type ActivityDeps } from '../../activities/deps';
import { DEFAULT_MAX_CONCURRENT_DUMPS } from '../../lib/runtime-config';
import { createDumpWorker, runWorkers } from '../../worker/dump-worker';
import { ensureTestRuntime } from './runtime';
import { testEnv } from './env';


export interface TestWorker {
  client: Client;
  taskQueue: string;
  worker: Worker;
  /** Serves the dump task queue (worker/dump-worker.ts) with the same activities. */
  dumpWorker: Worker;
  stop(): Promise<void>;
}

export function adminKube(): k8s.KubeConfig {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(testEnv().kube.kubeconfigFile);
  return kubeConfig;
}

/**
 * A schedule's description inside a polling loop: undefined ("ask again") when the server answers that it cannot yet
 * (a describe asks the schedule's own workflow, and a loaded dev server has answered FAILED_PRECONDITION "no poller
 * seen for task queue recently"); not found and every other error fail the test at once.
 */
export async function describeWhilePolling(schedule: ScheduleHandle): Promise<ScheduleDescription | undefined> {
  try {
    return await schedule.describe();
  } catch (err) {
    const cause = err instanceof Error ? err.cause : undefined;
    if (isGrpcServiceError(cause) && [status.FAILED_PRECONDITION, status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(cause.code)) return undefined;
    throw err;
  }
}

/** One Temporal runtime per test process, logging warnings only. */
export { ensureTestRuntime };

/** The record signing key of every test worker of this run (workers in one run verify each other's records). */
export const TEST_RECORD_KEY = Buffer.from('vcsnap-test-record-signing-key-0001');

/** `server` defaults to the harness's dev server; a test that starts its own (e.g. with the Web UI) passes it. */
/** `taskQueue`: poll an existing queue (a replacement worker taking over); default a fresh one. */
export async function startTestWorker(deps: Partial<ActivityDeps> = {}, server?: { address: string; namespace: string }, taskQueue = `test-${randomUUID()}`): Promise<TestWorker> {
  ensureTestRuntime();
  const env = testEnv();
  const { address, namespace } = server ?? env.temporal;
  const nativeConnection = await NativeConnection.connect({ address });
  const activities = createActivities({ kube: adminKube(), recordKey: TEST_RECORD_KEY, ...deps });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: { codePath: env.workflowBundlePath },
    activities,
  });
  const dumpWorker = await createDumpWorker({ connection: nativeConnection, namespace, taskQueue, activities, maxConcurrentDumps: deps.maxConcurrentDumps ?? DEFAULT_MAX_CONCURRENT_DUMPS });
  const running = runWorkers([worker, dumpWorker]);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    client,
    taskQueue,
    worker,
    dumpWorker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}
