/**
 * cart set-quantity and remove-product (issue 9) through the built binary
 * against DynamoDB Local: exact totals, racing writers, resends after a lost
 * answer, the cache, items the original design wrote, DynamoDB's number
 * limit, bad input, a fast-check model, and the terminal at 80/50 columns.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openShop, type Shop } from '../../src/app/shop.js';
import type { Cart } from '../../src/core/model.js';
import { boto3, boto3Get, type DynamoJson } from '../support/boto3.js';
import { createTables, jsonError as error, shopdb, uniquePrefix, withPrefix } from '../support/cli.js';
import { rawClient, shopSettings } from '../support/dynamo.js';
import { requestToken, startFaultProxy, type Fault, type SeenRequest } from '../support/fault-proxy.js';
import { pty, SGR, STACK_LINE, stripAnsi, type PtyRun } from '../support/pty.js';

const prefix = uniquePrefix('cartedits');
const { run, ok } = withPrefix(prefix);
const CARTS = `${prefix}EcommerceCarts`;
const redisUrl = inject('redisUrl');
const client = rawClient();

beforeAll(() => createTables(prefix));
afterAll(() => client.destroy());

interface Line {
  productId: string;
  name: string | null;
  quantity: number;
  unitPrice: string;
}
interface CartJson {
  cartId: string;
  userId: string | null;
  products: Line[];
  totalAmount: string;
  version: number;
  status: string | null;
  orderId: string | null;
}

async function strong(cartId: string): Promise<CartJson> {
  const got = await run(['cart', 'get', cartId, '--strong']);
  expect(got.exitCode, got.stderr).toBe(0);
  return got.json<CartJson>();
}

function cents(amount: string): bigint {
  const [whole = '0', fraction = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

function formatCents(value: bigint): string {
  return `${value / 100n}.${String(value % 100n).padStart(2, '0')}`;
}

/** The sum of the lines, exactly. */
function linesTotal(products: Line[]): string {
  return formatCents(products.reduce((sum, line) => sum + cents(line.unitPrice) * BigInt(line.quantity), 0n));
}

/** A cart with the given lines (productId, price, quantity), made through the binary. */
async function cartWith(cartId: string, lines: Array<[string, string, number]>): Promise<CartJson> {
  await ok(['cart', 'create', cartId, '--user', 'u-edit']);
  for (const [productId, price, quantity] of lines) await ok(['cart', 'add-product', cartId, productId, '--price', price, '--quantity', String(quantity)]);
  return strong(cartId);
}

describe('set-quantity and remove-product', () => {
  it('set-quantity changes one line and the total exactly, version +1; the same quantity is unchanged', async () => {
    await cartWith('c-set', [['mug', '19.99', 3], ['pen', '0.10', 1]]);
    const set = await ok(['cart', 'set-quantity', 'c-set', 'pen', '7']);
    expect(set.json()).toMatchObject({
      result: 'updated',
      cart: { products: [{ productId: 'mug', quantity: 3 }, { productId: 'pen', quantity: 7 }], totalAmount: '60.67', version: 4 },
    });
    const same = await ok(['cart', 'set-quantity', 'c-set', 'pen', '7']);
    expect(same.json()).toMatchObject({ result: 'unchanged', cart: { totalAmount: '60.67', version: 4 } });
    expect(await strong('c-set')).toMatchObject({ totalAmount: '60.67', version: 4 });
  });

  it('set-quantity 0 removes the line, as remove-product does', async () => {
    await cartWith('c-zero', [['mug', '19.99', 3], ['pen', '0.10', 2], ['cup', '3.33', 1]]);
    const zero = await ok(['cart', 'set-quantity', 'c-zero', 'pen', '0']);
    expect(zero.json()).toMatchObject({ result: 'updated', cart: { products: [{ productId: 'mug' }, { productId: 'cup' }], totalAmount: '63.30', version: 5 } });
    const removed = await ok(['cart', 'remove-product', 'c-zero', 'mug']);
    expect(removed.json()).toMatchObject({ result: 'updated', cart: { products: [{ productId: 'cup', quantity: 1 }], totalAmount: '3.33', version: 6 } });
    const last = await ok(['cart', 'remove-product', 'c-zero', 'cup']);
    expect(last.json()).toMatchObject({ cart: { products: [], totalAmount: '0.00', version: 7 } });
  });

  it('a product not in the cart is exit 3 naming it; a missing cart is exit 3; nothing changes', async () => {
    await cartWith('c-absent', [['mug', '1.00', 1]]);
    for (const args of [
      ['cart', 'remove-product', 'c-absent', 'pen'],
      ['cart', 'set-quantity', 'c-absent', 'pen', '2'],
      ['cart', 'set-quantity', 'c-absent', 'pen', '0'],
    ]) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(3);
      expect(error(result).message).toContain('pen');
    }
    for (const args of [
      ['cart', 'remove-product', 'c-nowhere', 'pen'],
      ['cart', 'set-quantity', 'c-nowhere', 'pen', '2'],
    ]) {
      const result = await run(args);
      expect(result.exitCode).toBe(3);
      expect(error(result).message).toContain('c-nowhere');
    }
    expect((await run(['cart', 'get', 'c-nowhere', '--strong'])).exitCode).toBe(3);
    expect(await strong('c-absent')).toMatchObject({ products: [{ productId: 'mug', quantity: 1 }], totalAmount: '1.00', version: 2 });
  });
});

describe('racing writers', () => {
  it('8 processes at once on one cart: every acknowledged change is there, the total is the sum of the lines', async () => {
    const before = await cartWith('c-race', [['shared', '1.11', 1], ['p0', '2.22', 1], ['p1', '3.33', 1], ['p2', '4.44', 1], ['p3', '5.55', 1]]);
    // Each change commutes with the others, so the end state is known whatever order they land in.
    const changes = [
      ['cart', 'add-product', 'c-race', 'shared', '--price', '1.11'],
      ['cart', 'add-product', 'c-race', 'shared', '--price', '1.11', '--quantity', '2'],
      ['cart', 'set-quantity', 'c-race', 'p0', '5'],
      ['cart', 'set-quantity', 'c-race', 'p1', '7'],
      ['cart', 'remove-product', 'c-race', 'p2'],
      ['cart', 'set-quantity', 'c-race', 'p3', '0'],
      ['cart', 'add-product', 'c-race', 'n1', '--price', '0.01', '--quantity', '9'],
      ['cart', 'add-product', 'c-race', 'n2', '--price', '99.99'],
    ];
    const runs = await Promise.all(changes.map((args) => run(args)));
    for (const [i, result] of runs.entries()) {
      expect(result.exitCode, `${changes[i]!.join(' ')}: ${result.stderr}`).toBe(0);
      expect(result.json()).toMatchObject({ result: 'updated' });
    }
    const after = await strong('c-race');
    const byId = Object.fromEntries(after.products.map((line) => [line.productId, line.quantity]));
    expect(byId).toEqual({ shared: 4, p0: 5, p1: 7, n1: 9, n2: 1 });
    expect(after.totalAmount).toBe(linesTotal(after.products));
    expect(after.totalAmount).toBe('138.93');
    expect(after.version).toBe(before.version + changes.length);
  });

  it('set-quantity racing remove-product of the same line: the line is gone, set-quantity applied first or found nothing (exit 3)', async () => {
    for (let round = 0; round < 4; round++) {
      const cartId = `c-set-remove-${round}`;
      await cartWith(cartId, [['mug', '19.99', 1], ['pen', '0.10', 2]]);
      const [set, remove] = await Promise.all([run(['cart', 'set-quantity', cartId, 'mug', '5']), run(['cart', 'remove-product', cartId, 'mug'])]);
      expect(remove.exitCode, remove.stderr).toBe(0);
      expect([0, 3], set.stderr).toContain(set.exitCode);
      const after = await strong(cartId);
      expect(after.products).toEqual([{ productId: 'pen', name: null, quantity: 2, unitPrice: '0.10' }]);
      expect(after.totalAmount).toBe('0.20');
      expect(after.version).toBe(3 + (set.exitCode === 0 ? 2 : 1));
    }
  });

  it('racing set-quantity of one line to different values: the last acknowledged wins, nothing lost in the total', async () => {
    await cartWith('c-same-line', [['mug', '19.99', 1], ['pen', '0.10', 1]]);
    const quantities = [2, 3, 4, 5, 6, 7];
    const runs = await Promise.all(quantities.map((quantity) => run(['cart', 'set-quantity', 'c-same-line', 'mug', String(quantity)])));
    for (const result of runs) expect(result.exitCode, result.stderr).toBe(0);
    const after = await strong('c-same-line');
    expect(quantities).toContain(after.products[0]!.quantity);
    expect(after.totalAmount).toBe(linesTotal(after.products));
    expect(after.version).toBe(3 + quantities.length);
  });
});

describe('a change applied whose answer is lost, so the SDK resends it', () => {
  async function throughProxy(args: string[], decide: (request: SeenRequest) => Fault) {
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), decide);
    try {
      return { result: await run([...args], { SHOPDB_ENDPOINT: proxy.endpoint }), seen: proxy.seen };
    } finally {
      await proxy.close();
    }
  }
  function firstWriteDropped(): (request: SeenRequest) => Fault {
    let done = false;
    return (request) => {
      if (done || request.operation !== 'TransactWriteItems') return 'forward';
      done = true;
      return 'drop-response';
    };
  }

  it('set-quantity applies once: exact total, version +1', async () => {
    await cartWith('c-lost-set', [['mug', '19.99', 3], ['pen', '0.10', 1]]);
    const { result, seen } = await throughProxy(['cart', 'set-quantity', 'c-lost-set', 'mug', '5'], firstWriteDropped());
    expect(result.exitCode, result.stderr).toBe(0);
    const writes = seen.filter((request) => request.operation === 'TransactWriteItems');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(writes.map(requestToken)).size).toBe(1);
    expect(result.json()).toMatchObject({ result: 'updated', cart: { totalAmount: '100.05', version: 4 } });
    expect(await strong('c-lost-set')).toMatchObject({ products: [{ quantity: 5 }, { quantity: 1 }], totalAmount: '100.05', version: 4 });
  });

  it('remove-product applies once: the other lines stay, exact total, version +1', async () => {
    await cartWith('c-lost-remove', [['mug', '19.99', 3], ['pen', '0.10', 1], ['cup', '2.00', 2]]);
    const { result, seen } = await throughProxy(['cart', 'remove-product', 'c-lost-remove', 'mug'], firstWriteDropped());
    expect(result.exitCode, result.stderr).toBe(0);
    expect(seen.filter((request) => request.operation === 'TransactWriteItems').length).toBeGreaterThanOrEqual(2);
    expect(await strong('c-lost-remove')).toMatchObject({ products: [{ productId: 'pen' }, { productId: 'cup' }], totalAmount: '4.10', version: 5 });
  });
});

describe('a change cancelled by another transaction in progress (TransactionConflict)', () => {
  /** DynamoDB cancels a transaction that meets another one still running on the item; a re-read then shows the cart as before. */
  async function afterConflict(args: string[]) {
    let answered = false;
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => {
      if (answered || request.operation !== 'TransactWriteItems') return 'forward';
      answered = true;
      return 'transaction-conflict';
    });
    try {
      const result = await run(args, { SHOPDB_ENDPOINT: proxy.endpoint });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(proxy.seen.filter((request) => request.operation === 'TransactWriteItems').length).toBeGreaterThanOrEqual(2);
      return result;
    } finally {
      await proxy.close();
    }
  }

  it.each([
    [['cart', 'set-quantity', 'c-tc-0', 'mug', '5'], { products: [{ productId: 'mug', quantity: 5 }], totalAmount: '99.95' }],
    [['cart', 'remove-product', 'c-tc-1', 'mug'], { products: [], totalAmount: '0.00' }],
    [['cart', 'add-product', 'c-tc-2', 'mug', '--price', '19.99'], { products: [{ productId: 'mug', quantity: 2 }], totalAmount: '39.98' }],
  ])('%j is tried again and applied once (not "refused though the cart reads unchanged")', async (args, expected) => {
    await cartWith(args[2]!, [['mug', '19.99', 1]]);
    const result = await afterConflict(args);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await strong(args[2]!)).toMatchObject({ ...expected, version: 3 });
  });
});

describe('with the cache', () => {
  const cached = { SHOPDB_REDIS_URL: redisUrl };

  it('after set-quantity and remove-product, get --cache shows the new lines, even when cached right before', async () => {
    await cartWith('c-cached', [['mug', '19.99', 3], ['pen', '0.10', 1]]);
    const primed = await run(['cart', 'get', 'c-cached', '--cache'], cached);
    expect(primed.json()).toMatchObject({ totalAmount: '60.07', version: 3 });

    expect((await run(['cart', 'set-quantity', 'c-cached', 'mug', '1', '--cache'], cached)).exitCode).toBe(0);
    expect((await run(['cart', 'get', 'c-cached', '--cache'], cached)).json()).toMatchObject({ products: [{ quantity: 1 }, { quantity: 1 }], totalAmount: '20.09', version: 4 });

    expect((await run(['cart', 'remove-product', 'c-cached', 'mug', '--cache'], cached)).exitCode).toBe(0);
    expect((await run(['cart', 'get', 'c-cached', '--cache'], cached)).json()).toMatchObject({ products: [{ productId: 'pen' }], totalAmount: '0.10', version: 5 });
  });

  it('a change made without --cache is still seen by the next cached read (versions outrank the cached copy)', async () => {
    await cartWith('c-cached-2', [['mug', '19.99', 3]]);
    expect((await run(['cart', 'get', 'c-cached-2', '--cache'], cached)).json()).toMatchObject({ version: 2 });
    // Written with --cache in the environment but as another process: the write itself refreshes the entry.
    expect((await run(['cart', 'set-quantity', 'c-cached-2', 'mug', '2'], cached)).exitCode).toBe(0);
    expect((await run(['cart', 'get', 'c-cached-2', '--cache'], cached)).json()).toMatchObject({ products: [{ quantity: 2 }], totalAmount: '39.98', version: 3 });
  });
});

describe('carts the original design or a person wrote', () => {
  const NO_VERSION: DynamoJson = {
    cartId: { S: 'py-cart' },
    userId: { S: 'py' },
    products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '2' }, unitPrice: { N: '5' }, sku: { S: 'M-1' } } }, { M: { productId: { S: 'pen' }, quantity: { N: '1' }, unitPrice: { N: '0.1' } } }] },
    totalAmount: { N: '10.1' },
    coupon: { S: 'SPRING' },
  };
  const FOREIGN_LINES: DynamoJson = {
    cartId: { S: 'hand-lines' },
    userId: { S: 'bob' },
    products: { L: [{ M: { productId: { S: 'mug' }, price: { N: '19.99' }, qty: { N: '2' } } }, { M: { productId: { S: 'pen' }, quantity: { N: '1' }, unitPrice: { N: '0.1' } } }] },
    totalAmount: { N: '40.08' },
  };

  beforeAll(async () => {
    await boto3([
      { op: 'put_item', table: CARTS, item: NO_VERSION },
      { op: 'put_item', table: CARTS, item: { ...NO_VERSION, cartId: { S: 'py-cart-2' } } },
      { op: 'put_item', table: CARTS, item: FOREIGN_LINES },
    ]);
  });

  it('set-quantity on a boto3 cart without version works; version becomes 1; the other attributes stay', async () => {
    const result = await run(['cart', 'set-quantity', 'py-cart', 'pen', '3']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ result: 'updated', cart: { totalAmount: '10.30', version: 1 } });
    const stored = await boto3Get(CARTS, { cartId: { S: 'py-cart' } });
    expect(stored?.coupon).toEqual({ S: 'SPRING' });
    expect(stored?.version).toEqual({ N: '1' });
    const lines = (stored?.products as { L: Array<{ M: Record<string, unknown> }> }).L;
    expect(lines[0]?.M.sku).toEqual({ S: 'M-1' });
    expect(lines[1]?.M.quantity).toEqual({ N: '3' });
  });

  it('remove-product on a boto3 cart without version works; version becomes 1; the other attributes stay', async () => {
    const result = await run(['cart', 'remove-product', 'py-cart-2', 'mug']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ cart: { products: [{ productId: 'pen' }], totalAmount: '0.10', version: 1 } });
    const stored = await boto3Get(CARTS, { cartId: { S: 'py-cart-2' } });
    expect(stored).toMatchObject({ coupon: { S: 'SPRING' }, version: { N: '1' }, userId: { S: 'py' } });
  });

  it('on a cart whose lines are foreign (price/qty): exit 4 naming the attribute, nothing changed', async () => {
    const before = await boto3Get(CARTS, { cartId: { S: 'hand-lines' } });
    for (const args of [
      ['cart', 'set-quantity', 'hand-lines', 'pen', '4'],
      ['cart', 'remove-product', 'hand-lines', 'pen'],
      ['cart', 'remove-product', 'hand-lines', 'mug'],
    ]) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(4);
      expect(error(result).message).toContain('products[0].quantity is missing (the line holds price, qty)');
      expect(result.stderr).not.toMatch(/too fast|please report|\n\s+at /);
    }
    expect(await boto3Get(CARTS, { cartId: { S: 'hand-lines' } })).toEqual(before);
  });
});

describe("DynamoDB's 38 significant digits", () => {
  const TOP = '999999999999999999999999999999999999.99';

  it('set-quantity up to a total of exactly 38 significant digits works; one more is exit 4 naming totalAmount, cart intact', async () => {
    // 333…33.33 × 3 = 999…99.99: 38 nines, the most a DynamoDB number holds.
    const third = '333333333333333333333333333333333333.33';
    const line = { cartId: 'c-edge', userId: 'u1', products: [{ productId: 'bar', name: null, quantity: 1, unitPrice: third }], totalAmount: third, createdAt: null, updatedAt: null, version: 1 };
    const put = await shopdb(['cart', 'import', '-'], { prefix, input: `${JSON.stringify(line)}\n` });
    expect(put.exitCode, put.stderr).toBe(0);
    const fits = await run(['cart', 'set-quantity', 'c-edge', 'bar', '3']);
    expect(fits.exitCode, fits.stderr).toBe(0);
    expect(fits.json()).toMatchObject({ cart: { products: [{ quantity: 3 }], totalAmount: TOP, version: 2 } });
    const over = await run(['cart', 'set-quantity', 'c-edge', 'bar', '4']);
    expect(over.exitCode, over.stderr).toBe(4);
    expect(error(over).message).toBe('cart c-edge cannot set the quantity of bar: totalAmount would pass the 38 significant digits a DynamoDB number holds; the cart was left as it was');
    expect(await strong('c-edge')).toMatchObject({ products: [{ quantity: 3 }], totalAmount: TOP, version: 2 });
  });

  it('set-quantity that would pass 38 digits: exit 4, the cart unchanged', async () => {
    const line = { cartId: 'c-top', userId: 'u1', products: [{ productId: 'bar', name: null, quantity: 1, unitPrice: TOP }], totalAmount: TOP, createdAt: null, updatedAt: null, version: 1 };
    const put = await shopdb(['cart', 'import', '-'], { prefix, input: `${JSON.stringify(line)}\n` });
    expect(put.exitCode, put.stderr).toBe(0);
    const over = await run(['cart', 'set-quantity', 'c-top', 'bar', '2']);
    expect(over.exitCode, over.stderr).toBe(4);
    expect(error(over).message).toMatch(/38 significant digits/);
    expect(error(over).message).toMatch(/totalAmount/);
    expect(await strong('c-top')).toMatchObject({ products: [{ quantity: 1 }], totalAmount: TOP, version: 1 });
    // Down is always fine, and exact.
    const down = await run(['cart', 'remove-product', 'c-top', 'bar']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.json()).toMatchObject({ cart: { products: [], totalAmount: '0.00', version: 2 } });
  });
});

describe('bad input: exit 2 naming the field, nothing written, no stack trace', () => {
  beforeAll(async () => {
    await cartWith('c-bad', [['mug', '1.00', 1]]);
  });

  const cases: Array<[string[], string]> = [
    [['cart', 'set-quantity', 'c-bad', 'mug', '-1'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', '1.5'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', 'abc'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', '1000001'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', ''], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', ' 2'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', '1e3'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', 'mug', '0x10'], 'quantity'],
    [['cart', 'set-quantity', 'c-bad', '', '2'], 'productId'],
    [['cart', 'set-quantity', 'c-bad', '   ', '2'], 'productId'],
    [['cart', 'set-quantity', 'c-bad', 'mu\u0007g', '2'], 'productId'],
    [['cart', 'set-quantity', '', 'mug', '2'], 'cartId'],
    [['cart', 'set-quantity', 'c-\nbad', 'mug', '2'], 'cartId'],
    [['cart', 'remove-product', 'c-bad', ''], 'productId'],
    [['cart', 'remove-product', 'c-bad', ' \t '], 'productId'],
    [['cart', 'remove-product', 'c-bad', 'mug\u001b[31m'], 'productId'],
    [['cart', 'remove-product', '', 'mug'], 'cartId'],
    [['cart', 'remove-product', 'c\u0000bad', 'mug'].map((word) => word.replace('\u0000', '\u0001')), 'cartId'],
  ];

  it.each(cases)('%j names %s', async (args, field) => {
    const result = await run(args);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(error(result).message).toMatch(new RegExp(`^${field}\\b`));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
    expect(await strong('c-bad')).toMatchObject({ products: [{ productId: 'mug', quantity: 1 }], totalAmount: '1.00', version: 2 });
  });

  it('a missing argument is a usage error (exit 2)', async () => {
    for (const args of [['cart', 'set-quantity', 'c-bad', 'mug'], ['cart', 'remove-product', 'c-bad']]) {
      const result = await run(args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('property: random edits equal a model, the total always the sum of the lines', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await openShop(shopSettings(prefix), { debug: () => {}, warn: () => {} });
  });
  afterAll(() => shop?.close());

  type Op =
    | { op: 'add'; productId: string; quantity: number }
    | { op: 'set'; productId: string; quantity: number }
    | { op: 'remove'; productId: string };
  const PRICES: Record<string, string> = { a: '0.01', b: '19.99', c: '99999999999999.99', d: '3.30', e: '1000000.00' };
  const product = fc.constantFrom(...Object.keys(PRICES));
  const quantity = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(1_000_000));
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('add' as const), productId: product, quantity }),
    fc.record({ op: fc.constant('set' as const), productId: product, quantity: fc.oneof(quantity, fc.constant(0)) }),
    fc.record({ op: fc.constant('remove' as const), productId: product }),
  );

  let seq = 0;
  it('holds for 40 sequences of up to 12 edits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        const cartId = `c-prop-${seq++}`;
        await shop.carts.create({ cartId, userId: 'u-prop' });
        /** The model: lines in order, as productId → quantity. */
        const model: Array<[string, number]> = [];
        let version = 1;
        for (const step of ops) {
          const index = model.findIndex(([id]) => id === step.productId);
          let outcome: { result: string; cart: Cart } | { error: string };
          try {
            if (step.op === 'add') outcome = await shop.carts.addProduct({ cartId, productId: step.productId, price: PRICES[step.productId]!, quantity: String(step.quantity) });
            else if (step.op === 'set') outcome = await shop.carts.setQuantity({ cartId, productId: step.productId, quantity: String(step.quantity) });
            else outcome = await shop.carts.removeProduct({ cartId, productId: step.productId });
          } catch (caught) {
            outcome = { error: (caught as { code?: string }).code ?? String(caught) };
          }
          if (step.op === 'add') {
            const next = (index === -1 ? 0 : model[index]![1]) + step.quantity;
            expect(outcome).toMatchObject({ result: 'updated' });
            if (index === -1) model.push([step.productId, step.quantity]);
            else model[index] = [step.productId, next];
            version++;
          } else if (index === -1) {
            expect(outcome).toEqual({ error: 'NOT_FOUND' });
          } else if (step.op === 'remove' || step.quantity === 0) {
            expect(outcome).toMatchObject({ result: 'updated' });
            model.splice(index, 1);
            version++;
          } else if (model[index]![1] === step.quantity) {
            expect(outcome).toMatchObject({ result: 'unchanged' });
          } else {
            expect(outcome).toMatchObject({ result: 'updated' });
            model[index] = [step.productId, step.quantity];
            version++;
          }
          if ('cart' in outcome) {
            const lines = (outcome.cart.products ?? []) as unknown as Line[];
            expect(outcome.cart.totalAmount).toBe(linesTotal(lines));
          }
        }
        const cart = await shop.carts.get(cartId, { strong: true });
        const lines = (cart.products ?? []) as unknown as Line[];
        expect(lines.map((line) => [line.productId, Number(line.quantity)])).toEqual(model);
        expect(lines.every((line) => line.unitPrice === PRICES[line.productId])).toBe(true);
        expect(cart.totalAmount).toBe(linesTotal(lines));
        expect(cart.totalAmount).toBe(formatCents(model.reduce((sum, [id, n]) => sum + cents(PRICES[id]!) * BigInt(n), 0n)));
        expect(Number(cart.version)).toBe(version);
        // What DynamoDB holds is what the service answered.
        const raw = await client.send(new GetItemCommand({ TableName: CARTS, Key: { cartId: { S: cartId } }, ConsistentRead: true }));
        expect(cents(raw.Item?.totalAmount?.N ?? 'x')).toBe(cents(cart.totalAmount!));
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});

describe('the terminal at 80 and 50 columns', () => {
  function expectFits(result: PtyRun): void {
    const context = `screen at ${result.columns} columns:\n${result.text}`;
    expect(result.scriptErrors).toBe('');
    expect(result.overflows.filter((line) => !line.startsWith('shopdb: ')), context).toEqual([]);
    expect(result.text, context).not.toMatch(STACK_LINE);
    expect(result.text, context).not.toMatch(/unexpected error:|please report it/i);
  }

  it.each([80, 50])('success at %i columns: a green ✓ with the cart, the product and the total', async (columns) => {
    const id = `c-pty-${columns}`;
    await cartWith(id, [['sku-mug', '19.99', 3], ['sku-pen', '0.10', 1], ['sku-cup', '2.00', 1]]);
    const set = await pty(['cart', 'set-quantity', id, 'sku-mug', '2'], { prefix, columns });
    expectFits(set);
    expect(set.exitCode, set.text).toBe(0);
    expect(set.raw).toMatch(SGR);
    for (const fact of ['✓', id, 'sku-mug', '42.08']) expect(set.text.replace(/\n\s*/g, ' ')).toContain(fact);

    const same = await pty(['cart', 'set-quantity', id, 'sku-mug', '2'], { prefix, columns });
    expectFits(same);
    expect(same.exitCode).toBe(0);
    expect(same.text.replace(/\n\s*/g, ' ')).toContain('nothing changed');

    const zero = await pty(['cart', 'set-quantity', id, 'sku-cup', '0'], { prefix, columns });
    expectFits(zero);
    expect(zero.exitCode).toBe(0);
    expect(zero.text.replace(/\n\s*/g, ' ')).toContain('Removed sku-cup');

    const removed = await pty(['cart', 'remove-product', id, 'sku-pen'], { prefix, columns });
    expectFits(removed);
    expect(removed.exitCode).toBe(0);
    for (const fact of ['✓', 'sku-pen', '39.98']) expect(removed.text.replace(/\n\s*/g, ' ')).toContain(fact);
  });

  it.each([80, 50])('failures at %i columns: one shopdb: line, no ✓, the documented exit code', async (columns) => {
    const id = `c-pty-fail-${columns}`;
    await cartWith(id, [['sku-mug', '19.99', 1]]);
    const cases: Array<[string[], number, string]> = [
      [['cart', 'set-quantity', id, 'sku-none', '2'], 3, 'sku-none'],
      [['cart', 'remove-product', id, 'sku-none'], 3, 'sku-none'],
      [['cart', 'remove-product', 'c-pty-missing', 'sku-mug'], 3, 'c-pty-missing'],
      [['cart', 'set-quantity', id, 'sku-mug', '1.5'], 2, 'quantity'],
      [['cart', 'set-quantity', id, 'sku-mug', '-1'], 2, 'quantity'],
    ];
    for (const [args, exitCode, fact] of cases) {
      const result = await pty(args, { prefix, columns });
      expectFits(result);
      expect(result.exitCode, `${args.join(' ')}\n${result.text}`).toBe(exitCode);
      expect(result.text).not.toContain('✓');
      expect(stripAnsi(result.raw)).toContain(fact);
      expect(result.raw.split('\n').filter((line) => stripAnsi(line).startsWith('shopdb: '))).toHaveLength(1);
    }
  });
});
