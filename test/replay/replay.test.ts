// Determinism: the committed histories in test/fixtures/histories/ must replay on the current workflow code.
// A change that breaks one needs `patched()` (or, if intended and safe, new histories):
//   VCSNAP_CAPTURE_HISTORIES=1 npx mocha test/replay/replay.test.ts
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { ensureTestRuntime, startTestWorker, type TestWorker } from '../harness/temporal';

const HISTORY_DIR = join(__dirname, '..', 'fixtures', 'histories');

async function replay(name: string, history: unknown): Promise<void> {
  ensureTestRuntime();
  await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().workflowBundlePath } }, history, name);
}

describe('workflow replay', () => {
  it('replays every committed history', async () => {
    const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 3, `expected committed histories in ${HISTORY_DIR}`);
    for (const file of files) {
      await replay(file, historyFromJSON(JSON.parse(readFileSync(join(HISTORY_DIR, file), 'utf8'))));
    }
  });

  describe('fresh histories of this code', () => {
    let worker: TestWorker;
    before(async () => {
      worker = await startTestWorker();
    });
    after(async () => worker.stop());

    const cases: Array<{ name: string; run: (w: TestWorker) => Promise<WorkflowHandle> }> = [
      {
        name: 'snapshot-completed-file',
        run: (w) => w.client.workflow.start(snapshotWorkflow, { taskQueue: w.taskQueue, workflowId: uniqueName('replay'), args: [{ policy: filePolicy(), nominalTime: '2026-11-23T12:00:00Z' }] }),
      },
      {
        name: 'snapshot-failed-unreachable-etcd',
        run: (w) =>
          w.client.workflow.start(snapshotWorkflow, {
            taskQueue: w.taskQueue,
            workflowId: uniqueName('replay'),
            args: [{ policy: filePolicy({ state: { endpoints: [], origin: 'none', unavailableReason: 'no etcd endpoint configured' } }), nominalTime: '2026-11-23T12:00:00Z' }],
          }),
      },
      {
        name: 'snapshot-volumes-none',
        run: (w) =>
          w.client.workflow.start(snapshotWorkflow, {
            taskQueue: w.taskQueue,
            workflowId: uniqueName('replay'),
            args: [{ policy: filePolicy({ volumes: { enabled: true, concurrency: 10 }, cluster: { name: uniqueName('vc'), namespace: uniqueName('ns') } }), nominalTime: '2026-11-23T12:00:00Z' }],
          }),
      },
    ];
    for (const c of cases) {
      it(`replays ${c.name}`, async () => {
        const handle = await c.run(worker);
        await handle.result().catch(() => undefined);
        const history = await handle.fetchHistory();
        await replay(c.name, history);
        if (process.env.VCSNAP_CAPTURE_HISTORIES) {
          mkdirSync(HISTORY_DIR, { recursive: true });
          writeFileSync(join(HISTORY_DIR, `${c.name}.json`), historyToJSON(history));
        }
      });
    }
  });
});
