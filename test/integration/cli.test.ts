// The vcsnap CLI as an operator runs it: a subprocess with TEMPORAL_ADDRESS, against the real dev server and worker.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const VCSNAP = join(__dirname, '..', '..', 'bin', 'vcsnap.js');
const run = promisify(execFile);

describe('vcsnap CLI', function () {
  this.timeout(180_000);
  let worker: TestWorker;
  let dir: string;
  const name = uniqueName('cli');
  const namespace = 'team-cli';

  async function vcsnap(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, TEMPORAL_ADDRESS: testEnv().temporal.address, TEMPORAL_NAMESPACE: testEnv().temporal.namespace, VCSNAP_TASK_QUEUE: worker.taskQueue, KUBECONFIG: testEnv().kube.kubeconfigFile };
    try {
      const { stdout, stderr } = await run(process.execPath, [VCSNAP, ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  before(async () => {
    worker = await startTestWorker();
    dir = join(testEnv().runDir, name);
    mkdirSync(join(dir, 'store'), { recursive: true });
    writeFileSync(
      join(dir, 'vcluster.yaml'),
      ['snapshots:', '  auto:', '    schedule: "0 3 * * *"', '    timezone: Europe/Berlin', '    storage:', '      type: container', `      container:`, `        path: ${join(dir, 'store')}`, '    etcd:', `      endpoints: [${testEnv().etcd.endpoint}]`, ''].join('\n'),
    );
    writeFileSync(join(dir, 'bad.yaml'), ['snapshots:', '  auto:', '    schedule: "61 * * * *"', '    timezone: Mars/Olympus', '    retention:', '      period: -1', ''].join('\n'));
  });
  after(async () => worker.stop());

  it('validate prints every offending field and exits 2, and a valid file exits 0', async () => {
    const bad = await vcsnap('validate', '-f', join(dir, 'bad.yaml'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /snapshots\.auto\.schedule: .*/);
    assert.match(bad.stderr, /snapshots\.auto\.timezone: .*Mars\/Olympus/);
    assert.match(bad.stderr, /snapshots\.auto\.retention\.period: /);
    const good = await vcsnap('validate', '-f', join(dir, 'vcluster.yaml'), '-o', 'json');
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse(good.stdout).policy.timezone, 'Europe/Berlin');
  });

  it('apply is idempotent; list, describe, pause, resume, trigger, snapshots and delete work', async () => {
    const cluster = `${namespace}/${name}`;
    assert.match((await vcsnap('apply', '-f', join(dir, 'vcluster.yaml'), '--name', name, '-n', namespace)).stdout, /created/);
    assert.match((await vcsnap('apply', '-f', join(dir, 'vcluster.yaml'), '--name', name, '-n', namespace)).stdout, /unchanged/);
    const refused = await vcsnap('apply', '-f', join(dir, 'bad.yaml'), '--name', name, '-n', namespace);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /nothing changed/);

    assert.match((await vcsnap('setup')).stdout, /already registered/);
    assert.match((await vcsnap('list')).stdout, new RegExp(`vcsnap\\.${namespace}\\.${name}\\s+Europe/Berlin\\s+false`));
    const described = JSON.parse((await vcsnap('describe', cluster, '--json')).stdout);
    assert.equal(described.scheduleId, `vcsnap.${namespace}.${name}`);
    assert.equal(described.policy.schedule, '0 3 * * *');

    assert.equal((await vcsnap('pause', cluster, '--note', 'upgrade in progress')).code, 0);
    const paused = JSON.parse((await vcsnap('describe', cluster, '--json')).stdout);
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'upgrade in progress');
    assert.equal((await vcsnap('resume', cluster)).code, 0);

    assert.equal((await vcsnap('trigger', cluster)).code, 0);
    let entries: Array<{ status: string; snapshotName: string }> = [];
    const deadline = Date.now() + 60_000;
    while (!entries.some((e) => e.status === 'Completed') && Date.now() < deadline) {
      const listed = await vcsnap('snapshots', cluster, '--json');
      entries = JSON.parse(listed.stdout)[0].entries;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(entries.some((e) => e.status === 'Completed'), JSON.stringify(entries));
    assert.ok(entries.some((e) => e.status === 'Scheduled'), 'next fire listed as Scheduled');
    const table = await vcsnap('snapshots', cluster);
    assert.match(table.stdout, /SNAPSHOT\s+STATUS/);
    assert.match(table.stdout, /Completed/);

    const completed = entries.find((e) => e.status === 'Completed')!;
    const verified = await vcsnap('verify', completed.snapshotName, '-n', namespace);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /: ok, \d+ keys/);
    const badRef = await vcsnap('verify', 'oci://127.0.0.1:1/repo:tag:extra');
    assert.equal(badRef.code, 2, badRef.stderr);

    assert.match((await vcsnap('delete', cluster)).stdout, /deleted/);
    assert.match((await vcsnap('delete', cluster)).stdout, /no such schedule/);
  });

  it('usage errors exit 2 with a message naming the problem', async () => {
    const missing = await vcsnap('describe', name);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /give its host namespace/);
    const unknown = await vcsnap('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });
});
