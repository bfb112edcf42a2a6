// Determinism: the committed histories in test/fixtures/histories/ must replay on the current workflow code.
// A change that breaks one needs `patched()` (or, if intended and safe, new histories, captured from real runs by
//   VCSNAP_CAPTURE_HISTORIES=1 npx mocha --config test/.mocharc.servers.json test/integration/replay-fresh.test.ts).
// No server: the workflows are bundled here and each history replays in the SDK's replayer.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { ensureTestRuntime, quietLogger } from '../harness/runtime';

const HISTORY_DIR = join(__dirname, '..', 'fixtures', 'histories');

describe('workflow replay of committed histories', () => {
  it('replays every committed history on the current workflow code', async () => {
    ensureTestRuntime();
    const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 6, `expected committed histories in ${HISTORY_DIR}`);
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
    // The file name is the workflow ID the history was recorded under (child workflow IDs derive from it).
    const histories = files.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(readFileSync(join(HISTORY_DIR, file), 'utf8'))) }));
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId} does not replay: ${String(result.error)}`);
      replayed.push(result.workflowId);
    }
    assert.deepEqual(replayed.sort(), histories.map((h) => h.workflowId).sort());
  });
});
