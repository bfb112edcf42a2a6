// Builds the workflow bundle once (dist/workflow-bundle.js) so workers start without webpack.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const PREBUILT_BUNDLE = resolve(process.argv[2] ?? join(__dirname, '..', 'dist', 'workflow-bundle.js'));

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  mkdirSync(dirname(PREBUILT_BUNDLE), { recursive: true });
  writeFileSync(PREBUILT_BUNDLE, code);
  console.log(`workflow bundle written to ${PREBUILT_BUNDLE} (${code.length} bytes)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
