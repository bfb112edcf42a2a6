// Replays a fresh history at once and, with VCSNAP_CAPTURE_HISTORIES=1, keeps it in test/fixtures/histories/ for the
// committed-history replay test (test/replay/committed.test.ts). `name` is the file name and the replayed workflow ID.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { testEnv } from './env';
import { ensureTestRuntime } from './runtime';

const HISTORY_DIR = join(__dirname, '..', 'fixtures', 'histories');

export async function replayAndCapture(name: string, history: temporal.api.history.v1.IHistory): Promise<void> {
  ensureTestRuntime();
  await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().workflowBundlePath } }, history, name);
  if (process.env.VCSNAP_CAPTURE_HISTORIES) {
    mkdirSync(HISTORY_DIR, { recursive: true });
    writeFileSync(join(HISTORY_DIR, `${name}.json`), historyToJSON(history));
  }
}
