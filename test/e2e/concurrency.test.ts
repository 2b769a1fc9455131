import { beforeAll, describe, expect, it } from 'vitest';
import { isLegalMove, type OrderStatus } from '../../src/core/status.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

const prefix = uniquePrefix('race');

beforeAll(() => createTables(prefix));

describe('concurrent processes', () => {
  it('30 concurrent add-product processes lose no update', async () => {
    await shopdb(['cart', 'create', 'c-race', '--user', 'u1'], { prefix });
    const products = [
      { id: 'mug', price: '19.99' },
      { id: 'pen', price: '0.35' },
      { id: 'book', price: '12.50' },
    ];
    const adds = Array.from({ length: 30 }, (_, i) => ({ product: products[i % products.length]!, quantity: (i % 4) + 1 }));
    const runs = await Promise.all(
      adds.map(({ product, quantity }) =>
        shopdb(['cart', 'add-product', 'c-race', product.id, '--price', product.price, '--quantity', String(quantity)], { prefix }),
      ),
    );
    expect(runs.map((run) => run.exitCode)).toEqual(adds.map(() => 0));

    const cart = (await shopdb(['cart', 'get', 'c-race', '--strong'], { prefix })).json<{
      products: Array<{ productId: string; quantity: number; unitPrice: string }>;
      totalAmount: string;
      version: number;
    }>();
    let expectedCents = 0n;
    for (const product of products) {
      const quantity = adds.filter((add) => add.product === product).reduce((sum, add) => sum + add.quantity, 0);
      expect(cart.products.find((line) => line.productId === product.id)?.quantity).toBe(quantity);
      expectedCents += BigInt(product.price.replace('.', '')) * BigInt(quantity);
    }
    expect(cart.products).toHaveLength(products.length);
    expect(cart.totalAmount.replace('.', '')).toBe(expectedCents.toString());
    expect(cart.version).toBe(1 + adds.length);
  });

  it('racing set-status writers make only legal moves', async () => {
    await shopdb(['order', 'create', 'o-race', '--user', 'u1', '--amount', '5'], { prefix });
    const targets: OrderStatus[] = ['PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'PAID', 'SHIPPED', 'CANCELLED', 'COMPLETED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'SHIPPED', 'PAID', 'COMPLETED'];
    const runs = await Promise.all(targets.map((status) => shopdb(['order', 'set-status', 'o-race', status], { prefix })));
    for (const run of runs) expect([0, 4]).toContain(run.exitCode);

    const updates = runs
      .filter((run) => run.exitCode === 0 && run.json<{ result: string }>().result === 'updated')
      .map((run) => run.json<{ order: { status: OrderStatus; version: number } }>().order)
      .sort((a, b) => a.version - b.version);
    // Every applied move, in version order, is a legal step from the one before.
    let current: OrderStatus = 'PENDING';
    for (const update of updates) {
      expect(isLegalMove(current, update.status), `${current} → ${update.status}`).toBe(true);
      current = update.status;
    }
    const final = (await shopdb(['order', 'get', 'o-race', '--strong'], { prefix })).json<{ status: string; version: number }>();
    expect(final.status).toBe(current);
    expect(final.version).toBe(1 + updates.length);
    console.log(`set-status race: ${updates.length} applied, ${runs.filter((run) => run.exitCode === 4).length} refused, final ${final.status}`);
  });
});
