// The worker's health, for Kubernetes probes and compose healthchecks, served beside the product metrics:
// `/livez` (the process and its event loop answer, the worker has not failed) and `/readyz` (the worker runs, both
// pollers poll, and the Temporal frontend answers its gRPC health check right now).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NativeConnection, Worker } from '@temporalio/worker';

export interface HealthReport {
  ok: boolean;
  /** One line per check, for people reading the probe's body. */
  checks: Record<string, string>;
}

export interface WorkerHealth {
  live(): HealthReport;
  ready(): Promise<HealthReport>;
  /** Call once the worker exists (readiness is false before). */
  attach(worker: Worker): void;
  close(): void;
}

/** How long the frontend's health check may take before the worker is reported not ready. */
const TEMPORAL_CHECK_TIMEOUT_MS = 2_000;
/** An event loop blocked this long at the 99th percentile over the last minute means the worker is wedged. */
const MAX_EVENT_LOOP_DELAY_MS = 10_000;

export function createWorkerHealth(connection: NativeConnection): WorkerHealth {
  let worker: Worker | undefined;
  const loop = monitorEventLoopDelay({ resolution: 50 });
  loop.enable();
  const reset = setInterval(() => loop.reset(), 60_000).unref();

  function live(): HealthReport {
    const delayMs = loop.percentile(99) / 1e6;
    const state = worker?.getState() ?? 'STARTING';
    const checks = { eventLoop: `p99 delay ${delayMs.toFixed(0)} ms`, worker: state };
    return { ok: delayMs < MAX_EVENT_LOOP_DELAY_MS && state !== 'FAILED', checks };
  }

  async function ready(): Promise<HealthReport> {
    if (!worker) return { ok: false, checks: { worker: 'not started yet' } };
    const status = worker.getStatus();
    const checks: Record<string, string> = {
      worker: status.runState,
      workflowPoller: status.workflowPollerState,
      activityPoller: status.activityPollerState,
    };
    let temporal = false;
    try {
      const answer = await connection.withDeadline(Date.now() + TEMPORAL_CHECK_TIMEOUT_MS, () => connection.healthService.check({}));
      temporal = answer.status === 1; // grpc.health.v1 SERVING
      checks.temporal = temporal ? 'serving' : `status ${String(answer.status)}`;
    } catch (err) {
      checks.temporal = `unreachable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
    const polling = status.workflowPollerState === 'POLLING' && status.activityPollerState === 'POLLING';
    return { ok: status.runState === 'RUNNING' && polling && temporal, checks };
  }

  return {
    live,
    ready,
    attach: (w) => (worker = w),
    close: () => {
      clearInterval(reset);
      loop.disable();
    },
  };
}
