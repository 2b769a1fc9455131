import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/cli/config.js';
import { main } from '../../src/cli/main.js';

/*
 * Every case here fails (or finishes) before any network call. The endpoint,
 * where one is set, is a closed port: a case that did reach it would end with
 * exit 5 (unavailable) and fail the exit-code assertion.
 */
const UNREACHABLE = 'http://127.0.0.1:9';

// As bin/shopdb's entry does: the SDK would otherwise warn about Node 20 on the worker's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], options: { env?: Env; tty?: boolean } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main({
    argv,
    stdin: Readable.from([]),
    env: options.env ?? {},
    streams: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      stderrIsTty: false,
    },
    stdoutIsTty: options.tty ?? false,
    hasAwsFile: () => false,
  });
  return { code, stdout, stderr };
}

const LOCAL: Env = { SHOPDB_ENDPOINT: UNREACHABLE };

/** The run failed as a usage error: exit 2, one `shopdb: ` line on stderr, nothing on stdout, no stack. */
function expectUsageLine(result: Run): string {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr.endsWith('\n')).toBe(true);
  const lines = result.stderr.split('\n').slice(0, -1);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^shopdb: /);
  return lines[0] ?? '';
}

/** The run failed in JSON mode: one {"error":{code,message}} line on stderr, nothing on stdout. */
function expectJsonError(result: Run, code: string): { code: string; message: string } {
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr.endsWith('\n')).toBe(true);
  const lines = result.stderr.split('\n').slice(0, -1);
  expect(lines).toHaveLength(1);
  const parsed = JSON.parse(lines[0] ?? '') as { error: { code: string; message: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(Object.keys(parsed.error)).toEqual(['code', 'message']);
  expect(parsed.error.code).toBe(code);
  expect(typeof parsed.error.message).toBe('string');
  return parsed.error;
}

describe('help and version', () => {
  it('--help exits 0 with usage and examples on stdout and nothing on stderr', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Usage: shopdb');
    expect(result.stdout).toContain('Example');
    for (const group of ['tables', 'order', 'cart', 'local']) expect(result.stdout).toContain(group);
  });

  it('--version prints the version and exits 0', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('0.1.0');
  });

  const leaves = [
    ['tables', 'create'],
    ['tables', 'status'],
    ['tables', 'delete'],
    ['order', 'create'],
    ['order', 'get'],
    ['order', 'set-status'],
    ['cart', 'create'],
    ['cart', 'get'],
    ['cart', 'add-product'],
    ['local', 'start'],
    ['local', 'stop'],
    ['local', 'status'],
  ];

  it.each(leaves)('%s %s --help exits 0 with its own usage and an example', async (group, command) => {
    const result = await run([group ?? '', command ?? '', '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`Usage: shopdb ${group} ${command}`);
    expect(result.stdout).toMatch(/Examples?:\n {2}\$ shopdb /);
    expect(result.stdout).toContain(`$ shopdb `);
  });

  it.each([['tables'], ['order'], ['cart'], ['local']])('%s --help exits 0 and lists its subcommands', async (group) => {
    const result = await run([group, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: shopdb ${group}`);
    expect(result.stdout).toContain('Commands:');
  });

  it('a group without a subcommand shows its help on stderr and exits 2', async () => {
    const result = await run(['order']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Usage: shopdb order');
  });
});

describe('usage errors (exit 2, before any network call)', () => {
  it('an unknown command is one shopdb: line on stderr', async () => {
    const line = expectUsageLine(await run(['frobnicate'], { tty: true }));
    expect(line).toContain('frobnicate');
    expect(line).toContain('--help');
  });

  it('a misspelt subcommand is one line, with the suggestion folded in', async () => {
    const line = expectUsageLine(await run(['order', 'creat', '--user', 'u1', '--amount', '1'], { tty: true }));
    expect(line).toContain('creat');
  });

  it('an unknown option is refused', async () => {
    const line = expectUsageLine(await run(['order', 'create', '--user', 'u1', '--amount', '1', '--bogus'], { tty: true, env: LOCAL }));
    expect(line).toContain('--bogus');
  });

  it('an unknown global option is refused', async () => {
    expectUsageLine(await run(['--frob', 'tables', 'status'], { tty: true, env: LOCAL }));
  });

  it('a missing required option is named', async () => {
    const line = expectUsageLine(await run(['order', 'create', '--user', 'u1'], { tty: true, env: LOCAL }));
    expect(line).toContain('--amount');
  });

  it('a missing argument is refused', async () => {
    const line = expectUsageLine(await run(['order', 'get'], { tty: true, env: LOCAL }));
    expect(line).toContain('orderId');
  });

  it('a bad amount is BAD_INPUT naming amount, decided before DynamoDB is asked', async () => {
    const line = expectUsageLine(await run(['order', 'create', 'o1', '--user', 'u', '--amount', '-1'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: amount: /);
    expect(line).toContain('"-1"');
  });

  it.each([['0.001'], ['1e3'], ['1,5'], ['9'.repeat(40)]])('amount %j is refused with exit 2', async (amount) => {
    const line = expectUsageLine(await run(['order', 'create', '--user', 'u', '--amount', amount], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: amount: /);
  });

  it('a bad price or quantity for cart add-product is refused before DynamoDB is asked', async () => {
    const price = expectUsageLine(await run(['cart', 'add-product', 'c1', 'p1', '--price', '1.999'], { tty: true, env: LOCAL }));
    expect(price).toMatch(/^shopdb: price: /);
    const quantity = expectUsageLine(await run(['cart', 'add-product', 'c1', 'p1', '--price', '1', '--quantity', '0'], { tty: true, env: LOCAL }));
    expect(quantity).toMatch(/^shopdb: quantity: /);
  });

  it('a bad id is refused before DynamoDB is asked', async () => {
    const line = expectUsageLine(await run(['order', 'create', ' o1', '--user', 'u', '--amount', '1'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: orderId: /);
  });

  it('an unknown status is refused before DynamoDB is asked', async () => {
    const line = expectUsageLine(await run(['order', 'set-status', 'o1', 'paid'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: status: /);
  });

  it('tables delete without --yes is refused', async () => {
    const line = expectUsageLine(await run(['tables', 'delete'], { tty: true, env: LOCAL }));
    expect(line).toContain('--yes');
  });

  it('tables create --billing on-demand --rcu 3 is refused', async () => {
    const line = expectUsageLine(await run(['tables', 'create', '--billing', 'on-demand', '--rcu', '3'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: billing: /);
  });

  it('tables create --billing with an unknown mode is refused', async () => {
    const line = expectUsageLine(await run(['tables', 'create', '--billing', 'free'], { tty: true, env: LOCAL }));
    expect(line).toContain('free');
  });

  it('tables create --rcu 0 is refused', async () => {
    const line = expectUsageLine(await run(['tables', 'create', '--rcu', '0'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: rcu: /);
  });

  it('--output xml is refused', async () => {
    const line = expectUsageLine(await run(['--output', 'xml', 'tables', 'status'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: output: /);
  });

  it('--json with --output table is refused', async () => {
    const error = expectJsonError(await run(['--json', '--output', 'table', 'tables', 'status'], { env: LOCAL }), 'BAD_INPUT');
    expect(error.message).toMatch(/^output: /);
  });

  it.each([['ftp://x'], ['not a url'], ['http://user:pw@host']])('--endpoint %j is refused naming endpoint', async (endpoint) => {
    const line = expectUsageLine(await run(['--endpoint', endpoint, 'tables', 'status'], { tty: true }));
    expect(line).toMatch(/^shopdb: endpoint: /);
    expect(line).not.toContain('pw@');
  });

  it('a bad --timeout is refused', async () => {
    const line = expectUsageLine(await run(['--timeout', '0', 'tables', 'status'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: timeout: /);
  });

  it.each([['a b'], ['bad/prefix']])('table prefix %j is refused', async (prefix) => {
    const line = expectUsageLine(await run(['--table-prefix', prefix, 'tables', 'status'], { tty: true, env: LOCAL }));
    expect(line).toMatch(/^shopdb: table-prefix: /);
  });

  it('a table prefix from SHOPDB_TABLE_PREFIX is checked too', async () => {
    const line = expectUsageLine(await run(['order', 'get', 'o1'], { tty: true, env: { ...LOCAL, SHOPDB_TABLE_PREFIX: 'a b' } }));
    expect(line).toMatch(/^shopdb: table-prefix: /);
  });
});

describe('JSON mode errors', () => {
  it('--json: a bad amount is one {"error":…} line on stderr and stdout is empty', async () => {
    const result = await run(['--json', 'order', 'create', 'o1', '--user', 'u', '--amount', '-1'], { tty: true, env: LOCAL });
    expect(result.code).toBe(2);
    const error = expectJsonError(result, 'BAD_INPUT');
    expect(error.message).toMatch(/^amount: /);
  });

  it('--json works after the subcommand too', async () => {
    const result = await run(['order', 'create', 'o1', '--user', 'u', '--amount', '-1', '--json'], { tty: true, env: LOCAL });
    expect(result.code).toBe(2);
    expectJsonError(result, 'BAD_INPUT');
  });

  it('--output json selects JSON errors', async () => {
    const result = await run(['--output', 'json', 'tables', 'delete'], { tty: true, env: LOCAL });
    expect(result.code).toBe(2);
    expect(expectJsonError(result, 'BAD_INPUT').message).toMatch(/^yes: /);
  });

  it('piped (no TTY) defaults to JSON errors', async () => {
    const result = await run(['tables', 'create', '--billing', 'on-demand', '--rcu', '3'], { tty: false, env: LOCAL });
    expect(result.code).toBe(2);
    expectJsonError(result, 'BAD_INPUT');
  });

  it('commander errors are JSON in JSON mode as well', async () => {
    const unknown = await run(['--json', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(expectJsonError(unknown, 'BAD_INPUT').message).toContain('frobnicate');

    const missing = await run(['--json', 'order', 'create', '--user', 'u1'], { env: LOCAL });
    expect(missing.code).toBe(2);
    expect(expectJsonError(missing, 'BAD_INPUT').message).toContain('--amount');
  });

  it('--output xml in a pipe is a JSON error', async () => {
    const result = await run(['--output', 'xml', 'tables', 'status'], { env: LOCAL });
    expect(result.code).toBe(2);
    expect(expectJsonError(result, 'BAD_INPUT').message).toMatch(/^output: /);
  });
});

describe('verbose', () => {
  it('--verbose still leads with the one-line message, and a plain run adds nothing after it', async () => {
    const verbose = await run(['--verbose', 'tables', 'delete'], { tty: true, env: LOCAL });
    expect(verbose.code).toBe(2);
    expect(verbose.stdout).toBe('');
    expect(verbose.stderr.split('\n')[0]).toMatch(/^shopdb: yes: .*--yes/);
    // Usage errors get no stack trace, even with --verbose.
    expect(verbose.stderr).not.toContain('    at ');
    const plain = await run(['tables', 'delete'], { tty: true, env: LOCAL });
    expect(plain.stderr).toBe(`${verbose.stderr.split('\n')[0]}\n`);
  });
});
