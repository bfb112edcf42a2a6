#!/usr/bin/env node
// The vcsnap CLI. An installed package (and the image) runs the compiled dist/; a development checkout, where tsx
// and the TypeScript sources are present, runs the sources so there is no stale build to forget.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function loadCli() {
  const source = join(__dirname, '..', 'client', 'cli', 'main.ts');
  if (existsSync(source)) {
    try {
      require.resolve('tsx/cjs');
      require('tsx/cjs');
      return require(source);
    } catch (err) {
      if (err && err.code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  return require('../dist/client/cli/main.js');
}

const { main, exitCodeFor } = loadCli();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`vcsnap: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(exitCodeFor(err));
  },
);
