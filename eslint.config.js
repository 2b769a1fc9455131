import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The launcher (bin/shopdb, bin/code-cache.cjs) is plain CommonJS run before the bundle.
    files: ['**/*.cjs', 'bin/shopdb'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', __filename: 'readonly', performance: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The layers stay apart: only src/store talks to AWS or Redis, and the core never touches the process.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@aws-sdk/*', 'ioredis', 'chalk', 'cli-table3', 'commander', '../cli/*', '../store/*', '../app/*', '../server/*'] }],
      'no-restricted-globals': ['error', 'process', 'console'],
    },
  },
  {
    // The shared wiring serves every front end and depends on none.
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@aws-sdk/*', 'ioredis', 'chalk', 'cli-table3', 'commander', '../cli/*', '../server/*'] }],
      'no-restricted-globals': ['error', 'process', 'console'],
    },
  },
  {
    // The HTTP front end stands on the shared wiring and the core, like the CLI, and never on the CLI.
    files: ['src/server/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@aws-sdk/*', 'ioredis', 'chalk', 'cli-table3', 'commander', '../cli/*', '../store/*'] }],
      'no-restricted-globals': ['error', 'process', 'console'],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@aws-sdk/*', 'ioredis'] }] },
  },
);
