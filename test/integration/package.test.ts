// The published client API, used the way platform code uses it: a separate project with `vcsnap` in its
// node_modules type-checks `import { applyPolicy, describe, parsePolicy } from 'vcsnap'` against the built types
// (package.json `exports`/`types`) and runs the compiled JavaScript against the real Temporal server.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';

const ROOT = join(__dirname, '..', '..');

const CONSUMER = `
import { Client, Connection } from '@temporalio/client';
import { applyPolicy, describe, parsePolicy, scheduleIdFor, type SnapshotPolicy } from 'vcsnap';

async function main(): Promise<void> {
  const [address, namespace, name] = process.argv.slice(2);
  const parsed = parsePolicy('snapshots:\\n  auto:\\n    schedule: "@daily"\\n    storage:\\n      type: container\\n      container:\\n        path: /data/snapshots\\n', { name, namespace: 'platform' });
  if (!parsed.ok || !parsed.policy) throw new Error(JSON.stringify(parsed));
  const policy: SnapshotPolicy = parsed.policy;
  const connection = await Connection.connect({ address });
  try {
    const target = { client: new Client({ connection, namespace }), taskQueue: 'package-test' };
    const outcome = await applyPolicy(target, policy);
    const described = await describe(target, policy.cluster);
    console.log(JSON.stringify({ outcome, scheduleId: scheduleIdFor(policy.cluster), schedule: described.policy?.schedule }));
  } finally {
    await connection.close();
  }
}
main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
`;

describe('the vcsnap package as platform code imports it', function () {
  this.timeout(180_000);

  it('type-checks against the built types and applies a policy through the compiled client API', () => {
    const env = testEnv();
    const project = mkdtempSync(join(env.runDir, 'consumer-'));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(ROOT, join(project, 'node_modules', 'vcsnap'), 'dir');
    // The consumer's own @temporalio/client: the one vcsnap depends on (a real install would dedupe to it).
    symlinkSync(join(ROOT, 'node_modules', '@temporalio'), join(project, 'node_modules', '@temporalio'), 'dir');
    writeFileSync(join(project, 'consumer.ts'), CONSUMER);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, rootDir: '.', outDir: 'out', types: [], skipLibCheck: true }, files: ['consumer.ts'] }),
    );
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
    const name = uniqueName('pkg');
    const run = spawnSync(process.execPath, [join(project, 'out', 'consumer.js'), env.temporal.address, env.temporal.namespace, name], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim()) as { outcome: string; scheduleId: string; schedule: string };
    assert.deepEqual(result, { outcome: 'created', scheduleId: `vcsnap.platform.${name}`, schedule: '@daily' });
  });
});
