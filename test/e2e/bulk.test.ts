/**
 * `order import/export` and `cart import/export` through the built binary,
 * against the DynamoDB Local and redis-server of test/support/services.ts.
 * Every outcome is checked by reading back: `get --strong`, `export`, or a
 * raw (paginated, strongly consistent) scan with the SDK.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { execa } from 'execa';
import { createWriteStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BIN, createTables, shopdb, testEnv, uniquePrefix, type Run } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';

const client = rawClient();
const dir = mkdtempSync(join(tmpdir(), 'shopdb-bulk-'));

afterAll(() => {
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- records

interface Order {
  orderId: string;
  userId: string;
  totalAmount: string;
  status: string;
  createdAt: string | null;
  updatedAt: string | null;
  version: number | null;
  cartId: string | null;
  products: ProductLine[] | null;
}

interface ProductLine {
  productId: string;
  name: string | null;
  quantity: number;
  unitPrice: string;
}

interface Cart {
  cartId: string;
  userId: string;
  products: ProductLine[];
  totalAmount: string;
  createdAt: string | null;
  updatedAt: string | null;
  version: number | null;
  status: string | null;
  orderId: string | null;
}

interface Summary {
  read: number;
  written: number;
  skipped: number;
  failed: number;
}

/** The line `get --json` / `export` prints for an order: the contract's field order; no version given stays none (nothing invented). */
function orderLine(order: Order): string {
  const { orderId, userId, totalAmount, status, createdAt, updatedAt, version, cartId, products } = order;
  return JSON.stringify({ orderId, userId, totalAmount, status, createdAt, updatedAt, version, cartId, products });
}

function cartLine(cart: Cart): string {
  const { cartId, userId, totalAmount, createdAt, updatedAt, version, status, orderId } = cart;
  const products = (cart.products ?? []).map(({ productId, name, quantity, unitPrice }) => ({ productId, name, quantity, unitPrice }));
  return JSON.stringify({ cartId, userId, products, totalAmount, createdAt, updatedAt, version, status, orderId });
}

function order(orderId: string, fields: Partial<Order> = {}): Order {
  return { orderId, userId: 'u1', totalAmount: '19.99', status: 'PENDING', createdAt: '2026-01-31T12:00:00.000Z', updatedAt: null, version: 1, cartId: null, products: null, ...fields };
}

function cart(cartId: string, products: ProductLine[], fields: Partial<Cart> = {}): Cart {
  const totalAmount = fields.totalAmount ?? formatCents(sumCents(products));
  return { cartId, userId: 'u1', products, createdAt: '2026-01-31T12:00:00.000Z', updatedAt: null, version: 1, status: null, orderId: null, ...fields, totalAmount };
}

function line(productId: string, quantity: number, unitPrice: string, name: string | null = null): ProductLine {
  return { productId, name, quantity, unitPrice };
}

function toCents(amount: string): bigint {
  const [whole = '0', fraction = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

function formatCents(cents: bigint): string {
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

function sumCents(products: ProductLine[]): bigint {
  return products.reduce((total, p) => total + toCents(p.unitPrice) * BigInt(p.quantity), 0n);
}

function ndjson(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function writeInput(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, ndjson(lines));
  return path;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'];
const FIXED_AMOUNTS = ['99999999999999999.99', '0.10', '0.00', '0.01', '19.99', '1000000.00', '12345678901234567.89'];

interface Generated {
  /** What the import files hold: amounts not always in canonical form, optional fields sometimes absent, keys in varying order. */
  inputLines: string[];
  /** What export must print for them. */
  expected: string[];
}

function generateOrders(count: number, seed: number): Generated {
  const rnd = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const inputLines: string[] = [];
  const expected: string[] = [];
  for (let i = 0; i < count; i++) {
    const orderId = i % 97 === 0 ? `ord-ü-订单-${i}` : i % 89 === 0 ? `ord with spaces ${i}` : `ord-${String(i).padStart(5, '0')}`;
    const cents = i < FIXED_AMOUNTS.length * 3 ? toCents(FIXED_AMOUNTS[i % FIXED_AMOUNTS.length] as string) : BigInt(Math.floor(rnd() * 10_000_000));
    const canonical = formatCents(cents);
    // The same amount as people type it: "0.1", "5", "007.50" all mean an exact number of cents.
    const typed = i % 5 === 1 && cents % 10n === 0n ? canonical.replace(/0$/, '').replace(/\.$/, '') : i % 11 === 2 ? `00${canonical}` : canonical;
    const createdAt = i % 7 === 0 ? null : i % 13 === 0 ? '2026-03-01T08:09:10.123456789Z' : new Date(Date.UTC(2026, 0, 1) + Math.floor(rnd() * 3e10)).toISOString();
    const updatedAt = i % 3 === 0 ? null : '2026-06-30T23:59:59Z';
    const version = i % 10 === 0 ? null : 1 + Math.floor(rnd() * 50);
    const stored: Order = { orderId, userId: `user-${i % 37}`, totalAmount: canonical, status: pick(STATUSES), createdAt, updatedAt, version, cartId: null, products: null };
    expected.push(orderLine(stored));
    const input: Record<string, unknown> = { ...stored, totalAmount: typed };
    if (createdAt === null && i % 2 === 0) delete input.createdAt;
    if (version === null && i % 20 === 0) delete input.version;
    inputLines.push(JSON.stringify(i % 4 === 0 ? Object.fromEntries(Object.entries(input).reverse()) : input));
  }
  return { inputLines, expected };
}

function generateCarts(count: number, seed: number): Generated {
  const rnd = random(seed);
  const inputLines: string[] = [];
  const expected: string[] = [];
  // Long names make the table larger than one 1 MB scan page, so export has to follow LastEvaluatedKey.
  const longName = (n: number) => `Großes Produkt ${n} `.padEnd(1000, '☕');
  for (let i = 0; i < count; i++) {
    const products: ProductLine[] = [];
    if (i === 0) {
      products.push(line('sku-max', 1, '99999999999999999.99', 'the most expensive thing'));
    } else if (i === 1) {
      products.push(line('sku-dime', 3, '0.10', null));
    } else {
      const lines = 1 + Math.floor(rnd() * 5);
      for (let k = 0; k < lines; k++) {
        const name = i % 2 === 0 ? longName(k) : k % 3 === 0 ? null : `Produkt ${k} ☕`;
        products.push(line(`sku-${i}-${k}`, 1 + Math.floor(rnd() * 1000), formatCents(BigInt(Math.floor(rnd() * 10_000_000))), name));
      }
    }
    const stored = cart(`cart-${String(i).padStart(4, '0')}`, products, {
      userId: `user-${i % 23}`,
      createdAt: i % 6 === 0 ? null : '2026-02-01T10:00:00.000Z',
      updatedAt: i % 5 === 0 ? null : '2026-02-02T10:00:00.000Z',
      version: i % 9 === 0 ? null : 1 + Math.floor(rnd() * 30),
    });
    expected.push(cartLine(stored));
    // An absent name means no name; so do absent timestamps.
    const input = { ...stored, products: stored.products.map((p) => (p.name === null && i % 2 === 0 ? { productId: p.productId, quantity: p.quantity, unitPrice: p.unitPrice } : p)) } as Record<string, unknown>;
    if (stored.createdAt === null) delete input.createdAt;
    inputLines.push(JSON.stringify(input));
  }
  return { inputLines, expected };
}

// ---------------------------------------------------------------- helpers

function label(args: string[]): string {
  return args.map((arg) => (arg.length > 60 ? `${arg.slice(0, 60)}…` : arg)).join(' ');
}

async function run(prefix: string, args: string[], options: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  return shopdb(args, { prefix, ...options });
}

/** Runs an import that must succeed (exit 0) and returns its summary. */
async function importOk(prefix: string, kind: 'order' | 'cart', args: string[], input?: string): Promise<{ summary: Summary; run: Run }> {
  const result = await run(prefix, [kind, 'import', ...args], input === undefined ? {} : { input });
  expect(result.exitCode, `${kind} import ${label(args)}: ${result.stderr.slice(0, 2000)}`).toBe(0);
  return { summary: result.json<Summary>(), run: result };
}

async function exportLines(prefix: string, kind: 'order' | 'cart', extra: string[] = []): Promise<string[]> {
  const result = await run(prefix, [kind, 'export', ...extra]);
  expect(result.exitCode, `${kind} export ${extra.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout === '' ? [] : result.stdout.replace(/\n$/, '').split('\n');
}

async function get<T>(prefix: string, kind: 'order' | 'cart', id: string): Promise<T> {
  const result = await run(prefix, [kind, 'get', id, '--strong']);
  expect(result.exitCode, `${kind} get ${id}: ${result.stderr}`).toBe(0);
  return result.json<T>();
}

/** Every item of a table, all pages, strongly consistent, keyed by id. */
async function scanTable(table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const key = table.endsWith('EcommerceOrders') ? 'orderId' : 'cartId';
  const items = new Map<string, Record<string, AttributeValue>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.set(item[key]?.S ?? '', item);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

function sorted(lines: string[]): string[] {
  return [...lines].sort();
}

/** The messages of the JSON error objects shopdb printed on stderr. */
function errorMessages(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => (JSON.parse(text) as { error: { message: string } }).error.message);
}

/** The ids named by "already exists; skipped" warnings. */
function skippedIds(stderr: string, kind: 'order' | 'cart'): string[] {
  const pattern = new RegExp(`^shopdb: warning: ${kind} (.*) already exists; skipped`);
  return stderr.split('\n').flatMap((text) => {
    const match = pattern.exec(text);
    return match ? [match[1] as string] : [];
  });
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------- 1 + 8: round trip, segments

const ORDER_COUNT = 2000;
const CART_COUNT = 300;
const prefixA = uniquePrefix('bulk-a');
const prefixB = uniquePrefix('bulk-b');
const orders = generateOrders(ORDER_COUNT, 20261125);
const carts = generateCarts(CART_COUNT, 7);

/** Prefix A filled once (orders from a file, carts through stdin), shared by the round trip and the segment tests. */
let filledA: Promise<void> | undefined;
function fillA(): Promise<void> {
  filledA ??= (async () => {
    await createTables(prefixA);
    const started = performance.now();
    const ordersFile = writeInput('orders.ndjson', orders.inputLines);
    const [fromFile, fromStdin] = await Promise.all([
      importOk(prefixA, 'order', [ordersFile]),
      importOk(prefixA, 'cart', ['-'], ndjson(carts.inputLines)),
    ]);
    expect(fromFile.summary).toEqual({ read: ORDER_COUNT, written: ORDER_COUNT, skipped: 0, failed: 0 });
    expect(fromStdin.summary).toEqual({ read: CART_COUNT, written: CART_COUNT, skipped: 0, failed: 0 });
    console.log(`bulk: imported ${ORDER_COUNT} orders (file) and ${CART_COUNT} carts (stdin) into A in ${seconds(started)}`);
  })();
  return filledA;
}

describe('import and export round trip', () => {
  it('carries every field of 2,000 orders and 300 carts through file, stdin, export and a second table, money to the digit', async () => {
    await Promise.all([fillA(), createTables(prefixB)]);
    let started = performance.now();
    const [ordersA, cartsA] = await Promise.all([exportLines(prefixA, 'order'), exportLines(prefixA, 'cart')]);
    console.log(`bulk: exported A (${ordersA.length} orders, ${cartsA.length} carts) in ${seconds(started)}`);

    // A holds exactly what the files said, normalised: "0.1" → "0.10", absent fields → null, no version → null.
    expect(ordersA).toHaveLength(ORDER_COUNT);
    expect(new Set(ordersA).size).toBe(ORDER_COUNT);
    expect(sorted(ordersA)).toEqual(sorted(orders.expected));
    expect(cartsA).toHaveLength(CART_COUNT);
    expect(sorted(cartsA)).toEqual(sorted(carts.expected));

    // A's export into B: orders through stdin, carts from a file.
    started = performance.now();
    const cartsFile = writeInput('carts-export.ndjson', cartsA);
    const [intoB, cartsIntoB] = await Promise.all([
      importOk(prefixB, 'order', ['-'], ndjson(ordersA)),
      importOk(prefixB, 'cart', [cartsFile, '--concurrency', '3']),
    ]);
    expect(intoB.summary).toEqual({ read: ORDER_COUNT, written: ORDER_COUNT, skipped: 0, failed: 0 });
    expect(cartsIntoB.summary).toEqual({ read: CART_COUNT, written: CART_COUNT, skipped: 0, failed: 0 });
    const [ordersB, cartsB] = await Promise.all([exportLines(prefixB, 'order'), exportLines(prefixB, 'cart')]);
    console.log(`bulk: A → B import and export in ${seconds(started)}; B has ${ordersB.length} orders, ${cartsB.length} carts`);
    expect(sorted(ordersB)).toEqual(sorted(ordersA));
    expect(sorted(cartsB)).toEqual(sorted(cartsA));

    // Spot checks through `get --strong`.
    const big = JSON.parse(orders.expected[0] as string) as Order;
    expect(big.totalAmount).toBe('99999999999999999.99');
    expect(await get<Order>(prefixB, 'order', big.orderId)).toEqual(big);
    const dime = JSON.parse(orders.expected[1] as string) as Order;
    expect(dime.totalAmount).toBe('0.10');
    expect(await get<Order>(prefixB, 'order', dime.orderId)).toEqual(dime);
    const unicode = JSON.parse(orders.expected[97] as string) as Order;
    expect(await get<Order>(prefixB, 'order', unicode.orderId)).toEqual(unicode);
    expect(await get<Cart>(prefixB, 'cart', 'cart-0000')).toMatchObject({ totalAmount: '99999999999999999.99', products: [{ unitPrice: '99999999999999999.99', quantity: 1 }] });
    expect(await get<Cart>(prefixB, 'cart', 'cart-0001')).toMatchObject({ totalAmount: '0.30', products: [{ productId: 'sku-dime', name: null, quantity: 3, unitPrice: '0.10' }] });

    // And the stored form is a DynamoDB number, exact.
    const raw = await scanTable(`${prefixB}EcommerceOrders`);
    expect(raw.size).toBe(ORDER_COUNT);
    expect(raw.get(big.orderId)?.totalAmount).toEqual({ N: '99999999999999999.99' });
  });

  it('exports the same set of lines with 1, 3 and 8 segments', async () => {
    await fillA();
    for (const kind of ['order', 'cart'] as const) {
      const started = performance.now();
      const [one, three, eight] = await Promise.all(['1', '3', '8'].map((segments) => exportLines(prefixA, kind, ['--segments', segments])));
      const expected = sorted(kind === 'order' ? orders.expected : carts.expected);
      // More than one 1 MB scan page, so a single segment has to follow LastEvaluatedKey.
      if (kind === 'cart') expect(Buffer.byteLength(expected.join('\n'))).toBeGreaterThan(1_200_000);
      for (const lines of [one, three, eight]) {
        expect(lines).toHaveLength(expected.length);
        expect(sorted(lines ?? [])).toEqual(expected);
      }
      console.log(`bulk: ${kind} export with 1, 3, 8 segments: ${expected.length} lines each, ${seconds(started)}`);
    }
  });

  it('exports an empty table as nothing, exit 0', async () => {
    const prefix = uniquePrefix('bulk-empty');
    await createTables(prefix);
    for (const kind of ['order', 'cart'] as const) {
      for (const segments of [[], ['--segments', '1'], ['--segments', '8']]) {
        const result = await run(prefix, [kind, 'export', ...segments]);
        expect(result.exitCode, result.stderr).toBe(0);
        expect(result.stdout).toBe('');
      }
    }
  });
});

// ---------------------------------------------------------------- 2, 3, 6: existing ids

describe('existing ids', () => {
  const prefix = uniquePrefix('bulk-exist');
  const ORDERS = `${prefix}EcommerceOrders`;
  const CARTS = `${prefix}EcommerceCarts`;
  beforeAll(() => createTables(prefix));

  it('are skipped by default: one warning per id up to 50, then a count, written 0, exit 0, items and versions unchanged', async () => {
    const first = Array.from({ length: 150 }, (_, i) => order(`skip-${i}`, { totalAmount: `${i}.25`, version: 1 + (i % 4) }));
    const firstCarts = Array.from({ length: 30 }, (_, i) => cart(`skip-cart-${i}`, [line('mug', i + 1, '19.99', 'Tea mug')], { version: 2 }));
    const file = writeInput('skip-orders.ndjson', first.map(orderLine));
    const cartFile = writeInput('skip-carts.ndjson', firstCarts.map(cartLine));
    expect((await importOk(prefix, 'order', [file])).summary).toEqual({ read: 150, written: 150, skipped: 0, failed: 0 });
    expect((await importOk(prefix, 'cart', [cartFile])).summary).toEqual({ read: 30, written: 30, skipped: 0, failed: 0 });
    const before = await scanTable(ORDERS);
    const cartsBefore = await scanTable(CARTS);

    // The same file again.
    const again = await importOk(prefix, 'order', [file]);
    expect(again.summary).toEqual({ read: 150, written: 0, skipped: 150, failed: 0 });
    // Capped like invalid lines: 50 named, the rest counted.
    const named = skippedIds(again.run.stderr, 'order');
    expect(named).toHaveLength(50);
    expect(new Set(named).size).toBe(50);
    expect(first.map((o) => o.orderId)).toEqual(expect.arrayContaining(named));
    expect(again.run.stderr).toContain('shopdb: warning: 100 more existing orders were skipped (not shown)');
    const cartsAgain = await importOk(prefix, 'cart', ['-'], ndjson(firstCarts.map(cartLine)));
    expect(cartsAgain.summary).toEqual({ read: 30, written: 0, skipped: 30, failed: 0 });
    expect(sorted(skippedIds(cartsAgain.run.stderr, 'cart'))).toEqual(sorted(firstCarts.map((c) => c.cartId)));

    // The same ids with other contents and higher versions: still left alone.
    const changed = first.map((o) => ({ ...o, userId: 'intruder', totalAmount: '0.01', status: 'CANCELLED', version: 40 }));
    const changedRun = await importOk(prefix, 'order', ['-'], ndjson(changed.map(orderLine)));
    expect(changedRun.summary).toEqual({ read: 150, written: 0, skipped: 150, failed: 0 });
    expect(skippedIds(changedRun.run.stderr, 'order')).toHaveLength(50);

    // --quiet: no warning at all, the summary still printed.
    const quiet = await importOk(prefix, 'order', [file, '--quiet']);
    expect(quiet.summary).toEqual({ read: 150, written: 0, skipped: 150, failed: 0 });
    expect(quiet.run.stderr).toBe('');

    expect(await scanTable(ORDERS)).toEqual(before);
    expect(await scanTable(CARTS)).toEqual(cartsBefore);
    expect(await get<Order>(prefix, 'order', 'skip-7')).toEqual({ ...first[7], version: 4 });
  });

  it('with --overwrite are replaced, and the version never goes down', async () => {
    const v5 = order('ow-1', { userId: 'alice', totalAmount: '10.00', status: 'PAID', version: 5 });
    expect((await importOk(prefix, 'order', ['-'], ndjson([orderLine(v5)]))).summary).toMatchObject({ written: 1 });

    // Version 2 over version 5: the new contents, at version 6.
    const v2 = order('ow-1', { userId: 'bob', totalAmount: '99999999999999999.99', status: 'SHIPPED', createdAt: null, updatedAt: '2026-05-05T05:05:05.555Z', version: 2 });
    const replaced = await importOk(prefix, 'order', ['-', '--overwrite'], ndjson([orderLine(v2)]));
    expect(replaced.summary).toEqual({ read: 1, written: 1, skipped: 0, failed: 0 });
    expect(await get<Order>(prefix, 'order', 'ow-1')).toEqual({ ...v2, version: 6 });

    // Version 10 over version 6: kept at 10.
    const v10 = order('ow-1', { userId: 'carol', totalAmount: '0.10', status: 'COMPLETED', version: 10 });
    await importOk(prefix, 'order', ['-', '--overwrite'], ndjson([orderLine(v10)]));
    expect(await get<Order>(prefix, 'order', 'ow-1')).toEqual(v10);

    // No version over version 10: 11. A new id keeps its own version; none stays none (nothing is invented).
    const bare = { ...order('ow-1', { userId: 'dave' }), version: null };
    await importOk(prefix, 'order', ['-', '--overwrite'], ndjson([orderLine(bare).replace(',"version":1', ',"version":null'), orderLine(order('ow-new', { version: 3 })), orderLine({ ...order('ow-none'), version: null })]));
    expect(await get<Order>(prefix, 'order', 'ow-1')).toEqual({ ...bare, version: 11 });
    expect(await get<Order>(prefix, 'order', 'ow-new')).toMatchObject({ version: 3 });
    expect(await get<Order>(prefix, 'order', 'ow-none')).toMatchObject({ version: null });
    const raw = await scanTable(ORDERS);
    expect(raw.get('ow-1')?.version).toEqual({ N: '11' });

    // Carts follow the same rule.
    const cartV5 = cart('ow-cart', [line('mug', 2, '19.99', 'Tea mug')], { version: 5 });
    await importOk(prefix, 'cart', ['-'], ndjson([cartLine(cartV5)]));
    const cartV2 = cart('ow-cart', [line('pen', 3, '0.10'), line('pad', 1, '2.50', 'Notepad')], { version: 2 });
    await importOk(prefix, 'cart', ['-', '--overwrite'], ndjson([cartLine(cartV2)]));
    expect(await get<Cart>(prefix, 'cart', 'ow-cart')).toEqual({ ...cartV2, totalAmount: '2.80', version: 6 });

    // Many at once, across batches: every replaced item gets a version above the old one.
    const many = Array.from({ length: 230 }, (_, i) => order(`ow-many-${i}`, { version: 1 + (i % 9) }));
    await importOk(prefix, 'order', ['-'], ndjson(many.map(orderLine)));
    const manyAgain = many.map((o) => ({ ...o, userId: 'second-pass', version: 1 }));
    expect((await importOk(prefix, 'order', ['-', '--overwrite', '--concurrency', '4'], ndjson(manyAgain.map(orderLine)))).summary).toEqual({ read: 230, written: 230, skipped: 0, failed: 0 });
    const after = await scanTable(ORDERS);
    for (const o of many) {
      expect(after.get(o.orderId)?.userId).toEqual({ S: 'second-pass' });
      expect(after.get(o.orderId)?.version, o.orderId).toEqual({ N: String((o.version ?? 1) + 1) });
    }
  });

  it('the same id twice in one file: the first is written, the second skipped as existing', async () => {
    // Small case: the repeat follows at once.
    const pair = [order('dup-adjacent', { userId: 'first', totalAmount: '1.00' }), order('dup-adjacent', { userId: 'second', totalAmount: '2.00' })];
    const small = await importOk(prefix, 'order', ['-'], ndjson(pair.map(orderLine)));
    expect(small.summary).toEqual({ read: 2, written: 1, skipped: 1, failed: 0 });
    expect(skippedIds(small.run.stderr, 'order')).toEqual(['dup-adjacent']);

    // The repeat far enough away that the first copy is in an earlier, full batch (100 items per transaction).
    const lines: string[] = [];
    const repeated = Array.from({ length: 8 }, (_, i) => `dup-${i}`);
    for (const id of repeated) {
      lines.push(orderLine(order(id, { userId: 'first', totalAmount: '1.00' })));
      for (let k = 0; k < 98; k++) lines.push(orderLine(order(`${id}-filler-${k}`)));
      lines.push(orderLine(order(id, { userId: 'second', totalAmount: '2.00' })));
    }
    const far = await importOk(prefix, 'order', ['-'], ndjson(lines));
    expect(far.run.stderr).not.toMatch(/duplicate|ValidationException|rejected the request/i);
    expect(far.summary).toEqual({ read: lines.length, written: lines.length - repeated.length, skipped: repeated.length, failed: 0 });
    expect(sorted(skippedIds(far.run.stderr, 'order'))).toEqual(sorted(repeated));

    const stored = await scanTable(ORDERS);
    const ids = ['dup-adjacent', ...repeated];
    const winners = Object.fromEntries(ids.map((id) => [id, `${stored.get(id)?.userId?.S} ${stored.get(id)?.totalAmount?.N}`]));
    expect(winners, 'the first line of each repeated id must be the one written').toEqual(Object.fromEntries(ids.map((id) => [id, 'first 1'])));
  });

  it('the same id twice in one file with --overwrite: the later line wins, at a higher version', async () => {
    const lines: string[] = [];
    const repeated = Array.from({ length: 8 }, (_, i) => `odup-${i}`);
    for (const id of repeated) {
      lines.push(orderLine(order(id, { userId: 'first', totalAmount: '1.00', version: 1 })));
      for (let k = 0; k < 98; k++) lines.push(orderLine(order(`${id}-filler-${k}`)));
      lines.push(orderLine(order(id, { userId: 'second', totalAmount: '2.00', version: 1 })));
    }
    const result = await importOk(prefix, 'order', ['-', '--overwrite'], ndjson(lines));
    expect(result.run.stderr).not.toMatch(/duplicate|ValidationException|rejected the request/i);
    expect(result.summary).toEqual({ read: lines.length, written: lines.length, skipped: 0, failed: 0 });
    const stored = await scanTable(ORDERS);
    const outcome = Object.fromEntries(repeated.map((id) => [id, `${stored.get(id)?.userId?.S} v${stored.get(id)?.version?.N}`]));
    // The second line replaces the first (version 1), so it is stored at version 2.
    expect(outcome, 'file order decides, and a replacement bumps the version').toEqual(Object.fromEntries(repeated.map((id) => [id, 'second v2'])));
  });
});

// ---------------------------------------------------------------- 4, 5: bad lines, --strict

describe('invalid lines', () => {
  const prefix = uniquePrefix('bulk-bad');
  beforeAll(() => createTables(prefix));

  it('are reported by line number and field, exit 2, while the valid lines are written', async () => {
    const valid = (id: string) => orderLine(order(id));
    const raw = (fields: Record<string, unknown>) => JSON.stringify({ ...order('x'), ...fields });
    const orderFile = [
      /* 1 */ valid('good-1'),
      /* 2 */ '{"orderId": "broken", ',
      /* 3 */ raw({ orderId: 'unknown-field', colour: 'red' }),
      /* 4 */ raw({ orderId: 'three-decimals', totalAmount: '1.001' }),
      /* 5 */ raw({ orderId: 'number-amount', totalAmount: 19.99 }),
      /* 6 */ '',
      /* 7 */ raw({ orderId: 'lower-status', status: 'paid' }),
      /* 8 */ raw({ orderId: '' }),
      /* 9 */ '{"orderId":"lone-\\ud800-surrogate","userId":"u1","totalAmount":"1.00","status":"PAID","createdAt":null,"updatedAt":null,"version":1}',
      /* 10 */ raw({ orderId: 'bad-time', createdAt: '31/01/2026 12:00' }),
      /* 11 */ '   ',
      /* 12 */ valid('good-2'),
      /* 13 */ raw({ orderId: 'time-no-zone', updatedAt: '2026-01-31T12:00:00' }),
      /* 14 */ valid('good-3'),
      /* 15 */ '',
    ];
    // The escape is in the file as six characters; JSON.parse turns it into a lone surrogate.
    expect(orderFile[8]).toContain('\\ud800');
    const result = await run(prefix, ['order', 'import', writeInput('bad-orders.ndjson', orderFile)]);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.json<Summary>()).toEqual({ read: 12, written: 3, skipped: 0, failed: 9 });
    const messages = errorMessages(result.stderr);
    const perLine = messages.filter((message) => /^line \d+: /.test(message));
    expect(perLine).toHaveLength(9);
    const expectations: Array<[number, RegExp]> = [
      [2, /^line 2: not valid JSON/],
      [3, /^line 3: order: has an unknown field "colour"/],
      [4, /^line 4: totalAmount: "1\.001" is not an amount/],
      [5, /^line 5: totalAmount: must be a decimal string/],
      [7, /^line 7: status: "paid" is not a status/],
      [8, /^line 8: orderId: must not be empty/],
      [9, /^line 9: orderId: must be valid Unicode/],
      [10, /^line 10: createdAt: must be an ISO-8601 UTC time/],
      [13, /^line 13: updatedAt: must be an ISO-8601 UTC time/],
    ];
    for (const [lineNumber, pattern] of expectations) {
      expect(perLine.filter((message) => message.startsWith(`line ${lineNumber}: `)), `line ${lineNumber}`).toHaveLength(1);
      expect(perLine.find((message) => message.startsWith(`line ${lineNumber}: `))).toMatch(pattern);
    }
    expect(messages.at(-1)).toMatch(/9 invalid lines/);
    const stored = await scanTable(`${prefix}EcommerceOrders`);
    expect([...stored.keys()].sort()).toEqual(['good-1', 'good-2', 'good-3']);
    expect(await get<Order>(prefix, 'order', 'good-2')).toEqual(order('good-2'));

    const mug = line('mug', 2, '19.99', 'Tea mug');
    const pen = line('pen', 3, '0.10');
    const cartFile = [
      /* 1 */ cartLine(cart('cart-good-1', [mug, pen])),
      /* 2 */ cartLine({ ...cart('cart-wrong-total', [mug, pen]), totalAmount: '40.27' }),
      /* 3 */ cartLine(cart('cart-dup-product', [mug, pen, line('mug', 1, '19.99')])),
      /* 4 */ cartLine(cart('cart-zero', [mug, line('zero', 0, '1.00')])),
      /* 5 */ '',
      /* 6 */ cartLine(cart('cart-fraction', [line('half', 1.5, '2.00')], { totalAmount: '3.00' })),
      /* 7 */ JSON.stringify({ ...cart('cart-number-price', [mug]), products: [{ ...mug, unitPrice: 19.99 }] }),
      /* 8 */ cartLine(cart('cart-good-2', [])),
      /* 9 */ cartLine(cart('cart-good-3', [line('max', 1, '99999999999999999.99')])),
    ];
    const carts = await run(prefix, ['cart', 'import', '-'], { input: ndjson(cartFile) });
    expect(carts.exitCode, carts.stderr).toBe(2);
    expect(carts.json<Summary>()).toEqual({ read: 8, written: 3, skipped: 0, failed: 5 });
    const cartMessages = errorMessages(carts.stderr).filter((message) => /^line \d+: /.test(message));
    expect(cartMessages).toHaveLength(5);
    expect(cartMessages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^line 2: totalAmount: is 40\.27 but the products add up to 40\.28/),
        expect.stringMatching(/^line 3: products\[2\]\.productId: mug appears twice/),
        expect.stringMatching(/^line 4: products\[1\]\.quantity: must be a positive whole number/),
        expect.stringMatching(/^line 6: products\[0\]\.quantity: must be a positive whole number/),
        expect.stringMatching(/^line 7: products\[0\]\.unitPrice: must be a decimal string/),
      ]),
    );
    const storedCarts = await scanTable(`${prefix}EcommerceCarts`);
    expect([...storedCarts.keys()].sort()).toEqual(['cart-good-1', 'cart-good-2', 'cart-good-3']);
    expect(await get<Cart>(prefix, 'cart', 'cart-good-1')).toMatchObject({ totalAmount: '40.28', products: [mug, pen], version: 1 });
  });

  it('a line that is not valid UTF-8 is reported, never stored under an id with U+FFFD in it', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${orderLine(order('utf8-good-1'))}\n{"orderId":"utf8-bad-`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`-byte","userId":"u1","totalAmount":"1.00","status":"PAID"}\n${orderLine(order('utf8-good-2'))}\n`),
    ]);
    const path = join(dir, 'not-utf8.ndjson');
    writeFileSync(path, bytes);
    const result = await run(prefix, ['order', 'import', path]);
    const stored = [...(await scanTable(`${prefix}EcommerceOrders`)).keys()].filter((id) => id.startsWith('utf8-'));
    expect(stored.filter((id) => id.includes('\uFFFD')), 'an id the file never held').toEqual([]);
    expect(stored.sort()).toEqual(['utf8-good-1', 'utf8-good-2']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(errorMessages(result.stderr)[0]).toMatch(/^line 2: /);
  });

  it('with --strict write nothing if any line is invalid, from a file or stdin, and everything otherwise', async () => {
    const strictPrefix = uniquePrefix('bulk-strict');
    await createTables(strictPrefix);
    const ORDERS = `${strictPrefix}EcommerceOrders`;
    const CARTS = `${strictPrefix}EcommerceCarts`;
    // The bad line comes last, after more than a batch of valid ones.
    const good = Array.from({ length: 250 }, (_, i) => orderLine(order(`strict-${i}`)));
    const withBad = [...good, '', JSON.stringify({ ...order('strict-bad'), totalAmount: '1.001' })];
    const file = writeInput('strict-bad.ndjson', withBad);

    // --strict spools stdin to a private temporary directory: it must be gone afterwards, whatever the outcome.
    const spoolRoot = mkdtempSync(join(dir, 'tmp-'));
    const env = { TMPDIR: spoolRoot };
    const fromFile = await run(strictPrefix, ['order', 'import', file, '--strict'], { env });
    const fromStdin = await run(strictPrefix, ['order', 'import', '-', '--strict'], { input: ndjson(withBad), env });
    const fromDefaultStdin = await run(strictPrefix, ['order', 'import', '--strict', '--overwrite'], { input: ndjson(withBad), env });
    for (const result of [fromFile, fromStdin, fromDefaultStdin]) {
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      const messages = errorMessages(result.stderr);
      expect(messages[0]).toMatch(/^line 252: totalAmount: /);
      expect(messages.at(-1)).toMatch(/1 of 251 lines are invalid; nothing was written \(--strict\)/);
    }
    const badCart = JSON.stringify({ ...cart('strict-cart', [line('a', 1, '1.00')]), totalAmount: '2.00' });
    const cartRun = await run(strictPrefix, ['cart', 'import', '-', '--strict'], { input: ndjson([cartLine(cart('strict-ok', [])), badCart]) });
    expect(cartRun.exitCode, cartRun.stderr).toBe(2);
    expect((await scanTable(ORDERS)).size).toBe(0);
    expect((await scanTable(CARTS)).size).toBe(0);

    // All valid: everything is written, from stdin and from a file.
    const viaStdin = await run(strictPrefix, ['order', 'import', '-', '--strict'], { input: ndjson(good), env });
    expect(viaStdin.exitCode, viaStdin.stderr).toBe(0);
    expect(viaStdin.json<Summary>()).toEqual({ read: 250, written: 250, skipped: 0, failed: 0 });
    expect(readdirSync(spoolRoot)).toEqual([]);
    const more = Array.from({ length: 20 }, (_, i) => cartLine(cart(`strict-cart-${i}`, [line('a', i + 1, '0.10')])));
    const viaFile = await importOk(strictPrefix, 'cart', [writeInput('strict-good.ndjson', ['', ...more, '']), '--strict']);
    expect(viaFile.summary).toEqual({ read: 20, written: 20, skipped: 0, failed: 0 });
    expect([...(await scanTable(ORDERS)).keys()].sort()).toEqual(good.map((text) => (JSON.parse(text) as Order).orderId).sort());
    expect((await scanTable(CARTS)).size).toBe(20);
    expect(await get<Cart>(strictPrefix, 'cart', 'strict-cart-19')).toMatchObject({ totalAmount: '2.00' });
  });
});

describe('hostile input files', () => {
  const prefix = uniquePrefix('bulk-hostile');
  beforeAll(() => createTables(prefix));

  it('a line nested past 128 levels, a repeated key, or a line past 4 MiB is one bad line; the lines around it are written', async () => {
    const deep = `{"orderId":"deep","userId":"u1","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const repeated = '{"orderId":"rep","userId":"u1","totalAmount":"1.00","totalAmount":"9.00","status":"PAID"}';
    const long = `{"orderId":"long","userId":"${'x'.repeat(40 * 1024 * 1024)}"}`;
    const file = writeInput('hostile.ndjson', [orderLine(order('hostile-1')), deep, repeated, long, orderLine(order('hostile-2'))]);
    const result = await run(prefix, ['order', 'import', file]);
    expect(result.exitCode, result.stderr.slice(0, 2000)).toBe(2);
    expect(result.json<Summary>()).toEqual({ read: 5, written: 2, skipped: 0, failed: 3 });
    expect(errorMessages(result.stderr)).toEqual([
      'line 2: nested deeper than 128 levels',
      'line 3: key "totalAmount" appears twice in one object',
      'line 4: longer than 4194304 bytes (4 MiB), the longest line import reads',
      '3 invalid lines were skipped',
    ]);
    expect([...(await scanTable(`${prefix}EcommerceOrders`)).keys()].sort()).toEqual(['hostile-1', 'hostile-2']);

    // Deep products once overflowed the stack in validation: exit 1 and nothing written.
    const deepCart = `{"cartId":"deep-cart","userId":"u1","products":${'['.repeat(200_000)}${']'.repeat(200_000)},"totalAmount":"0.00"}`;
    const carts = await run(prefix, ['cart', 'import', '-'], { input: ndjson([cartLine(cart('hostile-cart-1', [])), deepCart, cartLine(cart('hostile-cart-2', []))]) });
    expect(carts.exitCode, carts.stderr.slice(0, 2000)).toBe(2);
    expect(carts.json<Summary>()).toEqual({ read: 3, written: 2, skipped: 0, failed: 1 });
    expect(errorMessages(carts.stderr)[0]).toBe('line 2: nested deeper than 128 levels');
    expect([...(await scanTable(`${prefix}EcommerceCarts`)).keys()].sort()).toEqual(['hostile-cart-1', 'hostile-cart-2']);
  });

  it('a directory, a device or a socket exits 2 naming it, before reading; a named pipe is read, with --strict too', async () => {
    const socketPath = join(dir, 'import.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      for (const path of [dir, '/dev/zero', '/dev/null', socketPath]) {
        const result = await run(prefix, ['order', 'import', path]);
        expect(result.exitCode, `${path}: ${result.stderr}`).toBe(2);
        const messages = errorMessages(result.stderr);
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatch(path === dir ? /is a directory/ : /is a device or socket/);
        expect(messages[0]?.startsWith(`file: ${JSON.stringify(path)} is a `), messages[0]).toBe(true);
        expect(result.stdout).toBe('');
      }
    } finally {
      server.close();
    }
    for (const extra of [[], ['--strict']]) {
      const fifo = join(dir, `import-${extra.length}.fifo`);
      await execa('mkfifo', [fifo]);
      const ids = [`fifo-${extra.length}-a`, `fifo-${extra.length}-b`];
      const writer = createWriteStream(fifo);
      writer.end(ndjson(ids.map((id) => orderLine(order(id)))));
      const result = await run(prefix, ['order', 'import', fifo, ...extra]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.json<Summary>()).toEqual({ read: 2, written: 2, skipped: 0, failed: 0 });
    }
  });
});

// ---------------------------------------------------------------- 7: cache

describe('the cache', () => {
  const prefix = uniquePrefix('bulk-cache');
  const env = { SHOPDB_REDIS_URL: inject('redisUrl') };
  beforeAll(() => createTables(prefix));

  it('is refreshed by import --overwrite, so get --cache answers the new contents from Redis', async () => {
    await importOk(prefix, 'order', ['-'], ndjson([orderLine(order('cached-1', { userId: 'before', totalAmount: '5.00', version: 3 }))]));
    const warm = await run(prefix, ['order', 'get', 'cached-1', '--cache', '--verbose'], { env });
    expect(warm.exitCode, warm.stderr).toBe(0);
    expect(warm.stderr).toMatch(/cache miss/);
    const hit = await run(prefix, ['order', 'get', 'cached-1', '--cache', '--verbose'], { env });
    expect(hit.stderr).toMatch(/cache hit/);
    expect(hit.json()).toMatchObject({ userId: 'before', version: 3 });

    const next = order('cached-1', { userId: 'after', totalAmount: '99999999999999999.99', status: 'SHIPPED', version: 1 });
    const imported = await run(prefix, ['order', 'import', '-', '--overwrite'], { env, input: ndjson([orderLine(next)]) });
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(imported.stderr).not.toMatch(/warning/);

    const after = await run(prefix, ['order', 'get', 'cached-1', '--cache', '--verbose'], { env });
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stderr).toMatch(/cache hit/);
    expect(after.json()).toEqual({ ...next, version: 4 });
    expect(await get<Order>(prefix, 'order', 'cached-1')).toEqual({ ...next, version: 4 });
  });

  it('is refreshed by a plain import of a new id that was cached as missing, and of carts', async () => {
    await run(prefix, ['cart', 'get', 'cached-cart', '--cache'], { env });
    const fresh = order('cached-new', { userId: 'new', version: 2 });
    const missing = await run(prefix, ['order', 'get', 'cached-new', '--cache'], { env });
    expect(missing.exitCode).toBe(3);
    const imported = await run(prefix, ['order', 'import', '-'], { env, input: ndjson([orderLine(fresh)]) });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const got = await run(prefix, ['order', 'get', 'cached-new', '--cache', '--verbose'], { env });
    expect(got.exitCode, got.stderr).toBe(0);
    expect(got.stderr).toMatch(/cache hit/);
    expect(got.json()).toEqual(fresh);

    const c = cart('cached-cart', [line('mug', 2, '19.99')], { version: 7 });
    const cartImport = await run(prefix, ['cart', 'import', '-', '--overwrite'], { env, input: ndjson([cartLine(c)]) });
    expect(cartImport.exitCode, cartImport.stderr).toBe(0);
    const cartGot = await run(prefix, ['cart', 'get', 'cached-cart', '--cache', '--verbose'], { env });
    expect(cartGot.stderr).toMatch(/cache hit/);
    expect(cartGot.json()).toEqual(c);
  });
});

// ---------------------------------------------------------------- 9, 10: missing things, bad flags

describe('errors', () => {
  const prefix = uniquePrefix('bulk-flags');
  beforeAll(() => createTables(prefix));

  it('a missing table exits 3 naming the table and `tables create`', async () => {
    const absent = uniquePrefix('bulk-absent');
    const file = writeInput('absent.ndjson', Array.from({ length: 5 }, (_, i) => orderLine(order(`absent-${i}`))));
    const result = await run(absent, ['order', 'import', file]);
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain(`${absent}EcommerceOrders`);
    expect(result.stderr).toContain('tables create');
    if (result.stdout !== '') expect(result.json<Summary>()).toMatchObject({ written: 0 });

    const cartsResult = await run(absent, ['cart', 'import', '--overwrite', '-'], { input: ndjson([cartLine(cart('c', []))]) });
    expect(cartsResult.exitCode, cartsResult.stderr).toBe(3);
    expect(cartsResult.stderr).toContain(`${absent}EcommerceCarts`);
    expect(cartsResult.stderr).toContain('tables create');

    const exported = await run(absent, ['order', 'export']);
    expect(exported.exitCode, exported.stderr).toBe(3);
    expect(exported.stderr).toContain(`${absent}EcommerceOrders`);
  });

  it('a missing file exits 2', async () => {
    const path = join(dir, 'no-such-file.ndjson');
    for (const extra of [[], ['--strict'], ['--overwrite']]) {
      const result = await run(prefix, ['order', 'import', path, ...extra]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toContain('no-such-file.ndjson');
      expect(result.stdout).toBe('');
    }
  });

  it('--concurrency outside 1..64 and --segments 0 exit 2 naming the flag, writing nothing', async () => {
    const file = writeInput('flags.ndjson', [orderLine(order('flag-1'))]);
    const results = await Promise.all(
      ['0', '65', 'abc', '-1', '1.5'].map(async (value) => [value, await run(prefix, ['order', 'import', file, '--concurrency', value])] as const),
    );
    for (const [value, result] of results) {
      expect(result.exitCode, `--concurrency ${value}: ${result.stderr}`).toBe(2);
      expect(result.stderr, value).toMatch(/concurrency/);
    }
    const cartFlag = await run(prefix, ['cart', 'import', '-', '--concurrency', '0'], { input: ndjson([cartLine(cart('flag-cart', []))]) });
    expect(cartFlag.exitCode).toBe(2);
    expect(cartFlag.stderr).toMatch(/concurrency/);
    expect((await scanTable(`${prefix}EcommerceOrders`)).size).toBe(0);
    expect((await scanTable(`${prefix}EcommerceCarts`)).size).toBe(0);

    for (const [kind, value] of [['order', '0'], ['cart', '0'], ['order', '65'], ['order', 'x']] as const) {
      const result = await run(prefix, [kind, 'export', '--segments', value]);
      expect(result.exitCode, `${kind} export --segments ${value}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/segments/);
      expect(result.stdout).toBe('');
    }
    // The edges are allowed.
    expect((await importOk(prefix, 'order', [file, '--concurrency', '64'])).summary).toMatchObject({ written: 1 });
    expect((await importOk(prefix, 'order', [file, '--concurrency', '1'])).summary).toMatchObject({ skipped: 1 });
    expect(await exportLines(prefix, 'order', ['--segments', '64'])).toEqual([orderLine(order('flag-1'))]);
  });
});

describe('standard input that is a device', () => {
  it('`import - < /dev/zero` (and /dev/urandom) is bad input: exit 2, nothing written; `< /dev/null` is an empty input', async () => {
    const prefix = uniquePrefix('bulk-dev');
    await createTables(prefix);
    for (const device of ['/dev/zero', '/dev/urandom']) {
      for (const args of [['order', 'import', '-'], ['order', 'import'], ['cart', 'import', '--strict', '-']]) {
        // Bounded: before the fix this read for ever.
        const result = await execa('bash', ['-c', `exec "$0" "$@" < ${device}`, BIN, ...args], { reject: false, timeout: 30_000, env: testEnv(prefix), extendEnv: true });
        const what = `${args.join(' ')} < ${device}: ${String(result.stderr)}`;
        expect(result.isTerminated, what).toBe(false);
        expect(result.exitCode, what).toBe(2);
        expect(errorMessages(String(result.stderr)), what).toEqual(['file: standard input is a device, not a file or pipe (redirect a file or pipe into it, or name the file)']);
        expect(String(result.stdout)).toBe('');
      }
    }
    const empty = await execa('bash', ['-c', 'exec "$0" order import - < /dev/null', BIN], { reject: false, timeout: 30_000, env: testEnv(prefix), extendEnv: true });
    expect(empty.exitCode, String(empty.stderr)).toBe(0);
    expect(JSON.parse(String(empty.stdout))).toEqual({ read: 0, written: 0, skipped: 0, failed: 0 });
    expect((await scanTable(`${prefix}EcommerceOrders`)).size).toBe(0);
    expect((await scanTable(`${prefix}EcommerceCarts`)).size).toBe(0);
  });
});

describe('a TMPDIR that cannot hold the --strict spool', () => {
  it('is bad input naming TMPDIR: exit 2, nothing written, no "unexpected error"', async () => {
    const prefix = uniquePrefix('bulk-tmpdir');
    await createTables(prefix);
    for (const tmp of ['/nonexistent-shopdb-tmp', '/dev/null']) {
      const result = await execa(BIN, ['order', 'import', '--strict', '-'], { reject: false, timeout: 30_000, input: `${orderLine(order('tmp-1'))}\n`, env: testEnv(prefix, { TMPDIR: tmp }), extendEnv: true });
      expect(result.exitCode, String(result.stderr)).toBe(2);
      expect(String(result.stderr)).toContain('TMPDIR: cannot create a spool directory for --strict');
      expect(String(result.stderr)).not.toContain('unexpected error');
    }
    expect((await scanTable(`${prefix}EcommerceOrders`)).size).toBe(0);
  });
});
