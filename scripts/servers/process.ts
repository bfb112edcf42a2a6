// Starts one real server as a child process on loopback, waits for its readiness check, and stops it cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CACHE_DIR = process.env.VCSNAP_CACHE ?? join(homedir(), '.cache', 'vcsnap');

/** Pinned tool versions, read from scripts/versions.env so the install script and the servers agree. */
export function versions(): Record<string, string> {
  const text = readFileSync(join(__dirname, '..', 'versions.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=', 2) as [string, string]),
  );
}

/** Path of a binary built by scripts/install-servers.sh. */
export function toolPath(tool: string, versionKey: string, binary = tool): string {
  return join(CACHE_DIR, `${tool}-${versions()[versionKey]}`, binary);
}

/** A loopback port nobody listens on, below the kernel's ephemeral range: the product's own choice (lib/drill). */
export { freeLoopbackPort as freePort } from '../../lib/drill/process';

export interface RunningProcess {
  name: string;
  logFile: string;
  child: ChildProcess;
  /** Milliseconds from spawn to ready. */
  startMillis: number;
  stop(): Promise<void>;
}

/** Servers started together and stopped together, the last started first. */
export function serverGroup(): { track<T extends RunningProcess>(server: Promise<T>): Promise<T>; stopAll(): Promise<void> } {
  const started: RunningProcess[] = [];
  return {
    async track(server) {
      const running = await server;
      started.push(running);
      return running;
    },
    async stopAll() {
      await Promise.allSettled(started.splice(0).reverse().map((running) => running.stop()));
    },
  };
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  /** Signal that stop() sends first (default SIGTERM; SIGKILL follows after 10 s). */
  stopSignal?: NodeJS.Signals;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startProcess(options: StartOptions): Promise<RunningProcess> {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  const child = spawn(options.command, options.args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.on('error', (err) => {
      exited = `could not start: ${err.message}`;
      resolve();
    });
  });
  // 'close' comes after 'exit' once the output pipes are drained (never, while a process it left behind holds them).
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const stop = async () => {
    if (exited === undefined) {
      child.kill(options.stopSignal ?? 'SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(killer);
    }
    // The last lines can still be in the pipes after 'exit'. Whatever comes later is dropped: written to the ended log,
    // it raised an unhandled ERR_STREAM_WRITE_AFTER_END that ended a test run.
    await Promise.race([closed, sleep(2000)]);
    for (const output of [child.stdout, child.stderr]) {
      output?.unpipe(log);
      output?.resume();
    }
    log.end();
  };
  const deadline = started + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`${options.name} ${exited} before it was ready; log: ${logFile}\n${tail(logFile)}`);
    }
    if (await options.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${options.name} not ready after ${options.timeoutMs ?? 120_000} ms; log: ${logFile}\n${tail(logFile)}`);
    }
    await sleep(200);
  }
  return { name: options.name, logFile, child, startMillis: Date.now() - started, stop };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

/** Readiness check: an HTTP GET that answers with one of the given statuses. */
export function httpReady(url: string, statuses: number[] = [200]): () => Promise<boolean> {
  return async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return statuses.includes(response.status);
  };
}
