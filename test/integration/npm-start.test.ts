// A newcomer's first run: `npm start` with no configuration, exactly as the README says, in its own process group as
// a terminal runs it. Within two minutes a Completed snapshot of the demo cluster is listed by `vcsnap snapshots`
// and shown by the Web UI's HTTP API; Ctrl-C (SIGINT to the whole group) then leaves no process behind.
import { strict as assert } from 'node:assert';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from '../harness/env';

const ROOT = join(__dirname, '..', '..');
const DEMO = 'vcluster-demo/demo';

/** Every live process whose parent chain leads to `root`, from /proc. */
function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name in parentheses may hold spaces: the parent PID is the second field after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone while reading
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0): read its state instead.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, deadline: number, check: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    const value = await check().catch((err: unknown) => void (last = err));
    if (value !== undefined) return value;
    await sleep(1000);
  }
  throw new Error(`${what}: not within the deadline${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('npm start (first run, no configuration)', function () {
  this.timeout(240_000);
  let demo: ChildProcess | undefined;
  let output = '';

  after(() => {
    // Only when the test failed before npm start exited: nothing of it may outlive the test run.
    if (demo?.pid && demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid, 'SIGKILL');
  });

  it('reaches a Completed snapshot in the CLI and the Web UI within two minutes, and Ctrl-C leaves no process', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VCSNAP_DEMO_DIR: join(testEnv().runDir, 'npm-start') };
    // No configuration: no Temporal address, profile or temporal.toml, so npm start brings up its embedded default.
    delete env.TEMPORAL_ADDRESS;
    delete env.TEMPORAL_PROFILE;
    delete env.TEMPORAL_NAMESPACE;
    env.TEMPORAL_CONFIG_FILE = join(testEnv().runDir, 'npm-start', 'no-temporal.toml');
    const started = Date.now();
    const deadline = started + 120_000;
    demo = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = demo.pid!;
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | NodeJS.Signals | null>((resolve) => demo!.on('exit', (code, signal) => resolve(signal ?? code)));

    const printed = await until('npm start to print where to look', deadline, async () => {
      if (demo!.exitCode !== null) throw new Error(`npm start exited with ${demo!.exitCode}:\n${output}`);
      const temporal = /Temporal:\s+(127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const webUi = /Web UI:\s+(http:\/\/127\.0\.0\.1:\d+)\S*/.exec(output);
      return temporal && webUi ? { temporal, webUi: webUi[1], scheduleUrl: webUi[0].split(/\s+/).pop()! } : undefined;
    });
    assert.match(output, /Schedule ID:\s+vcsnap\.vcluster-demo\.demo/);
    assert.match(output, /Snapshots in:\s+s3:\/\/vcsnap-demo\/demo\//);
    for (const command of ['list', 'trigger', 'pause']) assert.match(output, new RegExp(`npx vcsnap ${command}`));
    // As root (CI, this suite) the demo is a real vCluster with its default store, snapshotted by the request engine.
    if (process.getuid?.() === 0) assert.match(output, /Demo cluster:\s+vCluster \d+\.\d+\.\d+ \(embedded SQLite, request engine\)/);

    const cliEnv = { ...env, TEMPORAL_ADDRESS: printed.temporal };
    const completed = await until('a Completed snapshot in `vcsnap snapshots`', deadline, async () => {
      const { stdout } = await promisify(execFile)(join(ROOT, 'bin', 'vcsnap.js'), ['snapshots', DEMO, '-o', 'json'], { cwd: ROOT, env: cliEnv });
      const catalogs = JSON.parse(stdout) as Array<{ entries: Array<{ snapshotName: string; status: string; keys?: number }> }>;
      return catalogs.flatMap((catalog) => catalog.entries).find((entry) => entry.status === 'Completed');
    });
    assert.match(completed.snapshotName, /^demo-/);
    assert.ok((completed.keys ?? 0) > 50, `the demo cluster's keys (50 seeded ConfigMaps and more): ${completed.keys}`);

    // The Web UI serves the same view its pages render: the schedule, and the completed run with its status.
    const schedulePage = await fetch(printed.scheduleUrl);
    assert.equal(schedulePage.status, 200);
    const schedule = (await (await fetch(`${printed.webUi}/api/v1/namespaces/default/schedules/vcsnap.vcluster-demo.demo`)).json()) as { schedule?: { spec?: unknown } };
    assert.ok(schedule.schedule?.spec, `the schedule in the Web UI's API: ${JSON.stringify(schedule)}`);
    const query = encodeURIComponent(`VclusterName='demo' AND SnapshotStatus='Completed'`);
    const runs = await until('the completed run in the Web UI', deadline, async () => {
      const body = (await (await fetch(`${printed.webUi}/api/v1/namespaces/default/workflows?query=${query}`)).json()) as { executions?: unknown[] };
      return body.executions?.length ? body.executions : undefined;
    });
    assert.ok(runs.length >= 1);
    console.log(`      Completed snapshot ${completed.snapshotName} listed ${((Date.now() - started) / 1000).toFixed(0)} s after npm start`);

    const processes = descendantsOf(pid);
    assert.ok(processes.length >= 5, `npm start's processes (npm, node, temporal, minio, etcd, kube-apiserver): ${processes.length}`);
    process.kill(-pid, 'SIGINT'); // what Ctrl-C in a terminal does: SIGINT to the foreground process group
    const exit = await Promise.race([exited, sleep(60_000).then(() => 'still running after 60 s')]);
    assert.notEqual(exit, 'still running after 60 s', output.slice(-2000));
    // The servers stop in their own time after npm exits; none may be left running.
    const stopBy = Date.now() + 15_000;
    while (processes.some(alive) && Date.now() < stopBy) await sleep(200);
    assert.deepEqual([pid, ...processes].filter(alive), [], `left running after Ctrl-C (npm start exited with ${String(exit)})`);
    console.log(`      Ctrl-C: npm start exited with ${String(exit)}; all ${processes.length} processes it started are gone`);
  });
});

describe('npm start with configuration (TEMPORAL_ADDRESS set)', function () {
  this.timeout(120_000);

  it('runs only the worker: no npm install, no server builds, no apt-get', async () => {
    const env = testEnv();
    // Recorders on PATH, ahead of the real tools: any install step would call one of them.
    const bin = join(env.runDir, 'npm-start-configured-bin');
    const calls = join(bin, 'calls.log');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['go', 'apt-get', 'sudo']) {
      writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\nexit 1\n`, { mode: 0o755 });
    }
    // npm itself must be there to run `npm start`; the recorder for `npm install` wraps it.
    const npmPath = (await promisify(execFile)('sh', ['-c', 'command -v npm'])).stdout.trim();
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\n[ "$1" = "start" ] || echo "npm $*" >> "${calls}"\nexec "${npmPath}" "$@"\n`, { mode: 0o755 });
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        TEMPORAL_ADDRESS: env.temporal.address,
        TEMPORAL_NAMESPACE: env.temporal.namespace,
        VCSNAP_TASK_QUEUE: `npm-start-configured-${process.pid}`,
        VCSNAP_PRODUCT_METRICS_PORT: 'off',
        VCSNAP_RECORD_KEY: Buffer.alloc(32, 9).toString('base64'),
        KUBECONFIG: env.kube.kubeconfigFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until('the worker polling', Date.now() + 90_000, async () => (output.includes('[worker] polling task queue') ? true : undefined));
    } finally {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
    assert.doesNotMatch(output, /\[setup\]|\[install\]/, output);
    assert.ok(!existsSync(calls), `an install step ran: ${existsSync(calls) ? readFileSync(calls, 'utf8') : ''}`);
  });
});
