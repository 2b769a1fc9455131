/* eslint-disable no-control-regex -- these patterns match terminal escape sequences (ESC, BEL) on purpose */
/**
 * Every command that renders for humans, run from the built binary under a
 * real pseudo-terminal at 80 and 50 columns, with TERM=dumb and NO_COLOR:
 * what a person sees must fit the terminal, carry the key facts, and obey
 * the colour rules.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { ANY_ESCAPE, pty, SGR, STACK_LINE, type PtyOptions, type PtyRun } from '../support/pty.js';

const prefix = uniquePrefix('pty');
const LONG = 200;
const longCartId = `c-${'k'.repeat(LONG - 2)}`;
const longProductId = `p-${'q'.repeat(LONG - 2)}`;
const longName = `Hand-thrown ${'stoneware '.repeat(20)}mug`.slice(0, LONG);
const work = mkdtempSync(join(tmpdir(), 'shopdb-pty-'));

const DUMB = { TERM: 'dumb' };
const NO_COLOR = { NO_COLOR: '1' };

beforeAll(async () => {
  await createTables(prefix);
  const seed = async (args: string[]) => {
    const run = await shopdb(args, { prefix });
    if (run.exitCode !== 0) throw new Error(`${args.join(' ')} failed (${run.exitCode}): ${run.stderr}`);
  };
  await seed(['order', 'create', 'o-seen', '--user', 'u-pty', '--amount', '1234.50']);
  await seed(['cart', 'create', 'c-seen', '--user', 'u-pty']);
  await seed(['cart', 'add-product', 'c-seen', 'sku-mug', '--price', '19.99', '--quantity', '3', '--name', 'Tea mug']);
  await seed(['cart', 'add-product', 'c-seen', 'sku-pen', '--price', '0.10']);
  await seed(['cart', 'create', longCartId, '--user', 'u-pty']);
  await seed(['cart', 'add-product', longCartId, 'sku-long-name', '--price', '5.00', '--quantity', '2', '--name', longName]);
  await seed(['cart', 'add-product', longCartId, longProductId, '--price', '99999999999999999.99', '--quantity', '3', '--name', 'Gold']);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Expectation {
  exitCode?: number;
  /** Text a person must be able to read on the screen. */
  facts?: string[];
  /** 'present': colour codes appear; 'absent': no SGR code at all; 'no-escapes': no escape sequence of any kind (TERM=dumb). */
  colour?: 'present' | 'absent' | 'no-escapes';
}

/** The rules every human-facing run obeys, plus what this run must show. */
function expectHuman(run: PtyRun, expected: Expectation = {}): void {
  const context = `screen at ${run.columns} columns:\n${run.text}`;
  expect(run.scriptErrors, 'script(1) itself failed').toBe('');
  expect(run.exitCode, context).toBe(expected.exitCode ?? 0);
  // Messages (`shopdb: …`) are left to the terminal to wrap, so a hint in them stays one command to copy.
  expect(run.overflows.filter((line) => !line.startsWith('shopdb: ')), `lines wider than ${run.columns} columns; ${context}`).toEqual([]);
  expect(run.text, context).not.toMatch(STACK_LINE);
  expect(run.text, context).not.toMatch(/unexpected error:|please report it/i);
  for (const fact of expected.facts ?? []) expect(run.text, context).toContain(fact);
  if (expected.colour === 'present') expect(run.raw, context).toMatch(SGR);
  if (expected.colour === 'absent' || expected.colour === 'no-escapes') expect(run.raw, context).not.toMatch(SGR);
  if (expected.colour === 'no-escapes') expect(JSON.stringify(run.raw.match(/\x1b.{0,8}/g) ?? []), context).toBe('[]');
}

/** An error is one line on stderr; prose lines are the terminal's to wrap, so their width is not checked. */
function expectError(run: PtyRun, exitCode: number, fact: string): void {
  const context = `screen at ${run.columns} columns:\n${run.text}`;
  expect(run.exitCode, context).toBe(exitCode);
  // The message line as written (the terminal may have wrapped it on screen).
  expect(run.raw.replace(/\x1b\[[0-9;]*m/g, ''), context).toContain(fact);
  expect(run.text, context).not.toMatch(STACK_LINE);
  expect(run.text, context).not.toMatch(/unexpected error:|please report it/i);
  expect(run.raw.split('\n').filter((line) => line.startsWith('shopdb: ')), context).toHaveLength(1);
  expect(run.overflows.filter((line) => !line.startsWith('shopdb: ')), context).toEqual([]);
}

/** Removes spaces and box-drawing characters, so an id wrapped inside a table cell reads as one string again. */
function unboxed(text: string): string {
  return text.replace(/[\s│┌┐└┘├┤┬┴┼─]/g, '');
}

const run = (args: string[], options: PtyOptions = {}) => pty(args, { prefix, ...options });

describe('tables create, status and delete', () => {
  const own = uniquePrefix('ptyt');
  const names = [`${own}EcommerceOrders`, `${own}EcommerceCarts`, `${own}EcommerceIdempotencyKeys`];

  it('draw a coloured table at 80 columns and fit 50 columns, TERM=dumb and NO_COLOR', async () => {
    const created = await pty(['tables', 'create', '--billing', 'on-demand'], { prefix: own, columns: 80 });
    expectHuman(created, { facts: [...names, 'created', 'ACTIVE', 'expiresAt', 'ENABLED'], colour: 'present' });

    const [narrow, dumb, plain] = await Promise.all([
      pty(['tables', 'status'], { prefix: own, columns: 50 }),
      pty(['tables', 'status'], { prefix: own, columns: 50, env: DUMB }),
      pty(['tables', 'status'], { prefix: own, columns: 80, env: NO_COLOR }),
    ]);
    expectHuman(narrow, { facts: [...names, 'present', 'ACTIVE', 'on-demand', 'expiresAt', 'ENABLED'], colour: 'present' });
    expectHuman(dumb, { facts: [...names, 'ACTIVE'], colour: 'no-escapes' });
    expectHuman(plain, { facts: [...names, 'ACTIVE'], colour: 'absent' });

    const deleted = await pty(['tables', 'delete', '--yes'], { prefix: own, columns: 50 });
    expectHuman(deleted, { facts: [...names, 'deleted'], colour: 'present' });
    const missing = await pty(['tables', 'status', '--no-color'], { prefix: own, columns: 50 });
    expectError(missing, 3, 'tables create');
    expect(missing.text).toContain('MISSING');
    expect(missing.raw).not.toMatch(SGR);
  });

  it('right-align the item counts', async () => {
    const status = await run(['tables', 'status'], { columns: 80 });
    expectHuman(status, { facts: ['Items'] });
    // The first table's rows (the tables of indexes and streams, and the warnings about streams, follow it).
    const counts = status.screen.filter((line) => line.includes(prefix) && line.includes('│')).slice(0, 3).map((line) => line.split('│').at(-2) ?? '');
    expect(counts).toHaveLength(3);
    for (const cell of counts) expect(cell).toMatch(/^ +\d+ $/);
  });
});

describe('orders', () => {
  it('order create prints a coloured confirmation; TERM=dumb prints none', async () => {
    const [coloured, dumb] = await Promise.all([
      run(['order', 'create', 'o-pty-1', '--user', 'u-pty', '--amount', '59.97'], { columns: 80 }),
      run(['order', 'create', 'o-pty-2', '--user', 'u-pty', '--amount', '59.97'], { columns: 50, env: DUMB }),
    ]);
    expectHuman(coloured, { facts: ['o-pty-1', 'u-pty', '59.97', 'PENDING'], colour: 'present' });
    expectHuman(dumb, { facts: ['o-pty-2', '59.97', 'PENDING'], colour: 'no-escapes' });
  });

  it('order get fits 80 and 50 columns, with and without colour', async () => {
    const [wide, narrow, dumb, plain] = await Promise.all([
      run(['order', 'get', 'o-seen'], { columns: 80 }),
      run(['order', 'get', 'o-seen'], { columns: 50 }),
      run(['order', 'get', 'o-seen'], { columns: 50, env: DUMB }),
      run(['order', 'get', 'o-seen'], { columns: 50, env: NO_COLOR }),
    ]);
    const facts = ['o-seen', 'u-pty', '1234.50', 'PENDING'];
    expectHuman(wide, { facts, colour: 'present' });
    expectHuman(narrow, { facts, colour: 'present' });
    expectHuman(dumb, { facts, colour: 'no-escapes' });
    expectHuman(plain, { facts, colour: 'absent' });
  });

  it('order set-status prints the new status', async () => {
    await shopdb(['order', 'create', 'o-pty-paid', '--user', 'u-pty', '--amount', '1'], { prefix });
    const paid = await run(['order', 'set-status', 'o-pty-paid', 'PAID'], { columns: 50 });
    expectHuman(paid, { facts: ['o-pty-paid', 'PAID', 'version 2'], colour: 'present' });
    const again = await run(['order', 'set-status', 'o-pty-paid', 'PAID', '--no-color'], { columns: 50 });
    expectHuman(again, { facts: ['already', 'PAID'], colour: 'absent' });
  });

  it('an order with a 200-character id fits 50 columns and shows the whole id', async () => {
    const id = `o-${'z'.repeat(LONG - 2)}`;
    const created = await run(['order', 'create', id, '--user', 'u-pty', '--amount', '3.00'], { columns: 50 });
    expectHuman(created, { facts: ['3.00'] });
    expect(unboxed(created.text)).toContain(id);
    const got = await run(['order', 'get', id], { columns: 50 });
    expectHuman(got, { facts: ['3.00', 'PENDING'] });
    expect(unboxed(got.text)).toContain(id);
  });
});

describe('carts', () => {
  it('cart create and add-product confirm in colour, and fit 50 columns', async () => {
    const created = await run(['cart', 'create', 'c-pty', '--user', 'u-pty'], { columns: 50 });
    expectHuman(created, { facts: ['c-pty', 'u-pty'], colour: 'present' });
    const added = await run(['cart', 'add-product', 'c-pty', 'sku-42', '--price', '19.99', '--quantity', '3', '--name', 'Tea mug'], { columns: 50 });
    expectHuman(added, { facts: ['sku-42', 'c-pty', '59.97'], colour: 'present' });
    const dumb = await run(['cart', 'add-product', 'c-pty', 'sku-42', '--price', '19.99'], { columns: 50, env: DUMB });
    expectHuman(dumb, { facts: ['79.96'], colour: 'no-escapes' });
  });

  it('cart get shows every line, quantities and totals at 80 and 50 columns', async () => {
    const [wide, narrow, dumb, plain] = await Promise.all([
      run(['cart', 'get', 'c-seen'], { columns: 80 }),
      run(['cart', 'get', 'c-seen'], { columns: 50 }),
      run(['cart', 'get', 'c-seen'], { columns: 50, env: DUMB }),
      run(['cart', 'get', 'c-seen'], { columns: 80, env: NO_COLOR }),
    ]);
    const facts = ['c-seen', 'u-pty', 'sku-mug', 'Tea mug', '19.99', '59.97', 'sku-pen', '0.10', '60.07'];
    expectHuman(wide, { facts, colour: 'present' });
    expectHuman(narrow, { facts, colour: 'present' });
    expectHuman(dumb, { facts, colour: 'no-escapes' });
    expectHuman(plain, { facts, colour: 'absent' });
  });

  it('right-aligns quantities and amounts in the product lines', async () => {
    const wide = await run(['cart', 'get', 'c-seen'], { columns: 80 });
    const pen = wide.screen.find((line) => line.includes('sku-pen'));
    const cells = pen?.split('│').slice(1, -1) ?? [];
    expect(cells, wide.text).toHaveLength(5);
    for (const number of cells.slice(2)) expect(number, wide.text).toMatch(/^ +[\d.]+ $/);
  });

  it('a cart with a 200-character id, product id and name does not wrap at 50 columns', async () => {
    const [narrow, wide, dumb] = await Promise.all([
      run(['cart', 'get', longCartId], { columns: 50 }),
      run(['cart', 'get', longCartId], { columns: 80 }),
      run(['cart', 'get', longCartId], { columns: 50, env: DUMB }),
    ]);
    // Amounts and ids are never cut: nothing identifies or counts wrongly.
    const facts = ['u-pty', '5.00', '10.00', '99999999999999999.99', '299999999999999999.97', '300000000000000009.97'];
    expectHuman(narrow, { facts, colour: 'present' });
    expectHuman(wide, { facts });
    expectHuman(dumb, { facts, colour: 'no-escapes' });
    for (const screen of [narrow, wide, dumb]) {
      expect(unboxed(screen.text)).toContain(longCartId);
      expect(unboxed(screen.text)).toContain(longProductId);
      expect(screen.text).toContain('Hand-thrown');
    }
    const added = await run(['cart', 'add-product', longCartId, longProductId, '--price', '99999999999999999.99'], { columns: 50 });
    expectHuman(added, { facts: ['400000000000000009.96'] });
  });

  it('wide characters (CJK, emoji) count two columns and still fit 50 columns', async () => {
    const wideName = '抹茶茶碗（手作り）🍵'.repeat(4);
    await shopdb(['cart', 'create', 'c-wide', '--user', 'ユーザー'], { prefix });
    await shopdb(['cart', 'add-product', 'c-wide', '茶碗-1', '--price', '12.00', '--name', wideName], { prefix });
    const [narrow, wide] = await Promise.all([run(['cart', 'get', 'c-wide'], { columns: 50 }), run(['cart', 'get', 'c-wide'], { columns: 80 })]);
    expectHuman(narrow, { facts: ['ユーザー', '茶碗-1', '抹茶', '12.00'] });
    expectHuman(wide, { facts: ['ユーザー', '茶碗-1', '抹茶', '12.00'] });
  });

  it('cart get of a cart without products says so', async () => {
    await shopdb(['cart', 'create', 'c-empty', '--user', 'u-pty'], { prefix });
    expectHuman(await run(['cart', 'get', 'c-empty'], { columns: 50 }), { facts: ['c-empty', '0.00', 'no products'], colour: 'present' });
  });
});

describe('errors a person meets', () => {
  it('not found, bad input and an unreachable endpoint: one line, the documented exit code, no stack', async () => {
    const [missing, badAmount, unreachable, dumbMissing, unknownOption] = await Promise.all([
      run(['order', 'get', 'o-absent'], { columns: 50 }),
      run(['order', 'create', '--user', 'u-pty', '--amount', 'abc'], { columns: 50 }),
      run(['--endpoint', 'http://127.0.0.1:1', '--timeout', '2', 'cart', 'get', 'c-seen'], { columns: 80 }),
      run(['cart', 'get', 'c-absent'], { columns: 50, env: DUMB }),
      run(['cart', 'get', 'c-seen', '--colour'], { columns: 50 }),
    ]);
    expectError(missing, 3, 'o-absent');
    expectError(badAmount, 2, 'amount');
    expectError(unreachable, 5, 'http://127.0.0.1:1');
    expectError(dumbMissing, 3, 'c-absent');
    expect(dumbMissing.raw).not.toMatch(ANY_ESCAPE);
    expectError(unknownOption, 2, '--colour');
  });
});

describe('--help', () => {
  it.each([
    [['--help']],
    [['order', '--help']],
    [['order', 'set-status', '--help']],
    [['cart', 'add-product', '--help']],
    [['tables', 'create', '--help']],
  ])('%j fits 80 and 50 columns', async (args) => {
    const [wide, narrow] = await Promise.all([run(args, { columns: 80 }), run(args, { columns: 50, env: DUMB })]);
    expectHuman(wide, { facts: ['Usage:', 'Options:'] });
    expectHuman(narrow, { facts: ['Usage:', 'Options:'], colour: 'no-escapes' });
  });
});

describe('local start, status and stop', () => {
  const home = join(work, 'home');

  afterAll(async () => {
    // Whatever happened above, leave no engine behind.
    await shopdb(['local', 'stop'], { env: { SHOPDB_HOME: home } });
  });

  it('start draws a spinner that fits 50 columns, status and stop confirm', async () => {
    const env = { SHOPDB_HOME: home, SHOPDB_ENDPOINT: undefined };
    const before = await pty(['local', 'status'], { columns: 50, env });
    expectError(before, 3, 'local start');

    const started = await pty(['local', 'start', '--in-memory', '--port', '0'], { columns: 50, env, timeoutMs: 90_000 });
    expectHuman(started, { facts: ['DynamoDB Local started', 'export SHOPDB_ENDPOINT=http://127.0.0.1:'], colour: 'present' });
    const endpoint = /export SHOPDB_ENDPOINT=(\S+)/.exec(started.text)?.[1] ?? '';

    const [status, dumbStatus] = await Promise.all([pty(['local', 'status'], { columns: 50, env }), pty(['local', 'status'], { columns: 50, env: { ...env, ...DUMB } })]);
    expectHuman(status, { facts: [endpoint], colour: 'present' });
    expectHuman(dumbStatus, { facts: [endpoint], colour: 'no-escapes' });

    const stopped = await pty(['local', 'stop'], { columns: 50, env });
    expectHuman(stopped, { facts: ['Stopped DynamoDB Local', endpoint] });
  });
});

describe('import and export at a terminal', () => {
  const orders = join(work, 'orders.ndjson');
  const carts = join(work, 'carts.ndjson');

  beforeAll(() => {
    const now = '2026-01-01T00:00:00.000Z';
    const order = (i: number) => ({ orderId: `o-imp-${i}`, userId: 'u-imp', totalAmount: `${i}.00`, status: 'PENDING', createdAt: now, updatedAt: now, version: 1 });
    const cart = (i: number) => ({ cartId: `c-imp-${i}`, userId: 'u-imp', products: [{ productId: 'sku-1', name: 'Mug', quantity: i, unitPrice: '2.50' }], totalAmount: (2.5 * i).toFixed(2), createdAt: now, updatedAt: now, version: 1 });
    writeFileSync(orders, `${Array.from({ length: 300 }, (_, i) => JSON.stringify(order(i + 1))).join('\n')}\n`);
    writeFileSync(carts, `${Array.from({ length: 50 }, (_, i) => JSON.stringify(cart(i + 1))).join('\n')}\n`);
  });

  it('order import shows progress that fits 50 columns and prints its summary', async () => {
    const imported = await run(['order', 'import', orders], { columns: 50 });
    expectHuman(imported, { facts: ['read 300', 'written 300'] });
  });

  it('cart import works at 80 columns, with TERM=dumb and with NO_COLOR', async () => {
    const own = uniquePrefix('ptyi');
    await createTables(own);
    const wide = await pty(['cart', 'import', carts], { prefix: own, columns: 80 });
    expectHuman(wide, { facts: ['read 50', 'written 50'] });
    const [dumb, plain] = await Promise.all([
      pty(['cart', 'import', carts], { prefix: own, columns: 50, env: DUMB }),
      pty(['cart', 'import', carts], { prefix: own, columns: 50, env: NO_COLOR }),
    ]);
    expectHuman(dumb, { facts: ['read 50', 'skipped 50'], colour: 'no-escapes' });
    expectHuman(plain, { facts: ['read 50', 'skipped 50'], colour: 'absent' });
  });

  it('order export at a terminal prints every record and its count', async () => {
    const exported = await run(['order', 'export'], { columns: 50 });
    expect(exported.exitCode, exported.text).toBe(0);
    // Records are data, one JSON object per line, never cut; every other line fits.
    const records = exported.raw.split('\n').filter((line) => line.startsWith('{'));
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const record of records) expect(() => JSON.parse(record)).not.toThrow();
    expect(exported.text).toMatch(/exported \d+ orders/);
    expect(exported.overflows.filter((line) => !line.startsWith('{'))).toEqual([]);
    expect(exported.text).not.toMatch(/unexpected error/);
  });
});
