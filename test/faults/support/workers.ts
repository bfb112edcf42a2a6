// Spawns support/worker-process.ts as a child process (its output goes to a log file under the run dir, which the
// secret scan reads too), waits until it polls, and stops it gently (SIGTERM) or not at all (SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../../harness/env';
import { READY_LINE } from './worker-process';

export interface WorkerProcess {
  pid: number;
  logFile: string;
  /** kill -9: no shutdown, no activity completion, no cleanup. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the graceful shutdown. */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: the whole process freezes (no heartbeat, no byte sent) and later carries on where it was. */
  pause(): void;
  resume(): void;
}

export async function spawnWorkerProcess(opts: { name: string; taskQueue: string; temporalAddress?: string; kubeconfigFile?: string; logLevel?: 'INFO' | 'WARN'; maxActivities?: number; env?: Record<string, string> }): Promise<WorkerProcess> {
  const env = testEnv();
  const logDir = join(env.runDir, 'faults');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${opts.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), join(__dirname, 'worker-process.ts')], {
    env: {
      ...process.env,
      FAULT_TEMPORAL_ADDRESS: opts.temporalAddress ?? env.temporal.address,
      FAULT_TEMPORAL_NAMESPACE: env.temporal.namespace,
      FAULT_TASK_QUEUE: opts.taskQueue,
      FAULT_WORKFLOW_BUNDLE: env.workflowBundlePath,
      KUBECONFIG: opts.kubeconfigFile ?? env.kube.kubeconfigFile,
      FAULT_LOG_LEVEL: opts.logLevel ?? 'WARN',
      FAULT_MAX_ACTIVITIES: opts.maxActivities ? String(opts.maxActivities) : '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.end());
  await waitForReady(child, opts.name, logFile);
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { pid: child.pid!, logFile, kill: () => stopWith('SIGKILL'), stop: () => stopWith('SIGTERM'), pause: () => child.kill('SIGSTOP'), resume: () => child.kill('SIGCONT') };
}

function waitForReady(child: ChildProcess, name: string, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`worker ${name} not ready after 60s (log: ${logFile})`)), 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`worker ${name} exited (${signal ?? code}) before it was ready (log: ${logFile})`)));
  });
}
