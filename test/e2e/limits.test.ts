/*
 * DynamoDB's limits through the built binary: 38-digit numbers, whole numbers
 * past 2^53, and the 400 KB item. Whatever shopdb stores, export prints and
 * import takes back; a write past a limit is exit 4 naming it, item intact.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { putRaw, rawClient } from '../support/dynamo.js';

const prefix = uniquePrefix('limits');
const copy = uniquePrefix('limits-copy');
// Exports read whole tables: the carts that are exported get tables of their own.
const exports = uniquePrefix('limits-export');
const CARTS = `${prefix}EcommerceCarts`;
const ORDERS = `${prefix}EcommerceOrders`;
const client = rawClient();

beforeAll(async () => {
  await Promise.all([createTables(prefix), createTables(copy), createTables(exports)]);
});

function message(run: { stderr: string }): string {
  return (JSON.parse(run.stderr) as { error: { message: string } }).error.message;
}

async function stored(table: string, key: Record<string, { S: string }>) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}

describe('money past 17 integer digits', () => {
  it('a total that add-product reaches exports and imports back', async () => {
    await shopdb(['cart', 'create', 'c-rich', '--user', 'u1'], { prefix: exports });
    for (let i = 0; i < 3; i++) {
      const run = await shopdb(['cart', 'add-product', 'c-rich', `gold-${i}`, '--price', '99999999999999999.99', '--quantity', '1000000'], { prefix: exports });
      expect(run.exitCode, run.stderr).toBe(0);
    }
    const got = await shopdb(['cart', 'get', 'c-rich', '--strong'], { prefix: exports });
    expect(got.json()).toMatchObject({ totalAmount: '299999999999999999970000.00' });
    const exported = await shopdb(['cart', 'export'], { prefix: exports });
    const line = exported.stdout.split('\n').find((text) => text.includes('"c-rich"'));
    const imported = await shopdb(['cart', 'import', '-'], { prefix: copy, input: `${line}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect((await shopdb(['cart', 'get', 'c-rich', '--strong'], { prefix: copy })).stdout).toBe(got.stdout);
  });

  it('a total past the 38 digits a DynamoDB number holds: exit 4 naming totalAmount, cart intact', async () => {
    const top = '999999999999999999999999999999999999.99';
    const line = { cartId: 'c-top', userId: 'u1', products: [{ productId: 'bar', name: null, quantity: 1, unitPrice: top }], totalAmount: top, createdAt: null, updatedAt: null, version: 1 };
    const imported = await shopdb(['cart', 'import', '-'], { prefix, input: `${JSON.stringify(line)}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const run = await shopdb(['cart', 'add-product', 'c-top', 'pen', '--price', '0.10'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(message(run)).toMatch(/^cart c-top cannot take 1 × pen: totalAmount would pass the 38 significant digits/);
    expect((await shopdb(['cart', 'get', 'c-top', '--strong'], { prefix })).json()).toMatchObject({ totalAmount: top, version: 1 });
  });

  it('a quantity past 38 digits: exit 4 naming the quantity, cart intact', async () => {
    await putRaw(client, CARTS, {
      cartId: { S: 'c-many' },
      products: { L: [{ M: { productId: { S: 'dust' }, quantity: { N: '99999999999999999999999999999999999999' }, unitPrice: { N: '0' } } }] },
      totalAmount: { N: '0' },
      version: { N: '1' },
    });
    const run = await shopdb(['cart', 'add-product', 'c-many', 'dust', '--price', '0', '--quantity', '2'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(message(run)).toContain('products[0].quantity would pass the 38 significant digits');
    expect((await stored(CARTS, { cartId: { S: 'c-many' } }))?.version).toEqual({ N: '1' });
  });
});

describe('whole numbers past 2^53 stay exact', () => {
  it('a cart version at the 38-digit edge: add-product is exit 4 naming the version, cart intact', async () => {
    await putRaw(client, CARTS, { cartId: { S: 'c-edge' }, userId: { S: 'u1' }, products: { L: [] }, totalAmount: { N: '0' }, version: { N: '1E+38' } });
    const run = await shopdb(['cart', 'add-product', 'c-edge', 'pen', '--price', '1.00'], { prefix });
    expect(run.exitCode, run.stderr).toBe(4);
    expect(message(run)).toMatch(/^cart c-edge cannot take 1 × pen: version would pass the 38 significant digits/);
    expect((await stored(CARTS, { cartId: { S: 'c-edge' } }))?.products).toEqual({ L: [] });
  });

  it('a version at the 38-digit edge: set-status is exit 4 naming the version, order intact', async () => {
    // 10^38 is one significant digit; 10^38 + 1 would need 39, which DynamoDB refuses.
    await putRaw(client, ORDERS, { orderId: { S: 'o-edge' }, userId: { S: 'u1' }, status: { S: 'PENDING' }, version: { N: '1E+38' } });
    const moved = await shopdb(['order', 'set-status', 'o-edge', 'PAID'], { prefix });
    expect(moved.exitCode, moved.stderr).toBe(4);
    expect(message(moved)).toMatch(/version would pass the 38 significant digits/);
    expect((await stored(ORDERS, { orderId: { S: 'o-edge' } }))?.status).toEqual({ S: 'PENDING' });
  });

  it('an order version: read, and raised by set-status, to the digit', async () => {
    await putRaw(client, ORDERS, { orderId: { S: 'o-old' }, userId: { S: 'u1' }, totalAmount: { N: '1' }, status: { S: 'PENDING' }, version: { N: '9007199254740993' } });
    const got = await shopdb(['order', 'get', 'o-old', '--strong', '--output', 'table'], { prefix, env: { NO_COLOR: '1' } });
    expect(got.stdout).toContain('9007199254740993');
    const moved = await shopdb(['order', 'set-status', 'o-old', 'PAID', '--output', 'table'], { prefix, env: { NO_COLOR: '1' } });
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(moved.stdout).toContain('version 9007199254740994');
    expect((await stored(ORDERS, { orderId: { S: 'o-old' } }))?.version).toEqual({ N: '9007199254740994' });
  });

  it('a cart quantity: the line and the total stay consistent', async () => {
    await putRaw(client, CARTS, {
      cartId: { S: 'c-huge' },
      products: { L: [{ M: { productId: { S: 'grain' }, quantity: { N: '9007199254740993' }, unitPrice: { N: '0.01' } } }] },
      totalAmount: { N: '90071992547409.93' },
      version: { N: '3' },
    });
    // 2^53 + 3 is not a double: a rounded read would print 9007199254740996.
    const run = await shopdb(['cart', 'add-product', 'c-huge', 'grain', '--price', '0.01', '--quantity', '2', '--output', 'table'], { prefix, env: { NO_COLOR: '1' } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('now 9007199254740995 in the cart, total 90071992547409.95');
    const got = await shopdb(['cart', 'get', 'c-huge', '--strong', '--output', 'table'], { prefix, env: { NO_COLOR: '1' } });
    expect(got.stdout).toMatch(/grain\s+│[^│]*│\s+9007199254740995 │\s+0.01 │\s+90071992547409.95 │/);
  });

  it('import --overwrite over a version past 2^53 writes the next one exactly', async () => {
    await putRaw(client, ORDERS, { orderId: { S: 'o-over' }, userId: { S: 'u1' }, version: { N: '9007199254740993' } });
    const line = { orderId: 'o-over', userId: 'u2', totalAmount: '1.00', status: 'PAID', createdAt: null, updatedAt: null, version: 1 };
    const run = await shopdb(['order', 'import', '-', '--overwrite'], { prefix, input: `${JSON.stringify(line)}\n` });
    expect(run.exitCode, run.stderr).toBe(0);
    expect((await stored(ORDERS, { orderId: { S: 'o-over' } }))?.version).toEqual({ N: '9007199254740994' });
  });
});

describe('import --overwrite at the 38-digit edge', () => {
  // Once: replace sent version + 1 (39 significant digits) and the line failed as "DynamoDB refused the item: … BatchWriteItem …".
  it('a replaced version at 10^38 or 10^40: that line is refused naming the version, before sending; the others are written', async () => {
    const table = `${exports}EcommerceOrders`;
    await putRaw(client, table, { orderId: { S: 'o-big38' }, userId: { S: 'u1' }, status: { S: 'PENDING' }, version: { N: '1E+38' } });
    await putRaw(client, table, { orderId: { S: 'o-big40' }, userId: { S: 'u1' }, status: { S: 'PENDING' }, version: { N: '1E+40' } });
    await putRaw(client, table, { orderId: { S: 'o-fine' }, userId: { S: 'u1' }, status: { S: 'PENDING' }, version: { N: '5' } });
    const exported = await shopdb(['order', 'export'], { prefix: exports });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    const edited = lines.map((line) => line.replace('"PENDING"', '"PAID"'));
    const run = await shopdb(['order', 'import', '-', '--overwrite'], { prefix: exports, input: `${edited.join('\n')}\n` });
    expect(run.exitCode).toBe(2);
    const numberOf = (id: string) => lines.findIndex((line) => line.includes(`"${id}"`)) + 1;
    expect(run.stderr).toContain(
      `line ${numberOf('o-big38')}: version: replacing order o-big38 (version 1${'0'.repeat(38)}) needs version 1${'0'.repeat(37)}1, past the 38 significant digits a DynamoDB number holds; nothing was written for this line`,
    );
    expect(run.stderr).toContain(`line ${numberOf('o-big40')}: version: replacing order o-big40 (version 1${'0'.repeat(40)}) needs version 1${'0'.repeat(39)}1, past the 38 significant digits`);
    expect(run.stderr).not.toContain('DynamoDB refused');
    expect(run.json()).toMatchObject({ read: 3, written: 1, failed: 2 });
    expect(await stored(table, { orderId: { S: 'o-fine' } })).toMatchObject({ status: { S: 'PAID' }, version: { N: '6' } });
    for (const [id, version] of [['o-big38', 10n ** 38n], ['o-big40', 10n ** 40n]] as const) {
      const item = await stored(table, { orderId: { S: id } });
      expect(item?.status).toEqual({ S: 'PENDING' });
      expect(BigInt(item?.version?.N ?? '0')).toBe(version);
    }
  });
});

describe('the 400 KB item', () => {
  const name = (i: number) => `${String(i).padStart(4, '0')}-${'n'.repeat(995)}`;

  it('a cart grown past 350 KB of JSON exports and imports back; past 400 KB add-product says it is full, cart intact', async () => {
    // 380 lines with 1000-character names: about 397 KB as DynamoDB counts, about 405 KB of JSON.
    const products = Array.from({ length: 380 }, (_, i) => ({ productId: `p${i}`, name: name(i), quantity: 1, unitPrice: '0.01' }));
    const cart = { cartId: 'c-big', userId: 'u1', products, totalAmount: '3.80', createdAt: null, updatedAt: null, version: 1 };
    expect(Buffer.byteLength(JSON.stringify(cart))).toBeGreaterThan(350_000);
    const imported = await shopdb(['cart', 'import', '-'], { prefix: exports, input: `${JSON.stringify(cart)}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);

    let full: Awaited<ReturnType<typeof shopdb>> | undefined;
    let before = '';
    for (let i = 380; i < 420 && !full; i++) {
      before = (await shopdb(['cart', 'get', 'c-big', '--strong'], { prefix: exports })).stdout;
      const run = await shopdb(['cart', 'add-product', 'c-big', `p${i}`, '--price', '0.01', '--name', name(i)], { prefix: exports });
      if (run.exitCode !== 0) full = run;
    }
    expect(full?.exitCode).toBe(4);
    expect(message(full as { stderr: string })).toMatch(/^cart c-big is full: adding p\d+ would take it past DynamoDB's 400 KB item limit/);
    expect((await shopdb(['cart', 'get', 'c-big', '--strong'], { prefix: exports })).stdout).toBe(before);

    const exported = await shopdb(['cart', 'export'], { prefix: exports });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const line = exported.stdout.split('\n').find((text) => text.includes('"c-big"')) ?? '';
    expect(Buffer.byteLength(line)).toBeGreaterThan(400_000);
    const again = await shopdb(['cart', 'import', '-'], { prefix: copy, input: `${line}\n` });
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await shopdb(['cart', 'get', 'c-big', '--strong'], { prefix: copy })).stdout).toBe(before);
  });

  it('import refuses, by line, a cart DynamoDB would refuse', async () => {
    const products = Array.from({ length: 420 }, (_, i) => ({ productId: `p${i}`, name: name(i), quantity: 1, unitPrice: '0.01' }));
    const cart = { cartId: 'c-over', userId: 'u1', products, totalAmount: '4.20', createdAt: null, updatedAt: null, version: 1 };
    const run = await shopdb(['cart', 'import', '-'], { prefix, input: `${JSON.stringify(cart)}\n` });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/line 1: cart: is \d+ bytes as DynamoDB counts them, over its 409600-byte/);
  });
});
