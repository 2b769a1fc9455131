import { beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { putRaw, rawClient } from '../support/dynamo.js';

const prefix = uniquePrefix('carts');
const CART_FIELDS = ['cartId', 'userId', 'products', 'totalAmount', 'createdAt', 'updatedAt', 'version', 'status', 'orderId'];

beforeAll(() => createTables(prefix));

describe('cart create and get', () => {
  it('starts empty with total 0 and version 1', async () => {
    const run = await shopdb(['cart', 'create', 'c-new', '--user', 'u1'], { prefix });
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ result: 'created', cart: { cartId: 'c-new', products: [], totalAmount: '0.00', version: 1 } });
    expect(Object.keys(run.json<{ cart: object }>().cart)).toEqual(CART_FIELDS);
    const got = await shopdb(['cart', 'get', 'c-new', '--strong'], { prefix });
    expect(Object.keys(got.json())).toEqual(CART_FIELDS);
  });

  it('is a no-op for the same user and a conflict for another', async () => {
    await shopdb(['cart', 'create', 'c-twice', '--user', 'u1'], { prefix });
    expect((await shopdb(['cart', 'create', 'c-twice', '--user', 'u1'], { prefix })).json()).toMatchObject({ result: 'unchanged' });
    expect((await shopdb(['cart', 'create', 'c-twice', '--user', 'u2'], { prefix })).exitCode).toBe(4);
  });

  it('is not-found for a missing cart', async () => {
    expect((await shopdb(['cart', 'get', 'c-none'], { prefix })).exitCode).toBe(3);
  });
});

describe('cart add-product', () => {
  it('adds lines in order, raises quantities and keeps the total exact', async () => {
    await shopdb(['cart', 'create', 'c-add', '--user', 'u1'], { prefix });
    await shopdb(['cart', 'add-product', 'c-add', 'mug', '--price', '19.99', '--quantity', '3', '--name', 'Tea mug'], { prefix });
    await shopdb(['cart', 'add-product', 'c-add', 'pen', '--price', '0.10'], { prefix });
    const last = await shopdb(['cart', 'add-product', 'c-add', 'mug', '--price', '19.99'], { prefix });
    expect(last.exitCode).toBe(0);
    expect(last.json()).toMatchObject({
      result: 'updated',
      cart: {
        products: [
          { productId: 'mug', name: 'Tea mug', quantity: 4, unitPrice: '19.99' },
          { productId: 'pen', name: null, quantity: 1, unitPrice: '0.10' },
        ],
        totalAmount: '80.06',
        version: 4,
      },
    });
  });

  it('refuses the same product at another price, changing nothing', async () => {
    await shopdb(['cart', 'create', 'c-price', '--user', 'u1'], { prefix });
    await shopdb(['cart', 'add-product', 'c-price', 'mug', '--price', '19.99'], { prefix });
    const clash = await shopdb(['cart', 'add-product', 'c-price', 'mug', '--price', '18.99'], { prefix });
    expect(clash.exitCode).toBe(4);
    expect((await shopdb(['cart', 'get', 'c-price', '--strong'], { prefix })).json()).toMatchObject({ totalAmount: '19.99', version: 2 });
  });

  it('is not-found for a missing cart and creates nothing', async () => {
    const run = await shopdb(['cart', 'add-product', 'c-ghost', 'mug', '--price', '1'], { prefix });
    expect(run.exitCode).toBe(3);
    expect((await shopdb(['cart', 'get', 'c-ghost', '--strong'], { prefix })).exitCode).toBe(3);
  });

  it('multiplies exactly: 99999999999999999.99 × 3', async () => {
    await shopdb(['cart', 'create', 'c-big', '--user', 'u1'], { prefix });
    const run = await shopdb(['cart', 'add-product', 'c-big', 'gold', '--price', '99999999999999999.99', '--quantity', '3'], { prefix });
    expect(run.json()).toMatchObject({ cart: { totalAmount: '299999999999999999.97' } });
  });

  it('adds to a cart written by the original Python design', async () => {
    const client = rawClient();
    await putRaw(client, `${prefix}EcommerceCarts`, { cartId: { S: 'c-legacy' }, userId: { S: 'py' } });
    client.destroy();
    const run = await shopdb(['cart', 'add-product', 'c-legacy', 'mug', '--price', '2.50', '--quantity', '2'], { prefix });
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ cart: { products: [{ productId: 'mug', quantity: 2 }], totalAmount: '5.00', version: 1 } });
  });

  it.each([
    [['--price', '1', '--quantity', '0'], 'quantity'],
    [['--price', '1', '--quantity', '1.5'], 'quantity'],
    [['--price', '1', '--quantity', '9007199254740993'], 'quantity'],
    [['--price', 'NaN'], 'price'],
    [[], '--price'],
  ])('rejects %j naming %s', async (flags, field) => {
    await shopdb(['cart', 'create', 'c-bad', '--user', 'u1'], { prefix });
    const run = await shopdb(['cart', 'add-product', 'c-bad', 'mug', ...flags], { prefix });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(field);
    expect((await shopdb(['cart', 'get', 'c-bad', '--strong'], { prefix })).json()).toMatchObject({ products: [], version: 1 });
  });
});
