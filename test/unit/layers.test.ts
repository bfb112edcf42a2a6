// The layer rules bite: lint (the project's own eslint.config.mjs) rejects an import against the direction of the
// layers, an import cycle, a workflow importing an activity's code, and a failure built outside the vocabulary.
// The wrong code is linted as if it sat at a real path, without being written there.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = join(__dirname, '..', '..');

describe('layer rules (lint)', function () {
  this.timeout(60_000);
  // Typed linting needs files on disk; the rules under test need only the parser and the import resolver.
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false, project: null } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  });

  async function ruleIdsFor(code: string, path: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
    return result.messages.map((m) => m.ruleId ?? m.message);
  }

  it('rejects lib/ importing a workflow', async () => {
    const ids = await ruleIdsFor("import { snapshotWorkflow } from '../workflows/snapshot';\nexport const w = snapshotWorkflow;\n", 'lib/wrong-way.ts');
    assert.ok(ids.includes('import-x/no-restricted-paths'), ids.join(', '));
  });

  it('rejects contracts/ importing lib/', async () => {
    const ids = await ruleIdsFor("import { mapLimit } from '../lib/concurrency';\nexport const m = mapLimit;\n", 'contracts/wrong-way.ts');
    assert.ok(ids.includes('import-x/no-restricted-paths'), ids.join(', '));
  });

  it('rejects the client importing activities', async () => {
    const ids = await ruleIdsFor("import { createActivities } from '../activities';\nexport const a = createActivities;\n", 'client/wrong-way.ts');
    assert.ok(ids.includes('import-x/no-restricted-paths'), ids.join(', '));
  });

  it('rejects an import cycle (lib/kube/csi.ts imports lib/kube/errors.ts, which would import it back)', async () => {
    const ids = await ruleIdsFor("import { csiClient } from './csi';\nexport const c = csiClient;\n", 'lib/kube/errors.ts');
    assert.ok(ids.includes('import-x/no-cycle'), ids.join(', '));
  });

  it('lets workflows import activity types only', async () => {
    const value = await ruleIdsFor("import { createActivities } from '../activities';\nexport const a = createActivities;\n", 'workflows/wrong-way.ts');
    assert.ok(value.includes('@typescript-eslint/no-restricted-imports'), value.join(', '));
    const typeOnly = await ruleIdsFor("import type { createActivities } from '../activities';\nexport type A = ReturnType<typeof createActivities>;\n", 'workflows/right-way.ts');
    assert.deepEqual(typeOnly, []);
  });

  it('rejects a failure built outside contracts/errors.ts', async () => {
    const ids = await ruleIdsFor("import { ApplicationFailure } from '@temporalio/common';\nexport const f = ApplicationFailure.nonRetryable('no', 'Whatever');\n", 'lib/wrong-failure.ts');
    assert.ok(ids.includes('no-restricted-syntax'), ids.join(', '));
  });

  it('accepts the tree as it is', async () => {
    const ids = await ruleIdsFor("import { failure } from '../contracts/errors';\nexport const f = failure('KubeForbidden', 'no');\n", 'lib/right-way.ts');
    assert.deepEqual(ids, []);
  });
});
