// The second worker every process runs beside the main one: it serves the dump task queue (contracts'
// dumpTaskQueue) with only the dump activity and at most VCSNAP_MAX_CONCURRENT_DUMPS at once. Temporal then does the
// queueing: a dump waiting for a slot holds none and runs no start-to-close timeout, and whichever replica frees a
// slot first takes the oldest waiting dump. Both workers share one connection and one set of activities (clients,
// metrics).
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { dumpTaskQueue } from '../contracts/definitions';
import type { createActivities } from '../activities';

export interface DumpWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** The main task queue; the dump worker polls dumpTaskQueue(taskQueue). */
  taskQueue: string;
  activities: Pick<ReturnType<typeof createActivities>, 'dumpAndStore'>;
  maxConcurrentDumps: number;
  /** Extra worker options (shutdown grace time, heartbeat throttling in tests). */
  options?: Partial<WorkerOptions>;
}

export function createDumpWorker(dump: DumpWorkerOptions): Promise<Worker> {
  return Worker.create({
    ...dump.options,
    connection: dump.connection,
    namespace: dump.namespace,
    taskQueue: dumpTaskQueue(dump.taskQueue),
    activities: { dumpAndStore: dump.activities.dumpAndStore },
    maxConcurrentActivityTaskExecutions: dump.maxConcurrentDumps,
  });
}

/**
 * Runs `workers` until all have stopped: when one stops or fails (a shutdown signal stops all of them together), the
 * others are shut down too; rejects with the first failure.
 */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const stopOthers = () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  const results = await Promise.allSettled(workers.map((worker) => worker.run().finally(stopOthers)));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
