// Builds the workflow bundle once (`npm run build` writes dist/workflow-bundle.js) so workers start without webpack.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const target = process.argv[2];
  if (!target) throw new Error('usage: build-workflow-bundle OUTPUT.js');
  const output = resolve(target);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, code);
  console.log(`workflow bundle written to ${output} (${code.length} bytes)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
