import { execa } from 'execa';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, testEnv, uniquePrefix, withPrefix } from '../support/cli.js';

/*
 * The V8 code cache in front of the bundle (bin/code-cache.cjs). Each test runs a copy of the built
 * package in a directory of its own, so packs can be broken, made stale or made unwritable without
 * touching the repository's, and compares every run with the same run through Node's own loader
 * (SHOPDB_NO_CODE_CACHE=1): stdout and exit code must be the same whatever the cache holds.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const { decodePack, packName } = createRequire(import.meta.url)('../../bin/code-cache.cjs') as {
  decodePack: (buffer: Buffer) => { chunks?: Map<string, { source: string; data: string; payload: Buffer }>; invalid?: string };
  packName: (bundleDir: string, execArgv: string[], nodeOptions: string | undefined) => string;
};
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

const prefix = uniquePrefix('codecache');
const cli = withPrefix(prefix);
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'shopdb-code-cache-'));
  chmodSync(work, 0o755);
  await createTables(prefix);
  await cli.ok(['order', 'create', 'cc-1', '--user', 'u1', '--amount', '12.50']);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Install {
  root: string;
  bin: string;
  bundleDir: string;
  pack: string;
}

let installs = 0;
/** A copy of the built package (bin/ and dist/bundle/ without packs), as npm would install it. */
function install(): Install {
  const root = join(work, `pkg-${++installs}`);
  const bundleDir = join(root, 'dist', 'bundle');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(bundleDir, { recursive: true });
  for (const file of ['shopdb', 'code-cache.cjs', 'package.json']) copyFileSync(join(REPO, 'bin', file), join(root, 'bin', file));
  for (const file of readdirSync(join(REPO, 'dist', 'bundle'))) if (file.endsWith('.cjs')) copyFileSync(join(REPO, 'dist', 'bundle', file), join(bundleDir, file));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  for (const dir of [root, join(root, 'bin'), join(root, 'dist'), bundleDir]) chmodSync(dir, 0o755);
  return { root, bin: join(root, 'bin', 'shopdb'), bundleDir, pack: join(bundleDir, packName(bundleDir, [], undefined)) };
}

interface Ran {
  exitCode: number;
  stdout: string;
  /** stderr without the code cache's own debug lines. */
  stderr: string;
  debug: string[];
}

type Options = { env?: Record<string, string | undefined>; uid?: number; nodeArgs?: string[] };

async function run(at: Install, args: string[], { env = {}, uid, nodeArgs = [] }: Options = {}): Promise<Ran> {
  const result = await execa(process.execPath, [...nodeArgs, at.bin, ...args], {
    reject: false,
    timeout: 60_000,
    env: testEnv(prefix, { SHOPDB_CODE_CACHE_DEBUG: '1', XDG_CACHE_HOME: undefined, NODE_OPTIONS: undefined, ...env }),
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  const lines = String(result.stderr).split('\n').filter((line) => line !== '');
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: lines.filter((line) => !line.startsWith('shopdb: code cache: ')).join('\n'),
    debug: lines.filter((line) => line.startsWith('shopdb: code cache: ')).map((line) => line.slice('shopdb: code cache: '.length)),
  };
}

/** The counts of the run's summary line: `used U, compiled C, rejected by V8 R, corrupted X`. */
function counts(ran: Ran): { used: number; compiled: number; rejected: number; corrupted: number } {
  const line = ran.debug.find((entry) => entry.startsWith('used '));
  const match = /^used (\d+), compiled (\d+), rejected by V8 (\d+), corrupted (\d+)$/.exec(line ?? '');
  expect(match, ran.debug.join('\n')).not.toBeNull();
  const [, used, compiled, rejected, corrupted] = (match ?? []).map(Number);
  return { used: used ?? 0, compiled: compiled ?? 0, rejected: rejected ?? 0, corrupted: corrupted ?? 0 };
}

// What the commands print through Node's own loader, the reference for every cached run.
const COMMANDS: Record<string, string[]> = {
  help: ['--help'],
  found: ['order', 'get', 'cc-1'],
  missing: ['order', 'get', 'cc-absent'],
  badInput: ['order', 'create', 'cc-2', '--user', 'u1', '--amount', '12.505'],
  table: ['order', 'get', 'cc-1', '--output', 'table'],
};
const reference: Record<string, Ran> = {};
beforeAll(async () => {
  const plain = install();
  for (const [name, args] of Object.entries(COMMANDS)) reference[name] = await run(plain, args, { env: { SHOPDB_NO_CODE_CACHE: '1' } });
  expect(reference.help?.exitCode).toBe(0);
  expect(reference.found?.exitCode).toBe(0);
  expect(reference.missing?.exitCode).toBe(3);
  expect(reference.badInput?.exitCode).toBe(2);
  expect(JSON.parse(reference.found?.stdout ?? '')).toMatchObject({ orderId: 'cc-1', totalAmount: '12.50' });
  expect(existsSync(plain.pack)).toBe(false);
});

/** Runs every command and checks it against the reference. */
async function allMatch(at: Install, options: Options = {}): Promise<Ran[]> {
  const runs: Ran[] = [];
  for (const [name, args] of Object.entries(COMMANDS)) {
    const ran = await run(at, args, options);
    const expected = reference[name];
    expect({ name, exitCode: ran.exitCode, stdout: ran.stdout, stderr: ran.stderr }).toEqual({ name, exitCode: expected?.exitCode, stdout: expected?.stdout, stderr: expected?.stderr });
    runs.push(ran);
  }
  return runs;
}

describe('code cache', () => {
  it('is written by the first run, beside the bundle, and used by the next, with the same output', async () => {
    const at = install();
    const first = await run(at, ['order', 'get', 'cc-1']);
    expect(first.debug).toContain('no pack yet');
    expect(counts(first)).toMatchObject({ used: 0, rejected: 0, corrupted: 0 });
    expect(counts(first).compiled).toBeGreaterThan(10);
    expect(first.debug).toContain(`wrote ${at.pack} (${counts(first).compiled} chunks)`);
    expect(statSync(at.pack).mode & 0o777).toBe(0o644);

    const second = await run(at, ['order', 'get', 'cc-1']);
    expect(second.stdout).toBe(reference.found?.stdout);
    expect(second.debug).toContain(`read ${at.pack} (${counts(first).compiled} chunks)`);
    expect(counts(second)).toEqual({ used: counts(first).compiled, compiled: 0, rejected: 0, corrupted: 0 });
    // Nothing new compiled, nothing rewritten.
    expect(second.debug.some((line) => line.startsWith('wrote '))).toBe(false);
  });

  it('adds the chunks another command needs, keeps the others, and every command prints what it prints without it', async () => {
    const at = install();
    await run(at, ['--help']);
    const help = decodePack(readFileSync(at.pack)).chunks;
    await run(at, ['order', 'get', 'cc-1']);
    const both = decodePack(readFileSync(at.pack)).chunks;
    for (const chunk of help?.keys() ?? []) expect(both?.has(chunk)).toBe(true);
    expect(both?.size).toBeGreaterThan(help?.size ?? 0);
    expect([...(both?.keys() ?? [])].some((chunk) => chunk.startsWith('order-get-'))).toBe(true);
    expect([...(help?.keys() ?? [])].some((chunk) => chunk.startsWith('order-get-'))).toBe(false);
    // A help run loads no AWS SDK: its chunks are few and small.
    const sizes = (chunks: typeof help) => [...(chunks?.keys() ?? [])].reduce((sum, chunk) => sum + statSync(join(at.bundleDir, chunk)).size, 0);
    expect(sizes(help)).toBeLessThan(sizes(both) / 3);
    await allMatch(at);
    const again = await allMatch(at);
    for (const ran of again) expect(counts(ran)).toMatchObject({ compiled: 0, rejected: 0, corrupted: 0 });
  });

  it('SHOPDB_NO_CODE_CACHE=1 reads and writes no pack', async () => {
    const at = install();
    for (const value of ['1', 'true', 'yes']) {
      const ran = await run(at, ['order', 'get', 'cc-1'], { env: { SHOPDB_NO_CODE_CACHE: value } });
      expect(ran.debug[0]).toBe('off (SHOPDB_NO_CODE_CACHE)');
      expect(ran.debug.filter((line) => /^(read|wrote|no pack|no usable)/.test(line))).toEqual([]);
      expect(counts(ran)).toMatchObject({ used: 0, rejected: 0, corrupted: 0 });
      expect(ran.stdout).toBe(reference.found?.stdout);
    }
    expect(readdirSync(at.bundleDir).filter((file) => !file.endsWith('.cjs'))).toEqual([]);
    // 0 and false mean on.
    for (const value of ['0', 'false', '']) {
      const ran = await run(at, ['--help'], { env: { SHOPDB_NO_CODE_CACHE: value } });
      expect(ran.debug[0]).not.toContain('off');
    }
  });

  it('a corrupted pack (bytes flipped in the index or in a payload) is never used, gives the same output, and is rewritten', async () => {
    const at = install();
    await allMatch(at);
    const good = readFileSync(at.pack);
    const { chunks } = decodePack(good);
    const payloadStart = good.length - [...(chunks?.values() ?? [])].reduce((sum, entry) => sum + entry.payload.length, 0);
    // In the header and index, at the start, middle and end of the payloads.
    for (const offset of [3, 20, 40, payloadStart - 5, payloadStart + 10, Math.floor((payloadStart + good.length) / 2), good.length - 1]) {
      const bad = Buffer.from(good);
      bad[offset] = (bad[offset] ?? 0) ^ 0x5a;
      writeFileSync(at.pack, bad);
      const runs = await allMatch(at);
      const summary = runs.map(counts);
      if (offset < payloadStart) {
        // The index is checked as a whole: the first run compiles everything it needs.
        expect(runs[0]?.debug.some((line) => /: (corrupted index|not a shopdb code cache|truncated); compiling from source$/.test(line)), `offset ${offset}`).toBe(true);
      } else {
        expect(summary.some((entry) => entry.corrupted === 1), `offset ${offset}: ${JSON.stringify(summary)}`).toBe(true);
      }
      expect(summary.every((entry) => entry.rejected === 0)).toBe(true);
      // Rewritten whole: a further round compiles nothing.
      expect(decodePack(readFileSync(at.pack)).invalid).toBeUndefined();
      for (const ran of await allMatch(at)) expect(counts(ran)).toMatchObject({ compiled: 0, corrupted: 0 });
    }
  });

  it('a truncated or emptied pack, or something else under its name, gives the same output and is replaced', async () => {
    const at = install();
    await allMatch(at);
    for (const part of [0, 10, 40, 'half', 'all but one byte'] as const) {
      // Each round's rewrite may change the pack's size: cut what is there now.
      const size = statSync(at.pack).size;
      const length = part === 'half' ? Math.floor(size / 2) : part === 'all but one byte' ? size - 1 : part;
      truncateSync(at.pack, length);
      const cut = await allMatch(at);
      if (typeof part === 'string') expect(cut[0]?.debug.some((line) => /more cut off: truncated\)$/.test(line)), `${part}: ${cut[0]?.debug.join(' | ')}`).toBe(true);
      for (const ran of await allMatch(at)) expect(counts(ran)).toMatchObject({ compiled: 0 });
    }
    rmSync(at.pack);
    mkdirSync(at.pack);
    const onDirectory = await allMatch(at);
    expect(onDirectory[0]?.debug.some((line) => line.includes('not a file'))).toBe(true);
    // A FIFO would block a plain open until someone writes to it; a device never ends.
    rmSync(at.pack, { recursive: true });
    await execa('mkfifo', [at.pack]);
    const onFifo = await run(at, ['--help']);
    expect(onFifo.stdout).toBe(reference.help?.stdout);
    expect(onFifo.debug).toContain(`${at.pack}: not a file; compiling from source`);
    rmSync(at.pack);
    symlinkSync('/dev/zero', at.pack);
    const onLink = await run(at, ['--help']);
    expect(onLink.stdout).toBe(reference.help?.stdout);
    expect(onLink.debug).toContain(`${at.pack}: a symbolic link; compiling from source`);
    expect(onLink.debug).toContain('no usable pack');
    // Replaced by a real pack (the rename replaces the link, not /dev/zero).
    expect(statSync(at.pack).isFile()).toBe(true);
    expect(counts(await run(at, ['--help']))).toMatchObject({ compiled: 0 });
  });

  it('a stale pack for a chunk of the same length (another build) is not used: the new code runs', async () => {
    const at = install();
    await allMatch(at);
    const entry = join(at.bundleDir, 'shopdb.cjs');
    const source = readFileSync(entry, 'utf8');
    const old = "Manage a shop's orders and carts in Amazon DynamoDB";
    const changed = "MANAGE a shop's orders and carts in Amazon DynamoDB";
    expect(source).toContain(old);
    writeFileSync(entry, source.replace(old, changed));
    expect(statSync(entry).size).toBe(Buffer.byteLength(source));
    // V8 alone would accept the old cache (it checks only the length) and print the old text.
    const ran = await run(at, ['--help']);
    expect(ran.stdout).toContain(changed);
    expect(ran.stdout).not.toContain(old);
    expect(counts(ran)).toMatchObject({ compiled: 1, corrupted: 0 });
    const next = await run(at, ['--help']);
    expect(next.stdout).toContain(changed);
    expect(counts(next)).toMatchObject({ compiled: 0 });
  });

  it('V8 flags of their own get a pack of their own', async () => {
    const at = install();
    await run(at, ['--help']);
    const flagged = await run(at, ['--help'], { nodeArgs: ['--stack-size=900'] });
    expect(flagged.stdout).toBe(reference.help?.stdout);
    expect(flagged.debug).toContain('no pack yet');
    const packs = readdirSync(at.bundleDir).filter((file) => file.endsWith('.v8pack'));
    expect(packs).toHaveLength(2);
    expect(counts(await run(at, ['--help']))).toMatchObject({ compiled: 0 });
    expect(counts(await run(at, ['--help'], { nodeArgs: ['--stack-size=900'] }))).toMatchObject({ compiled: 0 });
  });

  it('processes writing the pack at once never leave a broken one', async () => {
    const at = install();
    for (let round = 0; round < 3; round++) {
      const names = Object.keys(COMMANDS);
      const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => {
        const name = names[(i + round) % names.length] ?? 'help';
        return run(at, COMMANDS[name] ?? []).then((ran) => ({ name, ran }));
      }));
      for (const { name, ran } of runs) {
        expect({ name, exitCode: ran.exitCode, stdout: ran.stdout }).toEqual({ name, exitCode: reference[name]?.exitCode, stdout: reference[name]?.stdout });
      }
      expect(decodePack(readFileSync(at.pack)).invalid).toBeUndefined();
      // No temporary file is left behind.
      expect(readdirSync(at.bundleDir).filter((file) => file.endsWith('.tmp'))).toEqual([]);
    }
    await allMatch(at);
    for (const ran of await allMatch(at)) expect(counts(ran)).toMatchObject({ compiled: 0 });
  });

  it('keeps at most 8 packs in a directory, dropping the least recently written', async () => {
    const at = install();
    const good = (await run(at, ['--help']), readFileSync(at.pack));
    for (let i = 0; i < 10; i++) {
      const other = join(at.bundleDir, `shopdb-${process.version}-${process.arch}-${String(i).padStart(16, '0')}.v8pack`);
      writeFileSync(other, good);
      const when = new Date(Date.now() - (i + 1) * 60_000);
      utimesSync(other, when, when);
    }
    // Not a pack shopdb names: never removed.
    writeFileSync(join(at.bundleDir, 'shopdb-notes.v8pack'), 'mine');
    utimesSync(join(at.bundleDir, 'shopdb-notes.v8pack'), new Date(0), new Date(0));
    // A run under other flags writes its own pack, and tidies.
    await run(at, ['--help'], { nodeArgs: ['--stack-size=901'] });
    const packs = readdirSync(at.bundleDir).filter((file) => file.endsWith('.v8pack') && file !== 'shopdb-notes.v8pack');
    expect(packs).toHaveLength(8);
    expect(existsSync(join(at.bundleDir, 'shopdb-notes.v8pack'))).toBe(true);
    expect(packs).toContain(packName(at.bundleDir, ['--stack-size=901'], undefined));
    // The newest of the others stay.
    for (let i = 0; i < 6; i++) expect(packs).toContain(`shopdb-${process.version}-${process.arch}-${String(i).padStart(16, '0')}.v8pack`);
  });

  it('a run stopped by a signal writes nothing, and says so', async () => {
    const at = install();
    const child = execa(process.execPath, [at.bin, 'order', 'import', '-'], {
      reject: false,
      env: testEnv(prefix, { SHOPDB_CODE_CACHE_DEBUG: '1', NODE_OPTIONS: undefined }),
      stdin: 'pipe',
    });
    child.stdin?.write('{"orderId":"cc-signal","userId":"u1","totalAmount":"1.00","status":"PENDING"}\n');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(143);
    expect(String(result.stderr)).toMatch(/shopdb: code cache: not written: stopped by a signal \(exit 143\)/);
    expect(existsSync(at.pack)).toBe(false);
  });

  it('a build with a chunk missing says so in one line, exit 1, cached or not', async () => {
    const at = install();
    await run(at, ['--help']);
    const entry = readFileSync(join(at.bundleDir, 'shopdb.cjs'), 'utf8');
    const atStart = /require\("\.\/(chunk-[A-Z0-9]+\.cjs)"\)/.exec(entry)?.[1] ?? '';
    expect(atStart).not.toBe('');
    const lazy = readdirSync(at.bundleDir).find((file) => file.startsWith('order-get-')) ?? '';
    rmSync(join(at.bundleDir, lazy));
    for (const env of [{}, { SHOPDB_NO_CODE_CACHE: '1' }]) {
      const ran = await run(at, ['order', 'get', 'cc-1'], { env });
      expect({ exitCode: ran.exitCode, stderr: ran.stderr }).toEqual({
        exitCode: 1,
        stderr: JSON.stringify({ error: { code: 'INTERNAL', message: `the build is incomplete (${join(at.bundleDir, lazy)} is missing); run: npm run build` } }),
      });
    }
    // Cut short (a build writing it at that moment), or a directory in its place.
    const cart = readdirSync(at.bundleDir).find((file) => file.startsWith('cart-get-')) ?? '';
    const cartSource = readFileSync(join(at.bundleDir, cart));
    writeFileSync(join(at.bundleDir, cart), cartSource.subarray(0, Math.floor(cartSource.length / 2)));
    const cut = await Promise.all([{}, { SHOPDB_NO_CODE_CACHE: '1' }].map((env) => run(at, ['cart', 'get', 'c-1'], { env })));
    for (const ran of cut) {
      expect(ran.exitCode).toBe(1);
      expect(ran.stderr).toMatch(new RegExp(`^\\{"error":\\{"code":"INTERNAL","message":"the build is incomplete \\(${join(at.bundleDir, cart).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+\\); run: npm run build"\\}\\}$`));
    }
    expect(cut[0]?.stderr).toBe(cut[1]?.stderr);
    rmSync(join(at.bundleDir, cart));
    mkdirSync(join(at.bundleDir, cart));
    const directory = await Promise.all([{}, { SHOPDB_NO_CODE_CACHE: '1' }].map((env) => run(at, ['cart', 'get', 'c-1'], { env })));
    for (const ran of directory) expect(ran.stderr).toContain(`the build is incomplete (${join(at.bundleDir, cart)}: EISDIR); run: npm run build`);
    rmSync(join(at.bundleDir, atStart));
    for (const env of [{}, { SHOPDB_NO_CODE_CACHE: '1' }]) {
      const ran = await run(at, ['--help'], { env });
      expect({ exitCode: ran.exitCode, stderr: ran.stderr }).toEqual({ exitCode: 1, stderr: `shopdb: the build is incomplete (${join(at.bundleDir, atStart)} is missing); run: npm run build` });
    }
  });

  it('removes temporary files that a killed writer left behind, once they are old', async () => {
    const at = install();
    const name = packName(at.bundleDir, [], undefined);
    const old = join(at.bundleDir, `.${name}.999999.abcdef.tmp`);
    const recent = join(at.bundleDir, `.${name}.999998.abcdef.tmp`);
    writeFileSync(old, 'partial');
    writeFileSync(recent, 'partial');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(old, hourAgo, hourAgo);
    await run(at, ['--help']);
    expect(existsSync(old)).toBe(false);
    // Perhaps another process still writing it.
    expect(existsSync(recent)).toBe(true);
  });

  it.runIf(asRoot)('ignores a pack owned by another user or writable by others, and replaces it', async () => {
    const at = install();
    await allMatch(at);
    chownSync(at.pack, NOBODY, NOBODY);
    const foreign = await run(at, ['--help']);
    expect(foreign.stdout).toBe(reference.help?.stdout);
    expect(foreign.debug).toContain(`${at.pack}: owned by another user; compiling from source`);
    expect(statSync(at.pack).uid).toBe(0);
    chmodSync(at.pack, 0o666);
    const open = await run(at, ['--help']);
    expect(open.debug).toContain(`${at.pack}: writable by other users; compiling from source`);
    expect(statSync(at.pack).mode & 0o777).toBe(0o644);
    expect(counts(await run(at, ['--help']))).toMatchObject({ compiled: 0 });
  });

  it.runIf(asRoot)('uses no cache directory that another user owns or anyone can write to', async () => {
    const at = install();
    chmodSync(at.bundleDir, 0o777);
    const open = await run(at, ['--help']);
    expect(open.stdout).toBe(reference.help?.stdout);
    expect(open.debug).toContain(`${at.bundleDir}: writable by other users; not used`);
    expect(existsSync(at.pack)).toBe(false);
    chmodSync(at.bundleDir, 0o755);
    // A planted $XDG_CACHE_HOME/shopdb of someone else's, used by a user whose package directory is read-only.
    const xdg = join(work, 'xdg-planted');
    mkdirSync(join(xdg, 'shopdb'), { recursive: true, mode: 0o777 });
    chmodSync(xdg, 0o777);
    chmodSync(join(xdg, 'shopdb'), 0o777);
    chownSync(join(xdg, 'shopdb'), 1234, 1234);
    const planted = await run(at, ['--help'], { uid: NOBODY, env: { XDG_CACHE_HOME: xdg } });
    expect(planted.stdout).toBe(reference.help?.stdout);
    expect(planted.debug).toContain(`${join(xdg, 'shopdb')}: owned by another user; not used`);
    expect(readdirSync(join(xdg, 'shopdb'))).toEqual([]);
  });

  describe('when the package directory is read-only', () => {
    // As root, permissions do not stop writes: the runs are made as `nobody` instead.
    const options = (env: Record<string, string | undefined>): Options => (asRoot ? { uid: NOBODY, env } : { env });
    let at: Install;
    beforeAll(() => {
      at = install();
      if (!asRoot) chmodSync(at.bundleDir, 0o555);
    });
    afterAll(() => chmodSync(at.bundleDir, 0o755));

    it('keeps the pack under $XDG_CACHE_HOME/shopdb', async () => {
      const xdg = join(work, 'xdg');
      mkdirSync(xdg, { mode: 0o755 });
      if (asRoot) chownSync(xdg, NOBODY, NOBODY);
      const first = await run(at, ['--help'], options({ XDG_CACHE_HOME: xdg }));
      expect(first.stdout).toBe(reference.help?.stdout);
      const pack = join(xdg, 'shopdb', packName(at.bundleDir, [], undefined));
      expect(first.debug).toContain(`wrote ${pack} (${counts(first).compiled} chunks)`);
      expect(first.debug.some((line) => line.startsWith(`could not write ${at.pack} (`))).toBe(true);
      expect(statSync(join(xdg, 'shopdb')).mode & 0o777).toBe(0o700);
      expect(existsSync(at.pack)).toBe(false);
      const second = await run(at, ['--help'], options({ XDG_CACHE_HOME: xdg }));
      expect(second.debug).toContain(`read ${pack} (${counts(first).compiled} chunks)`);
      expect(counts(second)).toMatchObject({ compiled: 0 });
    });

    it('else under ~/.cache/shopdb (a relative XDG_CACHE_HOME is ignored, as the spec says)', async () => {
      const home = join(work, 'home');
      mkdirSync(home, { mode: 0o755 });
      if (asRoot) chownSync(home, NOBODY, NOBODY);
      for (const xdg of [undefined, 'relative/cache']) {
        const ran = await run(at, ['order', 'get', 'cc-1'], options({ HOME: home, XDG_CACHE_HOME: xdg }));
        expect(ran.stdout).toBe(reference.found?.stdout);
      }
      const packs = readdirSync(join(home, '.cache', 'shopdb'));
      expect(packs).toEqual([packName(at.bundleDir, [], undefined)]);
      expect(counts(await run(at, ['order', 'get', 'cc-1'], options({ HOME: home })))).toMatchObject({ compiled: 0 });
    });

    it("reads both the package's pack and the user's own: what the first lacks is compiled once", async () => {
      const home = join(work, 'home-shared');
      mkdirSync(home, { mode: 0o755 });
      if (asRoot) chownSync(home, NOBODY, NOBODY);
      // The package's pack, written by its owner, holds only what --help needs.
      const owner = await run(at, ['--help'], asRoot ? {} : { env: {} });
      if (asRoot) expect(existsSync(at.pack)).toBe(true);
      expect(owner.exitCode).toBe(0);
      const first = await run(at, ['order', 'get', 'cc-1'], options({ HOME: home }));
      expect(first.stdout).toBe(reference.found?.stdout);
      const second = await run(at, ['order', 'get', 'cc-1'], options({ HOME: home }));
      expect(second.stdout).toBe(reference.found?.stdout);
      expect(counts(second)).toMatchObject({ compiled: 0, corrupted: 0 });
      expect(second.debug.some((line) => line.startsWith('wrote '))).toBe(false);
      if (asRoot) expect(second.debug.filter((line) => line.startsWith('read '))).toHaveLength(2);
    });

    it('and with nowhere to write, still runs every command as without a cache', async () => {
      const ran = await run(at, ['order', 'get', 'cc-absent'], options({ HOME: '/nonexistent-shopdb-home', XDG_CACHE_HOME: '/proc/shopdb-cannot-write' }));
      expect({ exitCode: ran.exitCode, stdout: ran.stdout, stderr: ran.stderr }).toEqual({ exitCode: 3, stdout: reference.missing?.stdout, stderr: reference.missing?.stderr });
      expect(ran.debug.filter((line) => line.startsWith('could not write '))).toHaveLength(2);
    });
  });

  it('a missing build says so in one line, exit 1', async () => {
    const at = install();
    rmSync(at.bundleDir, { recursive: true });
    const ran = await run(at, ['--help']);
    expect(ran.exitCode).toBe(1);
    expect(ran.stderr).toBe(`shopdb: the build is missing (${join(at.bundleDir, 'shopdb.cjs')}); run: npm run build`);
  });

  it('runs as an executable through its #! line, as npm links it', async () => {
    const at = install();
    const result = await execa(at.bin, ['--help'], { reject: false, env: testEnv(prefix) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(reference.help?.stdout);
  });
});
