/*
 * Items the original Python design (boto3) or a person wrote, read and
 * written through the built binary. shopdb invents nothing (a missing or
 * foreign-typed field is null), loses nothing (every other attribute travels
 * in `extra`, through get, export, import and every write), and refuses at
 * once, naming the attribute, a write it cannot apply exactly.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { importLines, type NumberedLine } from '../../src/core/bulk.js';
import type { Order } from '../../src/core/model.js';
import { parseOrderRecord } from '../../src/core/records.js';
import { tableNames } from '../../src/core/tables.js';
import { openDynamoStore } from '../../src/store/index.js';
import { boto3, boto3Get, type DynamoJson } from '../support/boto3.js';
import { shopdb, uniquePrefix } from '../support/cli.js';

/**
 * DynamoDB keeps a number's value, not its spelling (DynamoDB Local answers
 * 1E-36 for 0.000…001 and may keep 5.00 as sent), and sets have no order: two
 * items are the same when their canonical forms are.
 */
function canonical(value: unknown): Record<string, unknown> {
  return canonicalValue(value) as Record<string, unknown>;
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).map(([key, inner]) => {
    if (key === 'N') return [key, numberValue(inner as string)];
    if (key === 'NS') return [key, (inner as string[]).map(numberValue).sort()];
    if (key === 'SS' || key === 'BS') return [key, [...(inner as string[])].sort()];
    return [key, canonicalValue(inner)];
  });
  return Object.fromEntries(entries);
}

function numberValue(text: string): string {
  const [mantissa = '', exponent = '0'] = text.toLowerCase().split('e');
  const negative = mantissa.startsWith('-');
  const [whole = '', fraction = ''] = mantissa.replace('-', '').split('.');
  const all = `${whole}${fraction}`;
  const digits = all.replace(/^0+/, '');
  if (digits === '') return '0';
  const point = whole.length - (all.length - digits.length) + Number(exponent);
  return `${negative ? '-' : ''}0.${digits.replace(/0+$/, '')}e${point}`;
}

/** The one-line message of a piped failure. */
function message(run: { stderr: string }): string {
  return (JSON.parse(run.stderr) as { error: { message: string } }).error.message;
}

const prefix = uniquePrefix('legacy');
const copy = uniquePrefix('legacy-copy');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;

/** A cart as a person might write it: lines with price/qty, strings where numbers belong, sets, binary, nesting, 38 digits. */
const HAND_CART: DynamoJson = {
  cartId: { S: 'hand-cart' },
  userId: { S: 'bob' },
  products: {
    L: [
      { M: { productId: { S: 'mug' }, price: { N: '19.99' }, qty: { N: '2' } } },
      { M: { productId: { S: 'pen' }, name: { S: 'Pen' }, quantity: { S: '2' }, unitPrice: { S: '0.10' }, colour: { S: 'blue' } } },
    ],
  },
  totalAmount: { S: '40.18' },
  tags: { SS: ['gift', 'urgent'] },
  scores: { NS: ['1.5', '99999999999999999999999999999999999999'] },
  blob: { B: Buffer.from([0, 1, 2, 250, 255]).toString('base64') },
  blobs: { BS: [Buffer.from('a').toString('base64'), Buffer.from([0xff]).toString('base64')] },
  meta: { M: { source: { S: 'hand' }, nested: { L: [{ N: '0.000000000000000000000000000000000001' }, { BOOL: true }, { NULL: true }] } } },
  big: { N: '12345678901234567890123456789012345678' },
};

/** A cart whose lines are shopdb's own shape but whose total is a string, as str(total) writes it. */
const STRING_TOTAL_CART: DynamoJson = {
  cartId: { S: 'string-total' },
  userId: { S: 'carol' },
  products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '1' }, unitPrice: { N: '5' } } }] },
  totalAmount: { S: '5.00' },
};

/** A cart shopdb can extend: numbers where it adds, plus attributes it does not know, at both levels. */
const EXTENDABLE_CART: DynamoJson = {
  cartId: { S: 'extendable' },
  userId: { S: 'dave' },
  products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '1' }, unitPrice: { N: '5' }, sku: { S: 'M-1' } } }] },
  totalAmount: { N: '5' },
  coupon: { M: { code: { S: 'SAVE5' }, uses: { N: '3' } } },
};

beforeAll(async () => {
  await boto3([
    { op: 'create_tables', prefix },
    { op: 'create_tables', prefix: copy },
    { op: 'create_order', table: ORDERS, orderId: 'py-1', userId: 'alice', totalAmount: '59.97' },
    { op: 'update_order_status', table: ORDERS, orderId: 'py-1', status: 'SHIPPED' },
    { op: 'create_order', table: ORDERS, orderId: 'py-2', userId: 'alice', totalAmount: '10' },
    { op: 'put_item', table: ORDERS, item: { orderId: { S: 'bare' } } },
    { op: 'put_item', table: CARTS, item: HAND_CART },
    { op: 'put_item', table: CARTS, item: STRING_TOTAL_CART },
    { op: 'put_item', table: CARTS, item: EXTENDABLE_CART },
  ]);
}, 120_000);

describe('reading what boto3 wrote', () => {
  it('an order from the seed: no amount invented, the string total kept in extra', async () => {
    const run = await shopdb(['order', 'get', 'py-1', '--strong'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toEqual({
      orderId: 'py-1',
      userId: 'alice',
      totalAmount: null,
      status: 'SHIPPED',
      createdAt: null,
      updatedAt: null,
      version: null,
      cartId: null,
      products: null,
      extra: { totalAmount: { S: '59.97' } },
    });
    const bare = await shopdb(['order', 'get', 'bare', '--strong'], { prefix });
    expect(bare.json()).toEqual({ orderId: 'bare', userId: null, totalAmount: null, status: null, createdAt: null, updatedAt: null, version: null, cartId: null, products: null });
  });

  it('a hand-written cart: null, never "0.00" or 0, and every attribute exactly as stored', async () => {
    const run = await shopdb(['cart', 'get', 'hand-cart', '--strong'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    const others = Object.fromEntries(Object.entries(HAND_CART).filter(([name]) => !['cartId', 'userId', 'products'].includes(name)));
    expect(canonical(run.json())).toEqual(canonical({
      cartId: 'hand-cart',
      userId: 'bob',
      products: [
        { productId: 'mug', name: null, quantity: null, unitPrice: null, extra: { price: { N: '19.99' }, qty: { N: '2' } } },
        { productId: 'pen', name: 'Pen', quantity: null, unitPrice: null, extra: { quantity: { S: '2' }, unitPrice: { S: '0.10' }, colour: { S: 'blue' } } },
      ],
      totalAmount: null,
      createdAt: null,
      updatedAt: null,
      version: null,
      status: null,
      orderId: null,
      extra: others,
    }));
  });

  it('draws missing fields as "-" in a table, with the kept attributes', async () => {
    const run = await shopdb(['cart', 'get', 'hand-cart', '--strong', '--output', 'table'], { prefix, env: { NO_COLOR: '1' } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('0.00');
    expect(run.stdout).toMatch(/│ mug\s+│ - \(price, qty: see --json\)\s+│\s+-\s+│\s+-\s+│\s+-\s+│/);
    expect(run.stdout).toContain('{"S":"40.18"}');
  });
});

describe('export and import back', () => {
  it('round-trips every item exactly: a boto3 get of the copy equals the original', async () => {
    for (const kind of ['order', 'cart'] as const) {
      const exported = await shopdb([kind, 'export'], { prefix });
      expect(exported.exitCode, exported.stderr).toBe(0);
      const imported = await shopdb([kind, 'import', '-'], { prefix: copy, input: exported.stdout });
      expect(imported.exitCode, imported.stderr).toBe(0);
      const again = await shopdb([kind, 'export'], { prefix: copy });
      expect(again.stdout.split('\n').sort()).toEqual(exported.stdout.split('\n').sort());
    }
    for (const [table, key] of [
      ['EcommerceOrders', { orderId: { S: 'py-1' } }],
      ['EcommerceOrders', { orderId: { S: 'bare' } }],
      ['EcommerceCarts', { cartId: { S: 'hand-cart' } }],
      ['EcommerceCarts', { cartId: { S: 'string-total' } }],
      ['EcommerceCarts', { cartId: { S: 'extendable' } }],
    ] as const) {
      const original = await boto3Get(`${prefix}${table}`, key);
      expect(original).not.toBeNull();
      expect(canonical(await boto3Get(`${copy}${table}`, key))).toEqual(canonical(original));
    }
  });

  it('refuses extra that names a field shopdb reads, or is not DynamoDB JSON, as a bad line', async () => {
    const lines = [
      { orderId: 'x1', totalAmount: '1.00', extra: { totalAmount: { S: '1.00' } } },
      { orderId: 'x2', totalAmount: null, extra: { totalAmount: { N: '1.5' } } },
      { orderId: 'x3', extra: { note: { Z: 'x' } } },
      { orderId: 'x4', extra: { tags: { SS: [] } } },
      { orderId: 'x5', extra: { orderId: { S: 'x5' } } },
    ].map((line) => JSON.stringify(line));
    const run = await shopdb(['order', 'import', '-'], { prefix: copy, input: `${lines.join('\n')}\n` });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('extra.totalAmount');
    expect(run.stderr).toContain('extra.note');
    expect(run.stderr).toContain('extra.tags.SS');
    expect(run.stderr).toContain('extra.orderId');
    expect((await shopdb(['order', 'get', 'x2', '--strong'], { prefix: copy })).exitCode).toBe(3);
  });
});

describe('writes keep what shopdb does not know', () => {
  it('set-status on a seed order keeps the string total', async () => {
    const run = await shopdb(['order', 'set-status', 'py-2', 'PAID'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ result: 'updated', order: { status: 'PAID', version: 1, totalAmount: null, extra: { totalAmount: { S: '10' } } } });
    expect((await boto3Get(ORDERS, { orderId: { S: 'py-2' } }))?.totalAmount).toEqual({ S: '10' });
  });

  it('add-product keeps unknown attributes at the top and inside lines', async () => {
    const run = await shopdb(['cart', 'add-product', 'extendable', 'mug', '--price', '5', '--quantity', '2'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    const stored = await boto3Get(CARTS, { cartId: { S: 'extendable' } });
    expect(canonical(stored)).toMatchObject(canonical({
      totalAmount: { N: '15' },
      coupon: EXTENDABLE_CART.coupon,
      products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '3' }, unitPrice: { N: '5' }, sku: { S: 'M-1' } } }] },
      version: { N: '1' },
    }));
  });

  it('import --overwrite writes extra back; the line is the whole item', async () => {
    const before = await shopdb(['cart', 'get', 'extendable', '--strong'], { prefix });
    const line = before.json<Record<string, unknown>>();
    const run = await shopdb(['cart', 'import', '-', '--overwrite'], { prefix, input: `${JSON.stringify({ ...line, userId: 'erin' })}\n` });
    expect(run.exitCode, run.stderr).toBe(0);
    const stored = await boto3Get(CARTS, { cartId: { S: 'extendable' } });
    expect(stored).toMatchObject({ userId: { S: 'erin' }, coupon: EXTENDABLE_CART.coupon, version: { N: '2' } });
    expect((stored?.products as { L: Array<{ M: Record<string, unknown> }> }).L[0]?.M.sku).toEqual({ S: 'M-1' });

    // A line without extra replaces the item with exactly what it says.
    const bare = Object.fromEntries(Object.entries(line).filter(([name]) => name !== 'extra'));
    expect((await shopdb(['cart', 'import', '-', '--overwrite'], { prefix, input: `${JSON.stringify(bare)}\n` })).exitCode).toBe(0);
    expect(await boto3Get(CARTS, { cartId: { S: 'extendable' } })).not.toHaveProperty('coupon');
  });

  it('add-product on a cart whose lines hold price/qty: exit 4 at once, naming the attribute, nothing changed', async () => {
    const before = await boto3Get(CARTS, { cartId: { S: 'hand-cart' } });
    const run = await shopdb(['cart', 'add-product', 'hand-cart', 'cup', '--price', '1.00'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(message(run)).toContain('products[0].quantity is missing (the line holds price, qty)');
    expect(run.stderr).not.toMatch(/too fast|please report/);
    const raise = await shopdb(['cart', 'add-product', 'hand-cart', 'mug', '--price', '19.99'], { prefix });
    expect(raise.exitCode).toBe(4);
    expect(raise.stderr).toContain('products[0].quantity');
    expect(await boto3Get(CARTS, { cartId: { S: 'hand-cart' } })).toEqual(before);
  });

  it('add-product on a cart whose total is a string: exit 4 naming totalAmount, nothing changed', async () => {
    const run = await shopdb(['cart', 'add-product', 'string-total', 'pen', '--price', '1.00'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(message(run)).toContain('totalAmount holds the string "5.00", not an amount stored as a number');
    expect(run.stderr).not.toMatch(/incorrect data type|rejected the request/);
    expect(canonical(await boto3Get(CARTS, { cartId: { S: 'string-total' } }))).toEqual(canonical(STRING_TOTAL_CART));
  });
});

/** Found by an outside try: writes on odd versions, DynamoDB's own limits, and what shopdb itself stores. */
describe('what shopdb stores, DynamoDB refuses or the cache keeps', () => {
  const redis = { SHOPDB_REDIS_URL: inject('redisUrl') };

  it('set-status on a version of 1.5 applies and the cache drops the old status; 0 and -1 are refused naming version', async () => {
    await boto3([
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'v-frac' }, status: { S: 'PENDING' }, version: { N: '1.5' } } },
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'v-zero' }, status: { S: 'PENDING' }, version: { N: '0' } } },
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'v-neg' }, status: { S: 'PENDING' }, version: { N: '-1' } } },
    ]);
    expect((await shopdb(['order', 'get', 'v-frac', '--cache'], { prefix, env: redis })).json()).toMatchObject({ status: 'PENDING', version: null });
    const moved = await shopdb(['order', 'set-status', 'v-frac', 'PAID'], { prefix, env: redis });
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(moved.json()).toMatchObject({ order: { status: 'PAID', version: null, extra: { version: { N: '2.5' } } } });
    const cached = await shopdb(['order', 'get', 'v-frac', '--cache'], { prefix, env: redis });
    expect(cached.json()).toMatchObject({ status: 'PAID' });

    for (const id of ['v-zero', 'v-neg']) {
      const before = await boto3Get(ORDERS, { orderId: { S: id } });
      const run = await shopdb(['order', 'set-status', id, 'PAID'], { prefix, env: redis });
      expect(run.exitCode, run.stderr).toBe(4);
      expect(message(run)).toMatch(/version attribute holds .*not a positive whole number/);
      expect(await boto3Get(ORDERS, { orderId: { S: id } })).toEqual(before);
    }
  });

  it('import --overwrite over a version of 2.5 or -1 writes a version above it, without extra.version; get --cache answers it with no warning', async () => {
    // Once: the replacing version was 1 (below 2.5), and the item and its cache entry carried both version and extra.version.
    await boto3([
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'y15' }, status: { S: 'PENDING' }, version: { N: '1.5' } } },
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'y-neg' }, status: { S: 'PENDING' }, version: { N: '-1' }, note: { S: 'kept' } } },
    ]);
    expect((await shopdb(['order', 'set-status', 'y15', 'PAID'], { prefix, env: redis })).exitCode).toBe(0);
    const lines = [];
    for (const id of ['y15', 'y-neg']) {
      const got = await shopdb(['order', 'get', id, '--cache'], { prefix, env: redis });
      expect(got.exitCode, got.stderr).toBe(0);
      lines.push(JSON.stringify({ ...got.json(), status: 'SHIPPED' }));
    }
    expect(lines[0]).toContain('"extra":{"version":{"N":"2.5"}}');
    const imported = await shopdb(['order', 'import', '-', '--overwrite'], { prefix, env: redis, input: `${lines.join('\n')}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    // set-status stamped updatedAt on y15; nothing else is there.
    const y15 = await boto3Get(ORDERS, { orderId: { S: 'y15' } });
    expect(Object.keys(y15 ?? {}).sort()).toEqual(['orderId', 'status', 'statusShard', 'updatedAt', 'version']);
    expect(y15).toMatchObject({ status: { S: 'SHIPPED' }, version: { N: '3' } });
    expect(await boto3Get(ORDERS, { orderId: { S: 'y-neg' } })).toEqual({ orderId: { S: 'y-neg' }, status: { S: 'SHIPPED' }, version: { N: '1' }, note: { S: 'kept' } });
    for (const [id, version] of [['y15', 3], ['y-neg', 1]] as const) {
      const cached = await shopdb(['order', 'get', id, '--cache'], { prefix, env: redis });
      expect(cached.exitCode, cached.stderr).toBe(0);
      expect(cached.stderr).toBe('');
      expect(cached.json()).toMatchObject({ status: 'SHIPPED', version });
      expect(cached.json()).not.toHaveProperty('extra.version');
    }
  });

  it('a version of 10^38, written by set-status above 38 nines, exports and imports back', async () => {
    const nines = '9'.repeat(38);
    await boto3([{ op: 'put_item', table: ORDERS, item: { orderId: { S: 'v-38' }, status: { S: 'PENDING' }, version: { N: nines } } }]);
    expect((await shopdb(['order', 'set-status', 'v-38', 'PAID'], { prefix })).exitCode).toBe(0);
    const got = await shopdb(['order', 'get', 'v-38', '--strong'], { prefix });
    expect(got.stdout).toContain(`"version":1${'0'.repeat(38)}`);
    const imported = await shopdb(['order', 'import', '-', '--overwrite'], { prefix: copy, input: `${got.stdout}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect((await boto3Get(`${copy}EcommerceOrders`, { orderId: { S: 'v-38' } }))?.version).toEqual({ N: `1${'0'.repeat(38)}` });
  });

  it('maps nested as deep as DynamoDB allows round-trip through export and import; one level more is a bad line', async () => {
    const nest = (levels: number): DynamoJson => {
      let value: DynamoJson = { S: 'x' };
      for (let i = 0; i < levels; i++) value = { M: { a: value } };
      return value;
    };
    // 31 maps under a top-level attribute and 29 under a product line's: DynamoDB's 32 levels, as DynamoDB counts them.
    await boto3([
      { op: 'put_item', table: ORDERS, item: { orderId: { S: 'deep' }, deep: nest(31) } },
      { op: 'put_item', table: CARTS, item: { cartId: { S: 'deep' }, products: { L: [{ M: { productId: { S: 'p' }, deep: nest(29) } }] } } },
    ]);
    for (const kind of ['order', 'cart'] as const) {
      const got = await shopdb([kind, 'get', 'deep', '--strong'], { prefix });
      expect(got.exitCode, got.stderr).toBe(0);
      const imported = await shopdb([kind, 'import', '-'], { prefix: copy, input: `${got.stdout}\n` });
      expect(imported.exitCode, imported.stderr).toBe(0);
      expect((await shopdb([kind, 'get', 'deep', '--strong'], { prefix: copy })).stdout).toBe(got.stdout);
    }
    const tooDeep = [
      JSON.stringify({ orderId: 'deep-32', extra: { deep: nest(32) } }),
      JSON.stringify({ cartId: 'deep-30', products: [{ productId: 'p', name: null, quantity: null, unitPrice: null, extra: { deep: nest(30) } }] }),
    ];
    const orderRun = await shopdb(['order', 'import', '-'], { prefix: copy, input: `${tooDeep[0]}\n` });
    expect(orderRun.exitCode).toBe(2);
    expect(orderRun.stderr).toContain("nests deeper than DynamoDB's 32 levels");
    const cartRun = await shopdb(['cart', 'import', '-'], { prefix: copy, input: `${tooDeep[1]}\n` });
    expect(cartRun.exitCode).toBe(2);
    expect(cartRun.stderr).toContain("nests deeper than DynamoDB's 32 levels");
  });

  it('an empty or over-long attribute name at any depth is a bad line with its number; the other lines are written', async () => {
    const lines = Array.from({ length: 120 }, (_, i) => ({ orderId: `nm-${i}`, userId: 'u', status: 'PENDING' }) as Record<string, unknown>);
    lines[50] = { ...lines[50], extra: { y: { M: { '': { S: 'b' } } } } };
    lines[90] = { ...lines[90], extra: { ['n'.repeat(65536)]: { S: 'b' } } };
    for (const overwrite of [[], ['--overwrite']]) {
      const run = await shopdb(['order', 'import', '-', ...overwrite], { prefix: copy, input: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n` });
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toContain('line 51: extra.y.M: holds an attribute with an empty name');
      expect(run.stderr).toMatch(/line 91: extra\.\\"nnnn[^\n]*is a name of 65536 bytes; DynamoDB allows at most 65535/);
      expect(run.json()).toEqual({ read: 120, written: 118, skipped: 0, failed: 2 });
    }
  });

  it('a lone surrogate escaped in a line is a bad line, in an id, in extra names and in extra strings', async () => {
    const lines = [
      String.raw`{"orderId":"s1","userId":"u\ud800"}`,
      String.raw`{"orderId":"s2","extra":{"x":{"S":"\udfff"}}}`,
      String.raw`{"orderId":"s3","extra":{"\ud800":{"S":"a"}}}`,
      String.raw`{"orderId":"s4","extra":{"x":{"M":{"\udc00":{"S":"a"}}}}}`,
      String.raw`{"orderId":"s5","extra":{"x":{"SS":["\ud800"]}}}`,
    ];
    const run = await shopdb(['order', 'import', '-'], { prefix: copy, input: `${lines.join('\n')}\n` });
    expect(run.exitCode).toBe(2);
    for (const number of [1, 2, 3, 4, 5]) expect(run.stderr).toContain(`line ${number}:`);
    expect(run.stderr).toContain('userId: must be valid Unicode');
    expect(run.stderr).toContain('extra.x.S: must be valid Unicode');
    expect(run.stderr).toMatch(/line 3: extra\.[^\n]*ud800[^\n]*is a name that is not valid Unicode/);
    expect(run.stderr).toMatch(/line 4: extra\.x\.M\.[^\n]*udc00[^\n]*is a name that is not valid Unicode/);
    expect(run.json()).toMatchObject({ written: 0, failed: 5 });
  });

  it('an argument that was not valid UTF-8 (Node reads it as U+FFFD) is refused as an id', async () => {
    const run = await shopdb(['order', 'create', '--user', 'u', '--amount', '1', '--', '\uFFFD\uFFFD'], { prefix });
    expect(run.exitCode).toBe(2);
    expect(message(run)).toContain('not valid UTF-8');
  });

  it('add-product on a cart whose total is a negative number or has 3 decimals says which', async () => {
    await boto3([
      { op: 'put_item', table: CARTS, item: { cartId: { S: 'neg-total' }, products: { L: [] }, totalAmount: { N: '-1' } } },
      { op: 'put_item', table: CARTS, item: { cartId: { S: 'fine-total' }, products: { L: [] }, totalAmount: { N: '1.005' } } },
    ]);
    const negative = await shopdb(['cart', 'add-product', 'neg-total', 'pen', '--price', '1.00'], { prefix });
    expect(negative.exitCode).toBe(4);
    expect(message(negative)).toContain('totalAmount holds the number -1, which is negative');
    const fine = await shopdb(['cart', 'add-product', 'fine-total', 'pen', '--price', '1.00'], { prefix });
    expect(fine.exitCode).toBe(4);
    expect(message(fine)).toContain('totalAmount holds the number 1.005, which has more than 2 decimals');
  });
});

describe('a batch DynamoDB refuses for one item', () => {
  it('is written item by item: only that line fails (a bad line with its number), the others are written and counted', async () => {
    // Past shopdb's validation on purpose (an empty nested name), so that DynamoDB Local itself refuses the batch.
    const store = openDynamoStore(
      { endpoint: inject('dynamoEndpoint'), region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: 'test' },
      tableNames(copy),
    );
    try {
      for (const overwrite of [false, true]) {
        const lines = async function* (): AsyncGenerator<NumberedLine> {
          for (let i = 0; i < 100; i++) yield { number: i + 1, text: JSON.stringify({ orderId: `refused-${i}`, userId: 'u', status: 'PENDING', version: 1 }) };
        };
        const invalid: Array<[number, string]> = [];
        const parse = (value: unknown): Order => {
          const order = parseOrderRecord(value);
          return order.orderId === 'refused-60' ? { ...order, extra: { y: { M: { '': { S: 'b' } } } } } : order;
        };
        const summary = await importLines(lines(), { parse, idOf: (order) => order.orderId, writer: store.bulkOrders }, {
          overwrite,
          concurrency: 1,
          onInvalidLine: (line, error) => invalid.push([line, error.message]),
          onConflict: () => undefined,
        });
        expect(summary).toEqual({ read: 100, written: 99, skipped: 0, failed: 1 });
        expect(invalid).toHaveLength(1);
        expect(invalid[0]?.[0]).toBe(61);
        expect(invalid[0]?.[1]).toMatch(/DynamoDB refused the item.*Empty attribute name/);
        expect(await boto3Get(`${copy}EcommerceOrders`, { orderId: { S: 'refused-99' } })).not.toBeNull();
        expect(await boto3Get(`${copy}EcommerceOrders`, { orderId: { S: 'refused-60' } })).toBeNull();
        // The second round (--overwrite) replaces the 99 the first one wrote.
      }
    } finally {
      store.close();
    }
  });
});

describe('attribute names that are Object.prototype members', () => {
  // Once: valueOf/hasOwnProperty crashed get and export (exit 1, blamed on DynamoDB); constructor/toString vanished from
  // extra and import --overwrite then deleted them; __proto__ was written as nothing.
  const names = uniquePrefix('legacy-proto');
  const namesCopy = uniquePrefix('legacy-proto-copy');
  const NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
  const own = (entries: Array<[string, unknown]>): DynamoJson => Object.fromEntries(entries);
  const orderItem = (name: string): DynamoJson =>
    own([['orderId', { S: `n-${name}` }], [name, { S: 'top' }], ['meta', { M: own([[name, { M: own([[name, { L: [{ S: 'deep' }] }]]) }]]) }]]);
  const cartItem = (name: string): DynamoJson => own([
    ['cartId', { S: `c-${name}` }],
    ['userId', { S: 'u1' }],
    ['products', { L: [{ M: own([['productId', { S: 'mug' }], ['quantity', { N: '1' }], ['unitPrice', { N: '5' }], [name, { S: 'in-line' }], ['more', { M: own([[name, { N: '7' }]]) }]]) }] }],
    ['totalAmount', { N: '5' }],
    [name, { BOOL: true }],
  ]);

  beforeAll(async () => {
    await boto3([
      { op: 'create_tables', prefix: names },
      { op: 'create_tables', prefix: namesCopy },
      ...NAMES.map((name) => ({ op: 'put_item', table: `${names}EcommerceOrders`, item: orderItem(name) }) as const),
      ...NAMES.map((name) => ({ op: 'put_item', table: `${names}EcommerceCarts`, item: cartItem(name) }) as const),
    ]);
  }, 120_000);

  it.each(NAMES)('%s: get shows it in extra, at the top, in a line and nested', async (name) => {
    const order = await shopdb(['order', 'get', `n-${name}`, '--strong'], { prefix: names });
    expect(order.exitCode, order.stderr).toBe(0);
    expect((order.json() as { extra: unknown }).extra).toEqual(own([[name, { S: 'top' }], ['meta', { M: own([[name, { M: own([[name, { L: [{ S: 'deep' }] }]]) }]]) }]]));
    const cart = await shopdb(['cart', 'get', `c-${name}`, '--strong'], { prefix: names });
    expect(cart.exitCode, cart.stderr).toBe(0);
    const body = cart.json() as { extra: unknown; products: Array<{ extra: unknown }> };
    expect(body.extra).toEqual(own([[name, { BOOL: true }]]));
    expect(body.products[0]?.extra).toEqual(own([[name, { S: 'in-line' }], ['more', { M: own([[name, { N: '7' }]]) }]]));
  });

  it.each(['order', 'cart'] as const)('%s export, import into another table, and import --overwrite onto itself: every item exactly as boto3 wrote it', async (kind) => {
    const table = kind === 'order' ? 'EcommerceOrders' : 'EcommerceCarts';
    const exported = await shopdb([kind, 'export'], { prefix: names });
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(exported.stdout.trim().split('\n')).toHaveLength(NAMES.length);
    const copied = await shopdb([kind, 'import', '-'], { prefix: namesCopy, input: exported.stdout });
    expect(copied.exitCode, copied.stderr).toBe(0);
    const overwritten = await shopdb([kind, 'import', '-', '--overwrite'], { prefix: names, input: exported.stdout });
    expect(overwritten.exitCode, overwritten.stderr).toBe(0);
    for (const name of NAMES) {
      const written = kind === 'order' ? orderItem(name) : cartItem(name);
      const key = kind === 'order' ? { orderId: written.orderId } : { cartId: written.cartId };
      // import stamps a version on items that had none; everything else is as boto3 wrote it.
      const withoutVersion = (item: DynamoJson | null) => canonical(Object.fromEntries(Object.entries(item ?? {}).filter(([attribute]) => attribute !== 'version')));
      expect(withoutVersion(await boto3Get(`${namesCopy}${table}`, key))).toEqual(canonical(written));
      expect(withoutVersion(await boto3Get(`${names}${table}`, key))).toEqual(canonical(written));
    }
  });

  it('add-product on a cart whose line holds such a name keeps it', async () => {
    const run = await shopdb(['cart', 'add-product', 'c-valueOf', 'mug', '--price', '5', '--quantity', '2'], { prefix: names });
    expect(run.exitCode, run.stderr).toBe(0);
    const stored = await boto3Get(`${names}EcommerceCarts`, { cartId: { S: 'c-valueOf' } });
    const line = ((stored?.products as { L: Array<{ M: DynamoJson }> }).L[0] as { M: DynamoJson }).M;
    expect(canonical(line)).toEqual(canonical(own([['productId', { S: 'mug' }], ['quantity', { N: '3' }], ['unitPrice', { N: '5' }], ['valueOf', { S: 'in-line' }], ['more', { M: own([['valueOf', { N: '7' }]]) }]])));
    expect(stored?.valueOf).toEqual({ BOOL: true });
  });

  it('__proto__ (which the SDK cannot carry) is refused by name, never dropped: import exit 2, get exit 4', async () => {
    const lines = [
      JSON.stringify({ orderId: 'p-top', extra: own([['__proto__', { S: 'p' }]]) }),
      JSON.stringify({ orderId: 'p-nested', extra: { meta: { M: own([['__proto__', { S: 'p' }]]) } } }),
    ];
    const imported = await shopdb(['order', 'import', '-'], { prefix: namesCopy, input: `${lines.join('\n')}\n` });
    expect(imported.exitCode).toBe(2);
    expect(imported.stderr).toContain('line 1: extra.__proto__: is an attribute named \\"__proto__\\"');
    expect(imported.stderr).toContain('line 2: extra.meta.M.__proto__: is an attribute named \\"__proto__\\"');
    expect(await boto3Get(`${namesCopy}EcommerceOrders`, { orderId: { S: 'p-top' } })).toBeNull();
    expect(await boto3Get(`${namesCopy}EcommerceOrders`, { orderId: { S: 'p-nested' } })).toBeNull();

    await boto3([{ op: 'put_item', table: `${namesCopy}EcommerceCarts`, item: own([['cartId', { S: 'p-cart' }], ['products', { L: [{ M: own([['__proto__', { S: 'p' }]]) }] }]]) }]);
    const got = await shopdb(['cart', 'get', 'p-cart', '--strong'], { prefix: namesCopy });
    expect(got.exitCode).toBe(4);
    expect(message(got)).toContain('holds an attribute named "__proto__" (at products[0].__proto__)');
    // Export reads attribute values directly, so it carries the name rather than stopping the whole table.
    const exported = await shopdb(['cart', 'export'], { prefix: namesCopy });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const line = exported.stdout.split('\n').find((text) => text.includes('"p-cart"')) ?? '';
    expect(line).toContain('"extra":{"__proto__":{"S":"p"}}');
  });

  it('a top-level __proto__ is exported in extra, and import (--overwrite too) refuses that line by name: the item keeps it', async () => {
    // Once: export dropped it silently (exit 0), and export → import --overwrite deleted it from DynamoDB.
    const item = own([['orderId', { S: 'p-top-stored' }], ['userId', { S: 'u1' }], ['__proto__', { S: 'secret-data' }]]);
    await boto3([{ op: 'put_item', table: `${namesCopy}EcommerceOrders`, item }]);
    const exported = await shopdb(['order', 'export'], { prefix: namesCopy });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const line = exported.stdout.split('\n').find((text) => text.includes('"p-top-stored"')) ?? '';
    expect(line).toContain('"extra":{"__proto__":{"S":"secret-data"}}');
    const overwritten = await shopdb(['order', 'import', '-', '--overwrite'], { prefix: namesCopy, input: `${line}\n` });
    expect(overwritten.exitCode).toBe(2);
    expect(overwritten.stderr).toContain('line 1: extra.__proto__: is an attribute named \\"__proto__\\"');
    expect(canonical(await boto3Get(`${namesCopy}EcommerceOrders`, { orderId: { S: 'p-top-stored' } }))).toEqual(canonical(item));
  });
});

describe('set-status on an order holding an attribute named __proto__', () => {
  // Once: the update was applied and then refused after the fact (exit 4 "cannot write" with the order changed).
  const prefix = uniquePrefix('legacy-proto-move');
  const TABLE = `${prefix}EcommerceOrders`;
  const own = (entries: Array<[string, unknown]>): DynamoJson => Object.fromEntries(entries);

  beforeAll(async () => {
    await boto3([
      { op: 'create_tables', prefix },
      { op: 'put_item', table: TABLE, item: own([['orderId', { S: 'top' }], ['status', { S: 'PENDING' }], ['version', { N: '1' }], ['__proto__', { S: 'evil' }]]) },
      { op: 'put_item', table: TABLE, item: own([['orderId', { S: 'nested' }], ['status', { S: 'PENDING' }], ['version', { N: '1' }], ['meta', { M: own([['__proto__', { S: 'kept' }]]) }]]) },
    ]);
  }, 120_000);

  it('at the top: exit 4 and nothing changed, however often it is asked', async () => {
    for (let i = 0; i < 2; i++) {
      const run = await shopdb(['order', 'set-status', 'top', 'PAID'], { prefix });
      expect(run.exitCode, run.stderr).toBe(4);
      expect(message(run)).toContain('holds an attribute named "__proto__"');
    }
    const stored = await boto3Get(TABLE, { orderId: { S: 'top' } });
    expect(stored?.status).toEqual({ S: 'PENDING' });
    expect(stored?.version).toEqual({ N: '1' });
  });

  it('nested: the move applies, exit 0, and the printed order keeps the attribute in extra', async () => {
    const run = await shopdb(['order', 'set-status', 'nested', 'PAID'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('"extra":{"meta":{"M":{"__proto__":{"S":"kept"}}}}');
    expect((await boto3Get(TABLE, { orderId: { S: 'nested' } }))?.status).toEqual({ S: 'PAID' });
  });
});
