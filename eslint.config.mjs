import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['node_modules/**', '.vcsnap/**', 'bench/**', 'dist/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflows must stay deterministic: no Node built-ins and no Temporal runtime packages other than the workflow API.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`),
            '@temporalio/activity', '@temporalio/client', '@temporalio/worker'],
          patterns: ['@aws-sdk/*', '@kubernetes/*', 'etcd3', 'tar-stream'],
        },
      ],
    },
  },
);
