// Fault 7: 200 generated vcluster.yaml inputs (seeded mutations of the valid fixtures: wrong types, missing fields,
// bad cron, bad zones, bad URLs, huge values, unicode, broken YAML). Each must give a valid policy or clear errors
// (a field path and a reason), never a crash; each is applied through the CLI (`vcsnap apply -f`), and afterwards
// exactly the schedules of the valid inputs exist.
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { main as cli } from '../../client/cli/main';
import { formatIssue, parsePolicy, type PolicyParseResult } from '../../lib/policy';
import { listPolicies, removePolicy } from '../../lib/schedules';
import { scheduleIdFor } from '../../contracts/naming';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { eventually } from './support/history';
import { assertValidPolicy } from './support/policy-invariants';
import { generateInputs, type GeneratedInput } from './support/yaml-mutations';

const SEED = 0x5eed11;
const COUNT = 200;

/** Runs the CLI in-process with its console output captured. */
async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => out.push(args.join(' '));
  console.error = (...args: unknown[]) => err.push(args.join(' '));
  try {
    return { code: await cli(argv), stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe('fault: 200 generated vcluster.yaml inputs through the CLI', function () {
  this.timeout(180_000);
  const namespace = uniqueName('fuzz');
  const taskQueue = uniqueName('fuzz-no-worker');
  const saved: Record<string, string | undefined> = {};
  let connection: Connection;
  let client: Client;

  before(async () => {
    for (const [key, value] of Object.entries({ TEMPORAL_ADDRESS: testEnv().temporal.address, TEMPORAL_NAMESPACE: testEnv().temporal.namespace, VCSNAP_TASK_QUEUE: taskQueue })) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await connection?.close();
  });

  it('gives a valid policy or path-and-reason errors for each, without a crash; only valid inputs make schedules', async () => {
    const dir = join(testEnv().runDir, 'faults', 'fuzz');
    mkdirSync(dir, { recursive: true });
    const inputs = generateInputs(SEED, COUNT);
    const expected = new Set<string>();
    const tally = { policy: 0, off: 0, invalid: 0 };
    try {
      for (const input of inputs) {
        const cluster = { name: `fz-${input.index}`, namespace };
        const where = `input ${input.index} (${input.fixture}: ${input.mutations.join(', ')})`;
        const started = Date.now();
        const parsed = parsePolicy(input.text, cluster);
        assert.ok(Date.now() - started < 2_000, `${where}: parsing took ${Date.now() - started} ms`);
        checkResult(parsed, cluster, where);

        const file = join(dir, `input-${input.index}.yaml`);
        writeFileSync(file, input.text);
        const run = await runCli(['apply', '-f', file, '--name', cluster.name, '-n', namespace]);
        if (!parsed.ok) {
          tally.invalid++;
          assert.notEqual(run.code, 0, `${where}: the CLI accepted invalid input`);
          assert.ok(run.stderr.includes('invalid, nothing changed'), `${where}: ${run.stderr}`);
          for (const issue of parsed.errors) assert.ok(run.stderr.includes(formatIssue(issue)), `${where}: the CLI did not print "${formatIssue(issue)}"`);
        } else {
          assert.equal(run.code, 0, `${where}: ${run.stderr}`);
          if (parsed.policy) expected.add(scheduleIdFor(cluster));
          tally[parsed.policy ? 'policy' : 'off']++;
        }
      }
      assert.ok(tally.invalid >= COUNT / 2 && tally.policy >= 5, `a useful mix: ${JSON.stringify(tally)}`);

      // Exactly the valid inputs' schedules exist: each one by id (strongly consistent), and the listing agrees.
      for (const input of inputs) {
        const id = scheduleIdFor({ name: `fz-${input.index}`, namespace });
        const exists = await client.schedule.getHandle(id).describe().then(
          () => true,
          (err: unknown) => (err instanceof ScheduleNotFoundError ? false : Promise.reject(err)),
        );
        assert.equal(exists, expected.has(id), `schedule ${id} (${input.mutations.join(', ')})`);
      }
      await eventually('the schedule listing to show exactly the valid inputs', async () => {
        const listed = (await listPolicies({ client })).map((p) => p.scheduleId).filter((id) => id.startsWith(`vcsnap.${namespace}.`));
        return listed.length === expected.size && listed.every((id) => expected.has(id));
      }, 30_000, 500);
      console.log(`      ${COUNT} inputs (seed ${SEED.toString(16)}): ${tally.policy} valid policies (schedules created), ${tally.off} valid but off, ${tally.invalid} rejected with errors`);
    } finally {
      await cleanUp(client, inputs, namespace);
    }
  });
});

function checkResult(parsed: PolicyParseResult, cluster: { name: string; namespace: string }, where: string): void {
  if (parsed.ok) {
    if (parsed.policy) assertValidPolicy(parsed.policy, cluster, where);
    else assert.ok(['disabled', 'absent'].includes(parsed.reason), where);
    return;
  }
  assert.ok(parsed.errors.length > 0, `${where}: invalid without an error`);
  for (const issue of parsed.errors) {
    assert.match(issue.path, /^$|^(snapshots|external|cluster|controlPlane)([.[]|$)/, `${where}: path ${JSON.stringify(issue.path)}`);
    assert.ok(issue.message.trim().length > 0 && issue.message.length <= 300, `${where}: message ${JSON.stringify(issue.message.slice(0, 400))}`);
    assert.doesNotMatch(issue.message, /undefined|\[object Object\]|NaN/, `${where}: message ${issue.message}`);
    // YAML-level errors have no field path but say where in the text.
    if (issue.path === '') assert.match(issue.message, /invalid YAML at line \d+|must be a mapping/, where);
  }
}

async function cleanUp(client: Client, inputs: GeneratedInput[], namespace: string): Promise<void> {
  for (const input of inputs) await removePolicy({ client }, { name: `fz-${input.index}`, namespace });
  // A schedule that fired meanwhile started a run on a task queue no worker polls: end it.
  for await (const run of client.workflow.list({ query: `VclusterNamespace = '${namespace}' AND ExecutionStatus = 'Running'` })) {
    await client.workflow.getHandle(run.workflowId, run.runId).terminate('fuzz test cleanup').catch(() => undefined);
  }
}
