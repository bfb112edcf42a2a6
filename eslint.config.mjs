import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { builtinModules } from 'node:module';

// The layers (README "Architecture"): imports point one way only.
//   contracts <- lib <- activities <- worker;  contracts <- workflows;  contracts + lib <- client
// `layer(target, forbidden)` is one zone of import-x/no-restricted-paths: files under `target` may not import `forbidden`.
const layer = (target, forbidden, why) => ({ target: `./${target}`, from: forbidden.map((dir) => `./${dir}`), message: why });
export const layerZones = [
  layer('contracts', ['lib', 'activities', 'workflows', 'client', 'worker', 'scripts', 'test'], 'contracts/ is the bottom layer: it imports nothing of ours.'),
  layer('lib', ['activities', 'workflows', 'client', 'worker', 'scripts', 'test'], 'lib/ imports only contracts/ (and other lib/ modules).'),
  layer('activities', ['workflows', 'client', 'worker', 'scripts', 'test'], 'activities/ are adapters over lib/ and contracts/.'),
  // workflows/ -> activities/ is allowed for `import type` only (checked by no-restricted-imports below).
  layer('workflows', ['lib', 'client', 'worker', 'scripts', 'test'], 'workflows/ import contracts/ (and activity types) only.'),
  layer('client', ['activities', 'workflows', 'worker', 'scripts', 'test'], 'client/ imports contracts/ and lib/ only.'),
  layer('worker', ['client', 'scripts', 'test'], 'worker/ composes activities/ and workflows/; it does not import the client.'),
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.vcsnap/**', 'bench/**', 'dist/**', 'test/fixtures/lint/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${import.meta.dirname}/tsconfig.json` })],
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-duplicates': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    // Only the error vocabulary builds failures, so every type thrown is in its table with its retryability.
    files: ['**/*.ts'],
    ignores: ['contracts/errors.ts', 'test/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='ApplicationFailure'][property.name=/^(create|nonRetryable|retryable|fromError)$/]",
          message: 'Build failures with failure() from contracts/errors.ts, so the type is in the one vocabulary.',
        },
        { selector: "NewExpression[callee.name='ApplicationFailure']", message: 'Build failures with failure() from contracts/errors.ts.' },
      ],
    },
  },
  {
    // Workflows must stay deterministic: no Node built-ins and no Temporal runtime packages other than the workflow API.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`),
            '@temporalio/activity', '@temporalio/client', '@temporalio/worker'],
          patterns: [
            { group: ['@aws-sdk/*', '@kubernetes/*', 'etcd3', 'tar-stream'], message: 'Workflows call activities for I/O.' },
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Workflows import activities type-only.' },
          ],
        },
      ],
    },
  },
);
