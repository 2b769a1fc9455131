/**
 * cart checkout (issue 9) through the built binary against DynamoDB Local:
 * one transaction that creates the order and marks the cart; retries and
 * racing checkouts answer the same order and never make a second; a
 * checked-out cart takes no more edits; resends after a lost answer; the
 * cache; boto3 carts; the 400 KB item; bad input; the terminal at 80/50.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { itemSize, MAX_ITEM_BYTES } from '../../src/core/limits.js';
import type { AttributeJson } from '../../src/core/model.js';
import { boto3, boto3Get, type DynamoJson } from '../support/boto3.js';
import { createTables, jsonError as error, uniquePrefix, withPrefix, type Run } from '../support/cli.js';
import { putRaw, rawClient, scanAll } from '../support/dynamo.js';
import { requestToken, startFaultProxy, type Fault, type SeenRequest } from '../support/fault-proxy.js';
import { pty, SGR, STACK_LINE, stripAnsi, type PtyRun } from '../support/pty.js';

const prefix = uniquePrefix('checkout');
const { run, ok } = withPrefix(prefix);
const ORDERS = `${prefix}EcommerceOrders`;
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
interface OrderJson {
  orderId: string;
  userId: string | null;
  totalAmount: string | null;
  status: string | null;
  version: number | null;
  cartId: string | null;
  products: Line[] | null;
  createdAt: string | null;
  updatedAt: string | null;
}

async function strongCart(cartId: string): Promise<CartJson> {
  const got = await run(['cart', 'get', cartId, '--strong']);
  expect(got.exitCode, got.stderr).toBe(0);
  return got.json<CartJson>();
}

async function cartWith(cartId: string, lines: Array<[string, string, number]>, user = 'u-co'): Promise<CartJson> {
  await ok(['cart', 'create', cartId, '--user', user]);
  for (const [productId, price, quantity] of lines) await ok(['cart', 'add-product', cartId, productId, '--price', price, '--quantity', String(quantity)]);
  return strongCart(cartId);
}

/** Every order in the table that names `cartId`, read with a consistent scan. */
async function ordersOf(cartId: string): Promise<Array<Record<string, AttributeValue>>> {
  return (await scanAll(client, ORDERS)).filter((item) => item.cartId?.S === cartId);
}

async function rawCart(cartId: string) {
  return (await client.send(new GetItemCommand({ TableName: CARTS, Key: { cartId: { S: cartId } }, ConsistentRead: true }))).Item;
}

async function rawOrder(orderId: string) {
  return (await client.send(new GetItemCommand({ TableName: ORDERS, Key: { orderId: { S: orderId } }, ConsistentRead: true }))).Item;
}

describe('checkout', () => {
  it('creates a PENDING order with the cart user, lines, total and cartId, and marks the cart CHECKED_OUT', async () => {
    const before = await cartWith('c-co', [['mug', '19.99', 3], ['pen', '0.10', 1]]);
    const result = await ok(['cart', 'checkout', 'c-co', '--order-id', 'o-co']);
    const printed = result.json<{ result: string; order: OrderJson }>();
    expect(printed).toMatchObject({
      result: 'created',
      order: { orderId: 'o-co', userId: 'u-co', totalAmount: '60.07', status: 'PENDING', version: 1, cartId: 'c-co', products: before.products },
    });
    expect(Object.keys(result.json())).toEqual(['result', 'order']);
    const order = (await run(['order', 'get', 'o-co', '--strong'])).json<OrderJson>();
    expect(order).toEqual(printed.order);
    expect(await strongCart('c-co')).toMatchObject({ status: 'CHECKED_OUT', orderId: 'o-co', version: before.version + 1, products: before.products, totalAmount: '60.07' });
    // Stored like any order shopdb creates (the list indexes' keys included), plus the cart's id and lines.
    await ok(['order', 'create', 'o-co-plain', '--user', 'u-co', '--amount', '1']);
    const plain = Object.keys((await rawOrder('o-co-plain')) ?? {}).sort();
    expect(Object.keys((await rawOrder('o-co')) ?? {}).sort()).toEqual([...plain, 'cartId', 'products'].sort());
  });

  it('without --order-id makes a new id; again answers that same order, unchanged, exit 0', async () => {
    await cartWith('c-co-auto', [['mug', '1.00', 2]]);
    const first = await ok(['cart', 'checkout', 'c-co-auto']);
    const { order } = first.json<{ order: OrderJson }>();
    expect(order.orderId).toMatch(/\S/);
    const again = await ok(['cart', 'checkout', 'c-co-auto']);
    expect(again.json()).toEqual({ result: 'unchanged', order });
    const sameId = await ok(['cart', 'checkout', 'c-co-auto', '--order-id', order.orderId]);
    expect(sameId.json()).toEqual({ result: 'unchanged', order });
    expect(await ordersOf('c-co-auto')).toHaveLength(1);
  });

  it('a different --order-id on a checked-out cart is exit 4; nothing is created', async () => {
    await cartWith('c-co-other', [['mug', '1.00', 1]]);
    await ok(['cart', 'checkout', 'c-co-other', '--order-id', 'o-co-first']);
    const other = await run(['cart', 'checkout', 'c-co-other', '--order-id', 'o-co-second']);
    expect(other.exitCode).toBe(4);
    expect(error(other).message).toContain('o-co-first');
    expect(await rawOrder('o-co-second')).toBeUndefined();
    expect(await ordersOf('c-co-other')).toHaveLength(1);
  });

  it('an empty cart is exit 4 and a missing one exit 3; nothing is written', async () => {
    await ok(['cart', 'create', 'c-co-empty', '--user', 'u-co']);
    const empty = await run(['cart', 'checkout', 'c-co-empty', '--order-id', 'o-co-empty']);
    expect(empty.exitCode).toBe(4);
    expect(error(empty).message).toMatch(/empty/);
    expect(await strongCart('c-co-empty')).toMatchObject({ status: null, orderId: null, version: 1 });
    expect(await rawOrder('o-co-empty')).toBeUndefined();
    // Emptied by removing its last line: still empty.
    await ok(['cart', 'add-product', 'c-co-empty', 'mug', '--price', '1']);
    await ok(['cart', 'remove-product', 'c-co-empty', 'mug']);
    expect((await run(['cart', 'checkout', 'c-co-empty'])).exitCode).toBe(4);

    const missing = await run(['cart', 'checkout', 'c-co-missing', '--order-id', 'o-co-missing']);
    expect(missing.exitCode).toBe(3);
    expect(await rawOrder('o-co-missing')).toBeUndefined();
  });

  it('a checked-out cart refuses add-product, remove-product and set-quantity with exit 4, unchanged', async () => {
    await cartWith('c-co-frozen', [['mug', '19.99', 1]]);
    await ok(['cart', 'checkout', 'c-co-frozen', '--order-id', 'o-co-frozen']);
    const before = await strongCart('c-co-frozen');
    for (const args of [
      ['cart', 'add-product', 'c-co-frozen', 'pen', '--price', '1'],
      ['cart', 'add-product', 'c-co-frozen', 'mug', '--price', '19.99'],
      ['cart', 'remove-product', 'c-co-frozen', 'mug'],
      ['cart', 'set-quantity', 'c-co-frozen', 'mug', '5'],
      ['cart', 'set-quantity', 'c-co-frozen', 'mug', '0'],
      // Even for a product not in it: the cart is closed before the line is looked for.
      ['cart', 'set-quantity', 'c-co-frozen', 'none', '1'],
    ]) {
      const result = await run(args);
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(4);
      expect(error(result).message).toContain('checked out');
    }
    expect(await strongCart('c-co-frozen')).toEqual(before);
    expect((await run(['order', 'get', 'o-co-frozen', '--strong'])).json()).toMatchObject({ totalAmount: '19.99', products: [{ productId: 'mug', quantity: 1 }] });
  });

  it('an --order-id that is already another order is exit 4; the cart and that order stay as they were', async () => {
    await ok(['order', 'create', 'o-co-taken', '--user', 'someone', '--amount', '5']);
    const before = await cartWith('c-co-taken', [['mug', '1.00', 1]]);
    const orderBefore = await rawOrder('o-co-taken');
    const result = await run(['cart', 'checkout', 'c-co-taken', '--order-id', 'o-co-taken']);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(error(result).message).toContain('o-co-taken');
    expect(await strongCart('c-co-taken')).toEqual(before);
    expect(await rawOrder('o-co-taken')).toEqual(orderBefore);
    // Checked out under a free id afterwards, it works.
    expect((await ok(['cart', 'checkout', 'c-co-taken', '--order-id', 'o-co-free'])).json()).toMatchObject({ result: 'created' });
  });
});

describe('racing', () => {
  async function race(cartId: string, extra: string[]) {
    const runs = await Promise.all(Array.from({ length: 5 }, () => run(['cart', 'checkout', cartId, ...extra])));
    for (const result of runs) expect(result.exitCode, result.stderr).toBe(0);
    const printed = runs.map((result) => result.json<{ result: string; order: OrderJson }>());
    expect(printed.map((p) => p.result).sort()).toEqual(['created', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(new Set(printed.map((p) => p.order.orderId)).size).toBe(1);
    const orders = await ordersOf(cartId);
    expect(orders).toHaveLength(1);
    expect(orders[0]?.orderId?.S).toBe(printed[0]!.order.orderId);
    expect(await strongCart(cartId)).toMatchObject({ status: 'CHECKED_OUT', orderId: printed[0]!.order.orderId });
    return printed[0]!.order;
  }

  it('5 checkouts of one cart at once, without --order-id: one order, all exit 0 with its id, one created', async () => {
    await cartWith('c-race-auto', [['mug', '19.99', 2], ['pen', '0.10', 3]]);
    const order = await race('c-race-auto', []);
    expect(order).toMatchObject({ totalAmount: '40.28', status: 'PENDING' });
  });

  it('5 checkouts of one cart at once with the same --order-id: one order, one created', async () => {
    await cartWith('c-race-id', [['mug', '19.99', 2]]);
    const order = await race('c-race-id', ['--order-id', 'o-race-id']);
    expect(order.orderId).toBe('o-race-id');
  });

  it('5 checkouts with different --order-ids: exactly one wins; the others exit 4 naming it; one order', async () => {
    await cartWith('c-race-ids', [['mug', '1.00', 1]]);
    const runs = await Promise.all([1, 2, 3, 4, 5].map((n) => run(['cart', 'checkout', 'c-race-ids', '--order-id', `o-race-ids-${n}`])));
    const winners = runs.filter((result) => result.exitCode === 0);
    expect(winners, runs.map((result) => result.stderr).join('\n')).toHaveLength(1);
    const winner = winners[0]!.json<{ result: string; order: OrderJson }>();
    expect(winner.result).toBe('created');
    for (const result of runs.filter((r) => r.exitCode !== 0)) {
      expect(result.exitCode).toBe(4);
      expect(error(result).message).toContain(winner.order.orderId);
    }
    expect((await ordersOf('c-race-ids')).map((item) => item.orderId?.S)).toEqual([winner.order.orderId]);
  });

  it('cart delete racing checkout: exactly one wins; a deleted cart left no order, a checked-out cart was kept', async () => {
    for (let round = 0; round < 4; round++) {
      const cartId = `c-race-del-${round}`;
      await cartWith(cartId, [['mug', '19.99', 1]]);
      const [co, del] = await Promise.all([run(['cart', 'checkout', cartId]), run(['cart', 'delete', cartId])]);
      if (co.exitCode === 0) {
        expect(del.exitCode, del.stderr).toBe(4);
        expect(await strongCart(cartId)).toMatchObject({ status: 'CHECKED_OUT' });
        expect(await ordersOf(cartId)).toHaveLength(1);
      } else {
        expect(co.exitCode, co.stderr).toBe(3);
        expect(del.exitCode, del.stderr).toBe(0);
        expect(await rawCart(cartId)).toBeUndefined();
        expect(await ordersOf(cartId)).toHaveLength(0);
      }
    }
  });

  it('add-product racing checkout: the product is in the order, or add-product failed with exit 4; never lost', async () => {
    for (let round = 0; round < 4; round++) {
      const cartId = `c-race-add-${round}`;
      await cartWith(cartId, [['mug', '19.99', 1]]);
      const adds = ['a', 'b', 'c'].map((p) => run(['cart', 'add-product', cartId, `late-${p}`, '--price', '1.01']));
      const checkout = run(['cart', 'checkout', cartId]);
      const [co, ...added] = await Promise.all([checkout, ...adds]);
      expect(co!.exitCode, co!.stderr).toBe(0);
      const order = co!.json<{ order: OrderJson }>().order;
      const inOrder = new Set((order.products ?? []).map((line) => line.productId));
      for (const [i, result] of added.entries()) {
        const productId = `late-${['a', 'b', 'c'][i]}`;
        if (result.exitCode === 0) expect(inOrder.has(productId), `${productId} was acknowledged but is not in the order`).toBe(true);
        else {
          expect(result.exitCode, result.stderr).toBe(4);
          expect(inOrder.has(productId)).toBe(false);
        }
      }
      const cart = await strongCart(cartId);
      expect(cart.products).toEqual(order.products);
      expect(cart.totalAmount).toBe(order.totalAmount);
    }
  });
});

describe('a checkout applied whose answer is lost, so the SDK resends it', () => {
  it('reports created and makes one order', async () => {
    await cartWith('c-lost', [['mug', '19.99', 1]]);
    let dropped = false;
    const decide = (request: SeenRequest): Fault => {
      if (dropped || request.operation !== 'TransactWriteItems') return 'forward';
      dropped = true;
      return 'drop-response';
    };
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), decide);
    let result: Run;
    try {
      result = await run(['cart', 'checkout', 'c-lost'], { SHOPDB_ENDPOINT: proxy.endpoint });
    } finally {
      await proxy.close();
    }
    expect(result.exitCode, result.stderr).toBe(0);
    const writes = proxy.seen.filter((request) => request.operation === 'TransactWriteItems');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(writes.map(requestToken)).size).toBe(1);
    const { order } = result.json<{ result: string; order: OrderJson }>();
    expect(result.json()).toMatchObject({ result: 'created' });
    const orders = await ordersOf('c-lost');
    expect(orders.map((item) => item.orderId?.S)).toEqual([order.orderId]);
    expect(await strongCart('c-lost')).toMatchObject({ status: 'CHECKED_OUT', orderId: order.orderId, version: 3 });
  });
});

describe('a checkout cancelled by another transaction in progress (TransactionConflict)', () => {
  it('is tried again and creates one order', async () => {
    await cartWith('c-tc', [['mug', '19.99', 1]]);
    let answered = false;
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => {
      if (answered || request.operation !== 'TransactWriteItems') return 'forward';
      answered = true;
      return 'transaction-conflict';
    });
    let result: Run;
    try {
      result = await run(['cart', 'checkout', 'c-tc', '--order-id', 'o-tc'], { SHOPDB_ENDPOINT: proxy.endpoint });
    } finally {
      await proxy.close();
    }
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ result: 'created', order: { orderId: 'o-tc' } });
    expect((await ordersOf('c-tc')).map((item) => item.orderId?.S)).toEqual(['o-tc']);
  });
});

describe('with the cache', () => {
  const cached = { SHOPDB_REDIS_URL: redisUrl };

  it('after checkout, cart get --cache shows CHECKED_OUT and the orderId, order get --cache the new order, even when cached right before', async () => {
    await cartWith('c-cache', [['mug', '19.99', 2]]);
    // Cache the open cart, and the order id as not found.
    expect((await run(['cart', 'get', 'c-cache', '--cache'], cached)).json()).toMatchObject({ status: null, orderId: null });
    expect((await run(['order', 'get', 'o-cache', '--cache'], cached)).exitCode).toBe(3);

    expect((await run(['cart', 'checkout', 'c-cache', '--order-id', 'o-cache', '--cache'], cached)).exitCode).toBe(0);
    expect((await run(['cart', 'get', 'c-cache', '--cache'], cached)).json()).toMatchObject({ status: 'CHECKED_OUT', orderId: 'o-cache' });
    const order = await run(['order', 'get', 'o-cache', '--cache'], cached);
    expect(order.exitCode, order.stderr).toBe(0);
    expect(order.json()).toMatchObject({ orderId: 'o-cache', status: 'PENDING', cartId: 'c-cache', totalAmount: '39.98' });
  });

  it('a stale cached copy never lets a writer edit a checked-out cart (writers read DynamoDB, not the cache)', async () => {
    await cartWith('c-cache-2', [['mug', '1.00', 1]]);
    expect((await run(['cart', 'get', 'c-cache-2', '--cache'], cached)).json()).toMatchObject({ status: null });
    // Checked out by a process without a cache configured: the cached copy stays until its TTL (documented).
    expect((await run(['cart', 'checkout', 'c-cache-2', '--order-id', 'o-cache-2'])).exitCode).toBe(0);
    for (const args of [
      ['cart', 'add-product', 'c-cache-2', 'pen', '--price', '1', '--cache'],
      ['cart', 'set-quantity', 'c-cache-2', 'mug', '2', '--cache'],
      ['cart', 'remove-product', 'c-cache-2', 'mug', '--cache'],
    ]) {
      const result = await run(args, cached);
      expect(result.exitCode, result.stderr).toBe(4);
    }
    expect(await strongCart('c-cache-2')).toMatchObject({ status: 'CHECKED_OUT', products: [{ productId: 'mug', quantity: 1 }], version: 3 });
    // A checkout with the cache (a retry) answers the same order and refreshes the cached cart.
    expect((await run(['cart', 'checkout', 'c-cache-2', '--cache'], cached)).json()).toMatchObject({ result: 'unchanged', order: { orderId: 'o-cache-2' } });
  });
});

describe('carts the original design wrote', () => {
  const STRING_TOTAL: DynamoJson = {
    cartId: { S: 'py-string' },
    userId: { S: 'py' },
    products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '2' }, unitPrice: { N: '2.5' } } }] },
    totalAmount: { S: '5.00' },
  };
  const NO_VERSION: DynamoJson = {
    cartId: { S: 'py-fine' },
    userId: { S: 'py' },
    products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '2' }, unitPrice: { N: '2.5' }, sku: { S: 'M-1' } } }] },
    totalAmount: { N: '5' },
    coupon: { S: 'SPRING' },
  };

  beforeAll(async () => {
    await boto3([
      { op: 'put_item', table: CARTS, item: STRING_TOTAL },
      { op: 'put_item', table: CARTS, item: NO_VERSION },
    ]);
  });

  it('a boto3 cart with a string total is refused with exit 4 naming totalAmount; nothing is written', async () => {
    const before = await boto3Get(CARTS, { cartId: { S: 'py-string' } });
    const result = await run(['cart', 'checkout', 'py-string', '--order-id', 'o-py-string']);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(error(result).message).toContain('totalAmount');
    expect(await boto3Get(CARTS, { cartId: { S: 'py-string' } })).toEqual(before);
    expect(await rawOrder('o-py-string')).toBeUndefined();
  });

  it('a boto3 cart without version checks out; the cart keeps its other attributes and gets version 1', async () => {
    const result = await run(['cart', 'checkout', 'py-fine', '--order-id', 'o-py-fine']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ result: 'created', order: { userId: 'py', totalAmount: '5.00', cartId: 'py-fine' } });
    const stored = await boto3Get(CARTS, { cartId: { S: 'py-fine' } });
    expect(stored).toMatchObject({ coupon: { S: 'SPRING' }, status: { S: 'CHECKED_OUT' }, orderId: { S: 'o-py-fine' }, version: { N: '1' } });
    // The line's own attributes travel to the order with it.
    const order = await boto3Get(ORDERS, { orderId: { S: 'o-py-fine' } });
    expect((order?.products as { L: Array<{ M: Record<string, unknown> }> }).L[0]?.M).toMatchObject({ productId: { S: 'mug' }, sku: { S: 'M-1' } });
  });

  it('a cart holding a status shopdb does not know is refused naming it, as edits are; nothing is written', async () => {
    await putRaw(client, CARTS, {
      cartId: { S: 'py-abandoned' },
      userId: { S: 'py' },
      products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '1' }, unitPrice: { N: '2.5' } } }] },
      totalAmount: { N: '2.5' },
      status: { S: 'ABANDONED' },
    });
    const before = await rawCart('py-abandoned');
    const edit = await run(['cart', 'set-quantity', 'py-abandoned', 'mug', '2']);
    expect(edit.exitCode).toBe(4);
    const result = await run(['cart', 'checkout', 'py-abandoned', '--order-id', 'o-py-abandoned']);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(error(result).message).toContain('ABANDONED');
    expect(await rawCart('py-abandoned')).toEqual(before);
    expect(await rawOrder('o-py-abandoned')).toBeUndefined();
  });
});

describe('the 400 KB item limit', () => {
  /** A cart whose one line carries a name making the stored cart `size` bytes as DynamoDB counts them. */
  function bigCart(cartId: string, size: number): Record<string, AttributeJson> {
    const item = (name: string): Record<string, AttributeJson> => ({
      cartId: { S: cartId },
      userId: { S: 'u-big' },
      products: { L: [{ M: { productId: { S: 'mug' }, name: { S: name }, quantity: { N: '1' }, unitPrice: { N: '1' } } }] },
      totalAmount: { N: '1' },
      createdAt: { S: '2026-01-01T00:00:00.000Z' },
      updatedAt: { S: '2026-01-01T00:00:00.000Z' },
      version: { N: '1' },
    });
    const fixed = itemSize(item(''));
    return item('n'.repeat(size - fixed));
  }

  it('a cart a few bytes under the limit: exit 4 saying the order would be too large; no order, the cart unchanged', async () => {
    const cart = bigCart('c-huge', MAX_ITEM_BYTES - 10);
    await putRaw(client, CARTS, cart as Record<string, AttributeValue>);
    const before = await strongCart('c-huge');
    const result = await run(['cart', 'checkout', 'c-huge', '--order-id', 'o-huge']);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(error(result).message).toMatch(/400 KB/);
    expect(result.stderr).not.toMatch(/\n\s+at |please report/);
    expect(await strongCart('c-huge')).toEqual(before);
    expect(await rawOrder('o-huge')).toBeUndefined();
  });

  it('a large cart whose order still fits checks out whole', async () => {
    const cart = bigCart('c-large', MAX_ITEM_BYTES - 2_000);
    await putRaw(client, CARTS, cart as Record<string, AttributeValue>);
    const result = await run(['cart', 'checkout', 'c-large', '--order-id', 'o-large']);
    expect(result.exitCode, result.stderr).toBe(0);
    const stored = await rawOrder('o-large');
    expect(stored?.products?.L?.[0]?.M?.name?.S).toHaveLength((cart.products as { L: Array<{ M: { name: { S: string } } }> }).L[0]!.M.name.S.length);
  });

  it('every size between: exit 0 with one order, or exit 4 with none; never a stack trace or exit 1', async () => {
    const sizes = [MAX_ITEM_BYTES - 400, MAX_ITEM_BYTES - 200, MAX_ITEM_BYTES - 120, MAX_ITEM_BYTES - 80, MAX_ITEM_BYTES - 40];
    for (const [i, size] of sizes.entries()) {
      const cartId = `c-edge-${i}`;
      await putRaw(client, CARTS, bigCart(cartId, size) as Record<string, AttributeValue>);
      const before = await strongCart(cartId);
      const result = await run(['cart', 'checkout', cartId, '--order-id', `o-edge-${i}`]);
      expect([0, 4], `${size} bytes: ${result.stderr}`).toContain(result.exitCode);
      if (result.exitCode === 0) {
        expect(await rawOrder(`o-edge-${i}`)).toBeDefined();
        expect(await strongCart(cartId)).toMatchObject({ status: 'CHECKED_OUT' });
      } else {
        expect(error(result).message).toMatch(/400 KB|item limit|size/i);
        expect(await rawOrder(`o-edge-${i}`)).toBeUndefined();
        expect(await strongCart(cartId)).toEqual(before);
      }
    }
  });
});

describe('bad input: exit 2 naming the field, nothing written, no stack trace', () => {
  beforeAll(async () => {
    await cartWith('c-bad', [['mug', '1.00', 1]]);
  });

  it.each<[string[], string]>([
    [['cart', 'checkout', ''], 'cartId'],
    [['cart', 'checkout', '  '], 'cartId'],
    [['cart', 'checkout', 'c-\u0007bad'], 'cartId'],
    [['cart', 'checkout', 'c-bad', '--order-id', ''], 'orderId'],
    [['cart', 'checkout', 'c-bad', '--order-id', ' \t'], 'orderId'],
    [['cart', 'checkout', 'c-bad', '--order-id', 'o-\nx'], 'orderId'],
    [['cart', 'checkout', 'c-bad', '--order-id', 'o-\u001b[2Jx'], 'orderId'],
    [['cart', 'checkout', 'c-bad', '--order-id', 'x'.repeat(2049)], 'orderId'],
  ])('%j names %s', async (args, field) => {
    const result = await run(args);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(error(result).message).toMatch(new RegExp(`^${field}\\b`));
    expect(result.stdout).toBe('');
    expect(await strongCart('c-bad')).toMatchObject({ status: null, orderId: null, version: 2 });
  });

  it('no cart id, or --order-id without a value: a usage error (exit 2)', async () => {
    for (const args of [['cart', 'checkout'], ['cart', 'checkout', 'c-bad', '--order-id']]) {
      const result = await run(args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await strongCart('c-bad')).toMatchObject({ status: null, version: 2 });
  });
});

describe('the terminal at 80 and 50 columns', () => {
  function expectFits(result: PtyRun): void {
    const context = `screen at ${result.columns} columns:\n${result.text}`;
    expect(result.scriptErrors).toBe('');
    expect(result.overflows.filter((line) => !line.startsWith('shopdb: ')), context).toEqual([]);
    expect(result.text, context).not.toMatch(STACK_LINE);
    expect(result.text, context).not.toMatch(/unexpected error:|please report it/i);
  }
  const flat = (result: PtyRun) => result.text.replace(/\n\s*/g, ' ');

  it.each([80, 50])('checkout and its retry at %i columns: ✓ with the order id, status and total', async (columns) => {
    const id = `c-pty-${columns}`;
    await cartWith(id, [['sku-mug', '19.99', 3]]);
    const created = await pty(['cart', 'checkout', id, '--order-id', `o-pty-${columns}`], { prefix, columns });
    expectFits(created);
    expect(created.exitCode, created.text).toBe(0);
    expect(created.raw).toMatch(SGR);
    for (const fact of ['✓', id, `o-pty-${columns}`, 'PENDING', '59.97']) expect(flat(created)).toContain(fact);
    const again = await pty(['cart', 'checkout', id], { prefix, columns });
    expectFits(again);
    expect(again.exitCode).toBe(0);
    for (const fact of [`o-pty-${columns}`, 'already checked out', 'nothing changed']) expect(flat(again)).toContain(fact);
  });

  it.each([80, 50])('failures at %i columns: one shopdb: line, no ✓', async (columns) => {
    const empty = `c-pty-empty-${columns}`;
    await ok(['cart', 'create', empty, '--user', 'u-co']);
    const frozen = `c-pty-frozen-${columns}`;
    await cartWith(frozen, [['sku-mug', '1.00', 1]]);
    await ok(['cart', 'checkout', frozen, '--order-id', `o-pty-frozen-${columns}`]);
    const cases: Array<[string[], number, string]> = [
      [['cart', 'checkout', empty], 4, 'empty'],
      [['cart', 'checkout', 'c-pty-missing'], 3, 'c-pty-missing'],
      [['cart', 'checkout', frozen, '--order-id', 'o-pty-other'], 4, `o-pty-frozen-${columns}`],
      [['cart', 'add-product', frozen, 'sku-pen', '--price', '1'], 4, 'checked out'],
      [['cart', 'set-quantity', frozen, 'sku-mug', '3'], 4, 'checked out'],
      [['cart', 'remove-product', frozen, 'sku-mug'], 4, 'checked out'],
      [['cart', 'checkout', frozen, '--order-id', ''], 2, 'orderId'],
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
