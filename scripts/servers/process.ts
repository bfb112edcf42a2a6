// Starts one real server as a child process on loopback, waits for its readiness check, and stops it cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

/** Ports freePort handed out in this process: never the same one twice, even before its server has bound it. */
const handedOut = new Set<number>();
const LOWEST_PORT = 10_000;

/**
 * A loopback port nobody listens on, for a server started next. Taken below the kernel's ephemeral range: a port
 * from listen(0) is one the kernel also gives outgoing connections, and one did take it between the probe and the
 * server's own bind in a CI run (etcd: "bind: address already in use"). Random in that range and probed by binding.
 */
export async function freePort(): Promise<number> {
  const span = ephemeralRangeStart() - LOWEST_PORT;
  for (let tries = 0; span > 1000 && tries < 50; tries++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * span);
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  // A kernel whose ephemeral range leaves no room below it (or 50 ports in use in a row): any port it gives.
  const port = await listenedPort(0);
  handedOut.add(port);
  return port;
}

/** The lowest port the kernel gives outgoing connections (Linux's default when it cannot be read). */
function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) ? start : 32_768;
  } catch {
    return 32_768;
  }
}

/** The port a listener on `port` (0: any) got, after closing it; rejects when it cannot listen there. */
function listenedPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const canListen = (port: number): Promise<boolean> => listenedPort(port).then(
  () => true,
  () => false,
);

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
