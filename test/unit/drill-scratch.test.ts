// Scratch servers a killed worker left behind: the next drill stops them and removes their directories, and never
// kills a process that is not theirs (a recorded pid the system reused).
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, reapAbandonedScratch } from '../../lib/drill/process';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('drill: scratch servers of a worker that died mid-drill', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'reap-test-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  function scratch(name: string, owner: number, child?: number): string {
    const dir = join(base, `vcsnap-drill-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'owner.pid'), String(owner));
    if (child !== undefined) writeFileSync(join(dir, 'child.pid'), String(child));
    return dir;
  }

  it('kills the orphan that names its directory, removes the directory, and leaves live owners and reused pids alone', async () => {
    const deadOwner = spawnSync('true').pid;
    const orphanDir = join(base, 'vcsnap-drill-etcd-orphan');
    const orphan = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', `--data-dir=${orphanDir}/data`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => orphan.once('exit', resolve));
    scratch('etcd-orphan', deadOwner, orphan.pid);
    // Dead owner, but the recorded pid is now this test process (a reused pid): removed, never killed.
    const reused = scratch('etcd-reused', deadOwner, process.pid);
    const running = scratch('etcd-running', process.pid, orphan.pid);
    try {
      const removed = await reapAbandonedScratch(base);
      assert.deepEqual(removed.sort(), [orphanDir, reused].sort());
      await exited;
      assert.equal(isAlive(orphan.pid!), false, 'the orphaned server is stopped');
      assert.equal(existsSync(running), true, 'a drill still running on a live worker keeps its directory');
    } finally {
      orphan.kill('SIGKILL');
    }
  });
});

describe('drill: ports for scratch servers', () => {
  it('come from below the ephemeral range (where outgoing connections never take them), distinct, each free to listen on', async () => {
    const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = [];
    for (let i = 0; i < 40; i++) ports.push(await freeLoopbackPort());
    assert.equal(new Set(ports).size, ports.length, 'never the same port twice');
    assert.deepEqual(ports.filter((port) => port < 10_000 || port >= ephemeralStart), [], `all in 10000..${ephemeralStart - 1}`);
    for (const port of ports.slice(0, 5)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
