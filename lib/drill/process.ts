// Scratch servers for restore drills: a child process on loopback with a temp directory, waited for until ready,
// stopped and removed afterwards. Hand-written (a few lines over node:child_process) because the worker image ships
// the binaries and nothing else; the test harness's scripts/servers are not part of the product.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure } from '../../contracts/errors';

export interface ScratchProcess {
  dir: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Ports handed out by this process: never the same one twice, even before its server has bound it. */
const handedOut = new Set<number>();
const LOWEST_PORT = 10_000;

/**
 * A loopback port nobody listens on, for a server started next. Taken below the kernel's ephemeral range: a port
 * from listen(0) is one the kernel also gives outgoing connections (a worker has many: uploads, etcd reads), and one
 * of them can take it between this probe and the server's own bind ("bind: address already in use", seen in CI).
 * Random in that range and probed by binding; listen(0) only when the range leaves no room below it.
 */
export async function freeLoopbackPort(): Promise<number> {
  const span = ephemeralRangeStart() - LOWEST_PORT;
  for (let tries = 0; span > 1000 && tries < 50; tries++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * span);
    if (handedOut.has(port) || !(await listenedPort(port).then(() => true, () => false))) continue;
    handedOut.add(port);
    return port;
  }
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

/** The port a listener on `port` (0: any) got, once closed again; rejects when it cannot listen there. */
function listenedPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

const SCRATCH_PREFIX = 'vcsnap-drill-';

/** A temp directory for one scratch server, marked with this worker's pid (see reapAbandonedScratch). */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${SCRATCH_PREFIX}${prefix}-`));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const readPid = async (path: string): Promise<number | undefined> => {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

/**
 * A worker killed mid-drill (kill -9, node lost) cannot stop its scratch servers: the next drill on the machine stops
 * those whose owner is gone and removes their directories. A recorded pid is killed only while its command line
 * still names the directory (a pid the system reused for something else is left alone). Returns the directories removed.
 */
export async function reapAbandonedScratch(base = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await readdir(base).catch((): string[] => [])).filter((n) => n.startsWith(SCRATCH_PREFIX))) {
    const dir = join(base, name);
    const owner = await readPid(join(dir, 'owner.pid'));
    if (owner === undefined || alive(owner)) continue;
    const child = await readPid(join(dir, 'child.pid'));
    const cmdline = child === undefined ? '' : await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '');
    if (child !== undefined && cmdline.includes(dir)) {
      process.kill(child, 'SIGKILL');
      for (let i = 0; i < 50 && alive(child); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * Spawns `command` with `args`, keeps the last few KiB of its output (for the failure message), and waits for `ready`.
 * `dir` is removed when the process stops, and when it never becomes ready.
 */
export async function startScratchProcess(opts: {
  name: string;
  command: string;
  args: string[];
  dir: string;
  ready: () => Promise<boolean>;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<ScratchProcess> {
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4096);
  };
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.dir });
  } catch (err) {
    await rm(opts.dir, { recursive: true, force: true });
    throw failure('DrillEnvironmentUnavailable', `cannot start the drill's ${opts.name} (${opts.command}): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (child.pid) await writeFile(join(opts.dir, 'child.pid'), String(child.pid)).catch(() => undefined);
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: { code: number | null; error?: Error } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      exited = { code: null, error };
      resolve();
    });
    child.once('exit', (code) => {
      exited ??= { code };
      resolve();
    });
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(killer);
      }
    }
    await rm(opts.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      const why = exited.error ? exited.error.message : `exited with code ${exited.code}`;
      const type = exited.error ? 'DrillEnvironmentUnavailable' : 'DrillServerFailed';
      throw failure(type, `the drill's ${opts.name} (${opts.command}) ${why}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    if (await opts.ready().catch(() => false)) return { dir: opts.dir, stop };
    if (Date.now() > deadline || opts.signal?.aborted) {
      await stop();
      throw failure('DrillServerFailed', `the drill's ${opts.name} was not ready after ${opts.timeoutMs / 1000}s: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
