import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { rawClient, scanAll } from '../support/dynamo.js';

/*
 * A table of bad invocations across every command and global option. Each one
 * must be refused as bad input (exit 2, README "Errors and exit codes") before
 * anything is written or started: one error line on stderr that names the
 * field, nothing on stdout, no stack trace. Rows alternate between the two
 * output formats: piped with the default output (a JSON error object) and with
 * SHOPDB_OUTPUT=table (a `shopdb: ` line), unless the row pins the format.
 */

const prefix = uniquePrefix('hostile');
const client = rawClient();
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
/** Real items, so rows that name them exercise validation against existing ids. */
const ORDER = 'h-order';
const CART = 'h-cart';
const PRODUCT = 'sku-1';
const CONCURRENCY = 8;

/** `shopdb local` keeps its state here: nothing may ever be written to it by these rows. */
const localHome = mkdtempSync(join(tmpdir(), 'shopdb-hostile-home-'));

interface Case {
  /** Shown in test names; the args themselves may be 100 KB long. */
  label: string;
  args: string[];
  /** What the error line must mention: the field, flag or command at fault. */
  names: string;
  env?: Record<string, string>;
  /** Must not appear anywhere in the output (e.g. a password inside a malformed URL). */
  secret?: string;
}

const KB100 = 'k'.repeat(100 * 1024);
const AMOUNTS: Array<[string, string]> = [
  ['-1', 'negative'],
  ['0.001', 'three decimals'],
  ['1e400', 'exponent'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['0x10', 'hex'],
  ['1,5', 'decimal comma'],
  ['', 'empty'],
  ['1'.repeat(40), '40 digits'],
  ['+1', 'leading plus'],
  [' 1', 'leading space'],
  ['1 ', 'trailing space'],
  ['1.', 'trailing point'],
  ['.5', 'no integer part'],
  ['１２', 'full-width digits'],
  ['9'.repeat(100 * 1024), '100 KB of digits'],
];
const QUANTITIES: Array<[string, string]> = [
  ['0', 'zero'],
  ['-1', 'negative'],
  ['1.5', 'fraction'],
  ['9007199254740993', '2^53+1'],
  ['1000001', 'above the maximum'],
  ['abc', 'not a number'],
  ['', 'empty'],
  ['1e3', 'exponent'],
  ['0x10', 'hex'],
];
const IDS: Array<[string, string]> = [
  ['', 'empty'],
  ['   ', 'whitespace only'],
  ['x'.repeat(2049), '2049 ASCII bytes'],
  ['€'.repeat(683), '2049 bytes of 3-byte characters'],
  ['é'.repeat(1024) + 'x', '2049 bytes of 2-byte characters'],
  ['a\u0001b', 'U+0001'],
  ['a\nb', 'newline'],
  ['a\tb', 'tab'],
  ['a\u007fb', 'DEL'],
  ['a\u0085b', 'C1 NEL'],
  ['a\u2028b', 'line separator'],
  [' lead', 'leading space'],
  ['trail ', 'trailing space'],
  [KB100, '100 KB'],
];
/** A smaller set for positions where the full set would only repeat the same validator. */
const SOME_IDS = IDS.filter(([, what]) => ['empty', 'whitespace only', '2049 bytes of 3-byte characters', 'newline', 'trailing space', '100 KB'].includes(what));

function cases(): Case[] {
  const rows: Case[] = [];
  const add = (label: string, args: string[], names: string, extra: Partial<Case> = {}) => rows.push({ label, args, names, ...extra });

  // Money, in both places it is typed.
  for (const [amount, what] of AMOUNTS) {
    add(`order create: amount ${what}`, ['order', 'create', 'h-new', '--user', 'u1', '--amount', amount], 'amount');
    add(`cart add-product: price ${what}`, ['cart', 'add-product', CART, 'sku-new', '--price', amount], 'price');
  }
  add('order create: bad amount on an existing order', ['order', 'create', ORDER, '--user', 'u1', '--amount', '10.001'], 'amount');
  add('order create: --amount=-1 (attached form)', ['order', 'create', 'h-new', '--user', 'u1', '--amount=-1'], 'amount');

  for (const [quantity, what] of QUANTITIES) {
    add(`cart add-product: quantity ${what} (line exists)`, ['cart', 'add-product', CART, PRODUCT, '--price', '2.50', '--quantity', quantity], 'quantity');
  }
  add('cart add-product: quantity 0 for a new product', ['cart', 'add-product', CART, 'sku-new', '--price', '1', '--quantity', '0'], 'quantity');

  // Statuses, as the target and as --expect.
  for (const [status, what] of [['paid', 'lower case'], ['Paid', 'mixed case'], ['SHIPPING', 'unknown'], ['', 'empty'], [' PAID', 'padded'], ['PAID\n', 'newline']] as const) {
    add(`order set-status: target ${what}`, ['order', 'set-status', ORDER, status], 'status');
    add(`order set-status: --expect ${what}`, ['order', 'set-status', ORDER, 'PAID', '--expect', status], 'expect');
  }
  add('order set-status: lower-case target with --force', ['order', 'set-status', ORDER, 'cancelled', '--force'], 'status');

  // Ids in every position that takes one.
  for (const [id, what] of IDS) {
    add(`order get: orderId ${what}`, ['order', 'get', id], 'orderId');
    add(`cart get: cartId ${what}`, ['cart', 'get', id, '--strong'], 'cartId');
    add(`cart add-product: productId ${what}`, ['cart', 'add-product', CART, id, '--price', '1'], 'productId');
    add(`order create: --user ${what}`, ['order', 'create', 'h-new', '--user', id, '--amount', '1'], 'userId');
  }
  for (const [id, what] of SOME_IDS) {
    add(`order create: orderId ${what}`, ['order', 'create', id, '--user', 'u1', '--amount', '1'], 'orderId');
    add(`order set-status: orderId ${what}`, ['order', 'set-status', id, 'PAID'], 'orderId');
    add(`cart create: cartId ${what}`, ['cart', 'create', id, '--user', 'u1'], 'cartId');
    add(`cart create: --user ${what}`, ['cart', 'create', 'h-new-cart', '--user', id], 'userId');
    add(`cart add-product: cartId ${what}`, ['cart', 'add-product', id, PRODUCT, '--price', '2.50'], 'cartId');
  }
  add('order create: existing order, other user with a control character', ['order', 'create', ORDER, '--user', 'u\u00011', '--amount', '10'], 'userId');
  add('cart create: existing cart, user with trailing space', ['cart', 'create', CART, '--user', 'u1 '], 'userId');

  // Product names.
  for (const [name, what] of [['', 'empty'], ['   ', 'blank'], ['Tea\u0001mug', 'U+0001'], ['Tea\nmug', 'newline'], ['Tea\u007fmug', 'DEL'], ['n'.repeat(1001), '1001 characters']] as const) {
    add(`cart add-product: name ${what}`, ['cart', 'add-product', CART, 'sku-new', '--price', '1', '--name', name], 'name');
  }

  // Unknown flags, commands and subcommands.
  add('unknown flag on a subcommand', ['order', 'get', ORDER, '--bogus'], '--bogus');
  add('unknown global flag', ['--bogus', 'order', 'get', ORDER], '--bogus');
  add('unknown short flag', ['-x', 'order', 'get', ORDER], '-x');
  add('flag of another command', ['cart', 'create', CART, '--user', 'u1', '--amount', '1'], '--amount');
  add('--yes on tables status', ['tables', 'status', '--yes'], '--yes');
  add('value on a boolean flag', ['order', 'get', ORDER, '--strong=yes'], '--strong');
  add('value on --no-color', ['--no-color=x', 'order', 'get', ORDER], '--no-color');
  add('unknown command', ['ordr', 'get', ORDER], 'ordr');
  add('empty command', [''], "unknown command ''");
  add('unknown order subcommand', ['order', 'frob'], 'frob');
  add('unknown tables subcommand', ['tables', 'drop'], 'drop');
  add('unknown cart subcommand', ['cart', 'empty', CART], 'empty');
  add('unknown local subcommand', ['local', 'restart'], 'restart', { env: { SHOPDB_HOME: localHome } });
  add('unknown flag on local status', ['local', 'status', '--port', '1'], '--port', { env: { SHOPDB_HOME: localHome } });

  // Missing options and arguments.
  add('order create without --user', ['order', 'create', 'h-new', '--amount', '1'], '--user');
  add('order create without --amount', ['order', 'create', 'h-new', '--user', 'u1'], '--amount');
  add('order create: --user without a value', ['order', 'create', 'h-new', '--user'], '--user');
  add('order create: --amount without a value', ['order', 'create', 'h-new', '--user', 'u1', '--amount'], '--amount');
  add('order get without an id', ['order', 'get'], 'orderId');
  add('order set-status without a status', ['order', 'set-status', ORDER], 'status');
  add('order set-status: --expect without a value', ['order', 'set-status', ORDER, 'PAID', '--expect'], '--expect');
  add('cart create without --user', ['cart', 'create', CART], '--user');
  add('cart get without an id', ['cart', 'get'], 'cartId');
  add('cart add-product without a product', ['cart', 'add-product', CART, '--price', '1'], 'productId');
  add('cart add-product without --price', ['cart', 'add-product', CART, PRODUCT], '--price');
  add('--endpoint without a value', ['order', 'get', ORDER, '--endpoint'], '--endpoint');
  add('tables delete without --yes', ['tables', 'delete'], '--yes');

  // Too many arguments.
  add('order get with two ids', ['order', 'get', ORDER, 'extra'], "'get'");
  add('order set-status with an extra argument', ['order', 'set-status', ORDER, 'PAID', 'extra'], "'set-status'");
  add('cart create with an extra argument', ['cart', 'create', CART, 'extra', '--user', 'u1'], "'create'");
  add('cart add-product with an extra argument', ['cart', 'add-product', CART, PRODUCT, 'extra', '--price', '2.50'], "'add-product'");
  add('tables create with an argument', ['tables', 'create', 'extra'], "'create'");
  add('tables delete --yes with an argument', ['tables', 'delete', '--yes', 'extra'], "'delete'");
  add('local stop with an argument', ['local', 'stop', 'now'], "'stop'", { env: { SHOPDB_HOME: localHome } });
  add('local status with an argument', ['local', 'status', 'now'], "'status'", { env: { SHOPDB_HOME: localHome } });

  // Conflicting flags.
  add('--json with --output table', ['--json', '--output', 'table', 'order', 'get', ORDER], 'output');
  add('on-demand billing with --rcu', ['tables', 'create', '--billing', 'on-demand', '--rcu', '5'], 'billing');
  add('on-demand billing with --wcu', ['tables', 'create', '--billing', 'on-demand', '--wcu', '5'], 'billing');
  add('local start --in-memory with --data-dir', ['local', 'start', '--in-memory', '--data-dir', join(localHome, 'x')], 'data-dir', { env: { SHOPDB_HOME: localHome } });

  // Table capacity.
  for (const billing of ['bogus', '', 'PROVISIONED', 'ondemand']) add(`tables create --billing ${JSON.stringify(billing)}`, ['tables', 'create', '--billing', billing], '--billing');
  for (const [flag, value] of [['--rcu', '0'], ['--rcu', 'abc'], ['--rcu', '1.5'], ['--rcu', '40001'], ['--wcu', '-5'], ['--wcu', '']] as const) {
    add(`tables create ${flag} ${JSON.stringify(value)}`, ['tables', 'create', flag, value], flag.slice(2));
  }

  // Global options, on several commands.
  const on = (i: number): string[] => [['order', 'get', ORDER], ['cart', 'get', CART], ['tables', 'status'], ['order', 'set-status', ORDER, 'PAID'], ['cart', 'add-product', CART, PRODUCT, '--price', '2.50']][i % 5] ?? [];
  const globals: Array<[string, string[], string, Partial<Case>?]> = [
    ['--endpoint ftp://x', ['--endpoint', 'ftp://x'], 'endpoint'],
    ['--endpoint "not a url"', ['--endpoint', 'not a url'], 'endpoint'],
    ['--endpoint with credentials', ['--endpoint', 'http://user:pw@host'], 'endpoint', { secret: 'user:pw' }],
    ['--endpoint empty', ['--endpoint', ''], 'endpoint'],
    ['--redis-url http://x', ['--redis-url', 'http://x'], 'redis-url'],
    ['--redis-url nonsense', ['--redis-url', 'nonsense'], 'redis-url'],
    ['--redis-url with a password and no host', ['--redis-url', 'redis://:hunter2@'], 'redis-url', { secret: 'hunter2' }],
    ['--redis-url with a password and a bad port', ['--redis-url', 'redis://:hunter2@127.0.0.1:99999'], 'redis-url', { secret: 'hunter2' }],
    ['--redis-url http with a password', ['--redis-url', 'http://:hunter2@127.0.0.1:6379'], 'redis-url', { secret: 'hunter2' }],
    ['--cache with an empty --redis-url', ['--cache', '--redis-url', ''], 'redis-url'],
    ['--region with a space', ['--region', 'US East'], 'region'],
    ['--region empty', ['--region', ''], 'region'],
    ['--region with shell syntax', ['--region', 'us-east-1;rm -rf'], 'region'],
    ['--timeout 0', ['--timeout', '0'], 'timeout'],
    ['--timeout abc', ['--timeout', 'abc'], 'timeout'],
    ['--timeout -1', ['--timeout', '-1'], 'timeout'],
    ['--timeout 601', ['--timeout', '601'], 'timeout'],
    ['--timeout empty', ['--timeout', ''], 'timeout'],
    ['--timeout 1e3', ['--timeout', '1e3'], 'timeout'],
    ['--cache-ttl 0', ['--cache-ttl', '0'], 'cache-ttl'],
    ['--cache-ttl abc', ['--cache-ttl', 'abc'], 'cache-ttl'],
    ['--cache-ttl 2592001', ['--cache-ttl', '2592001'], 'cache-ttl'],
    ['--cache-ttl 1.5', ['--cache-ttl', '1.5'], 'cache-ttl'],
    ['--table-prefix with a space', ['--table-prefix', 'a b'], 'table-prefix'],
    ['--table-prefix with a slash', ['--table-prefix', 'a/b'], 'table-prefix'],
    ['--table-prefix of 201 characters', ['--table-prefix', 'p'.repeat(201)], 'table-prefix'],
    ['--table-prefix non-ASCII', ['--table-prefix', 'ä-'], 'table-prefix'],
    ['--output xml', ['--output', 'xml'], 'output'],
    ['--output empty', ['--output', ''], 'output'],
    ['--verbose with an empty id', ['--verbose'], 'orderId'],
  ];
  globals.forEach(([label, flags, names, extra], i) => {
    const command = label.startsWith('--verbose') ? ['order', 'get', ''] : on(i);
    add(`${label} (${command.slice(0, 2).join(' ')})`, [...flags, ...command], names, extra);
  });
  // The same checks apply to settings from the environment.
  add('SHOPDB_ENDPOINT=ftp://x', ['order', 'get', ORDER], 'endpoint', { env: { SHOPDB_ENDPOINT: 'ftp://x' } });
  add('SHOPDB_TIMEOUT=abc', ['order', 'get', ORDER], 'SHOPDB_TIMEOUT', { env: { SHOPDB_TIMEOUT: 'abc' } });
  add('SHOPDB_OUTPUT=yaml', ['order', 'get', ORDER], 'output', { env: { SHOPDB_OUTPUT: 'yaml' } });
  add('REDIS_URL with a password, not a redis URL', ['cart', 'get', CART], 'REDIS_URL', { env: { REDIS_URL: 'https://:hunter2@cache.example' }, secret: 'hunter2' });
  add('SHOPDB_TABLE_PREFIX with a slash', ['tables', 'status'], 'table-prefix', { env: { SHOPDB_TABLE_PREFIX: 'a/b' } });
  // Global options are checked for the local commands too.
  add('local status --endpoint ftp://x', ['--endpoint', 'ftp://x', 'local', 'status'], 'endpoint', { env: { SHOPDB_HOME: localHome } });
  add('local start --timeout abc', ['--timeout', 'abc', 'local', 'start', '--port', '0'], 'timeout', { env: { SHOPDB_HOME: localHome } });

  // A bad port must be refused before anything starts.
  for (const port of ['-1', '70000', 'abc', '', '1.5', '0x10', '00', '65536']) {
    add(`local start --port ${JSON.stringify(port)}`, ['local', 'start', '--port', port, '--in-memory'], 'port', { env: { SHOPDB_HOME: localHome } });
  }
  return rows;
}

const CASES = cases();

interface Outcome {
  row: Case;
  mode: 'json' | 'table';
  run: Run;
}

/** The format the error must come in: a pinned flag wins, then the environment, then JSON because stdout is a pipe. */
function expectedMode(row: Case, envMode: 'json' | 'table'): 'json' | 'table' {
  const output = row.args.indexOf('--output');
  if (row.args.includes('--json')) return 'json';
  if (output !== -1 && (row.args[output + 1] === 'json' || row.args[output + 1] === 'table')) return row.args[output + 1] as 'json' | 'table';
  const env = row.env?.SHOPDB_OUTPUT ?? (envMode === 'table' ? 'table' : undefined);
  return env === 'table' ? 'table' : 'json';
}

async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index] as T);
      }
    }),
  );
  return results;
}

type Items = { orders: Array<Record<string, AttributeValue>>; carts: Array<Record<string, AttributeValue>> };

async function snapshot(): Promise<Items> {
  const byKey = (key: string) => (a: Record<string, AttributeValue>, b: Record<string, AttributeValue>) => String(a[key]?.S).localeCompare(String(b[key]?.S));
  return {
    orders: (await scanAll(client, ORDERS)).sort(byKey('orderId')),
    carts: (await scanAll(client, CARTS)).sort(byKey('cartId')),
  };
}

let before: Items;
let after: Items;
let outcomes: Outcome[] = [];
let elapsedMs = 0;

beforeAll(async () => {
  await createTables(prefix);
  const seeds = [
    ['order', 'create', ORDER, '--user', 'u1', '--amount', '10'],
    ['cart', 'create', CART, '--user', 'u1'],
    ['cart', 'add-product', CART, PRODUCT, '--price', '2.50', '--quantity', '2', '--name', 'Mug'],
  ];
  for (const args of seeds) {
    const run = await shopdb(args, { prefix });
    if (run.exitCode !== 0) throw new Error(`seeding failed: shopdb ${args.join(' ')} (${run.exitCode}): ${run.stderr}`);
  }

  before = await snapshot();
  const started = Date.now();
  const jobs = CASES.map((row, i) => ({ row, envMode: i % 2 === 0 ? ('json' as const) : ('table' as const) }));
  outcomes = await inPool(jobs, CONCURRENCY, async ({ row, envMode }) => ({
    row,
    mode: expectedMode(row, envMode),
    run: await shopdb(row.args, { prefix, env: { ...(envMode === 'table' ? { SHOPDB_OUTPUT: 'table' } : {}), ...row.env } }),
  }));
  elapsedMs = Date.now() - started;
  after = await snapshot();
}, 240_000);

afterAll(async () => {
  // Only if a row wrongly started DynamoDB Local: stop exactly that one.
  if (readdirSync(localHome).includes('engine.json')) await shopdb(['local', 'stop'], { env: { SHOPDB_HOME: localHome } });
  rmSync(localHome, { recursive: true, force: true });
  client.destroy();
  const table = outcomes.filter((outcome) => outcome.mode === 'table').length;
  const refused = outcomes.filter((outcome) => outcome.run.exitCode === 2).length;
  const verdict = refused === CASES.length ? 'all exit 2' : `only ${refused} exit 2`;
  console.log(`hostile input: ${CASES.length} cases (${outcomes.length - table} JSON, ${table} table output), ${verdict}, in ${(elapsedMs / 1000).toFixed(1)} s`);
});

describe('hostile input is refused as bad input', () => {
  it('covers at least 60 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((row) => row.label)).size).toBe(CASES.length);
  });

  it.each(CASES.map((row) => [row.label, row] as const))('%s', (_label, row) => {
    const runs = outcomes.filter((outcome) => outcome.row === row);
    expect(runs).toHaveLength(1);
    for (const { mode, run } of runs) {
      const context = `${row.label} [${mode}, exit ${run.exitCode}]: ${run.stderr.slice(0, 500)}`;
      expect(run.exitCode, context).toBe(2);
      expect(run.stdout, context).toBe('');
      expect(run.stderr, context).not.toMatch(/^\s+at /m);
      // execa strips the final newline.
      const lines = run.stderr.split('\n');
      expect(lines, context).toHaveLength(1);
      const line = lines[0] ?? '';
      let message: string;
      if (mode === 'json') {
        const parsed = JSON.parse(line) as { error?: { code?: unknown; message?: unknown } };
        expect(Object.keys(parsed), context).toEqual(['error']);
        expect(parsed.error?.code, context).toBe('BAD_INPUT');
        expect(typeof parsed.error?.message, context).toBe('string');
        message = String(parsed.error?.message);
      } else {
        expect(line, context).toMatch(/^shopdb: /);
        message = line.slice('shopdb: '.length);
      }
      expect(message, context).toContain(row.names);
      if (row.secret !== undefined) expect(run.stderr + run.stdout, context).not.toContain(row.secret);
    }
  });

  it('wrote nothing: both tables hold exactly what they held before, at the same versions', () => {
    expect(after).toEqual(before);
    expect(before.orders.map((item) => [item.orderId?.S, item.version?.N])).toEqual([[ORDER, '1']]);
    expect(before.carts.map((item) => [item.cartId?.S, item.version?.N])).toEqual([[CART, '2']]);
  });

  it('started nothing: the local state directory is still empty', () => {
    expect(readdirSync(localHome)).toEqual([]);
  });
});
