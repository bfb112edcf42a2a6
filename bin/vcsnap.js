#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the package needs no build step.
require('tsx/cjs');
const { main, exitCodeFor } = require('../client/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`vcsnap: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(exitCodeFor(err));
  },
);
