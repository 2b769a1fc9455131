import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLegalMove, ORDER_STATUSES, type OrderStatus } from '../../src/core/status.js';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

/*
 * Real processes of the built binary, with the tool's real timeouts, racing
 * a freshly started DynamoDB Local: a cold engine on 2 cores can take seconds
 * to answer 50 processes at once.
 */

const prefix = uniquePrefix('race');
let engine: TestEngine;

function run(args: string[]): Promise<Run> {
  return shopdb(args, { prefix, env: { SHOPDB_ENDPOINT: engine.endpoint } });
}

beforeAll(async () => {
  engine = await startTestEngine();
  const created = await run(['tables', 'create']);
  expect(created.exitCode).toBe(0);
}, 120_000);

afterAll(() => engine?.stop());

describe('concurrent processes', () => {
  it('50 concurrent add-product processes over mixed products lose no update', async () => {
    await run(['cart', 'create', 'c-race', '--user', 'u1']);
    const products = [
      { id: 'mug', price: '19.99' },
      { id: 'pen', price: '0.35' },
      { id: 'book', price: '12.50' },
      { id: 'gold', price: '99999999999999999.99' },
      { id: 'tea', price: '4.05' },
    ];
    const adds = Array.from({ length: 50 }, (_, i) => ({ product: products[(i * 7) % products.length]!, quantity: (i % 4) + 1 }));
    const runs = await Promise.all(
      adds.map(({ product, quantity }) => run(['cart', 'add-product', 'c-race', product.id, '--price', product.price, '--quantity', String(quantity)])),
    );
    const failures = runs.filter((result) => result.exitCode !== 0).map((result) => result.stderr.trim());
    expect(failures).toEqual([]);

    const cart = (await run(['cart', 'get', 'c-race', '--strong'])).json<{
      products: Array<{ productId: string; quantity: number; unitPrice: string }>;
      totalAmount: string;
      version: number;
    }>();
    let expectedCents = 0n;
    for (const product of products) {
      const quantity = adds.filter((add) => add.product === product).reduce((sum, add) => sum + add.quantity, 0);
      const line = cart.products.find((candidate) => candidate.productId === product.id);
      expect(line, product.id).toMatchObject({ quantity, unitPrice: product.price });
      expectedCents += BigInt(product.price.replace('.', '')) * BigInt(quantity);
    }
    expect(cart.products).toHaveLength(products.length);
    expect(cart.totalAmount.replace('.', '')).toBe(expectedCents.toString());
    expect(cart.version).toBe(1 + adds.length);
    console.log(`add-product race: ${runs.length} processes, all exit 0, ${cart.products.length} lines, total ${cart.totalAmount}, version ${cart.version}`);
  });

  it('20 set-status writers with random targets make only legal moves', async () => {
    await run(['order', 'create', 'o-race', '--user', 'u1', '--amount', '5']);
    const targets = Array.from({ length: 20 }, () => ORDER_STATUSES[Math.floor(Math.random() * ORDER_STATUSES.length)]!);
    const runs = await Promise.all(targets.map((status) => run(['order', 'set-status', 'o-race', status])));
    for (const result of runs) expect([0, 4]).toContain(result.exitCode);

    const outcomes = runs.filter((result) => result.exitCode === 0).map((result) => result.json<{ result: string; order: { status: OrderStatus; version: number } }>());
    const updates = outcomes.filter((outcome) => outcome.result === 'updated').map((outcome) => outcome.order).sort((a, b) => a.version - b.version);
    // The applied moves, in version order, form a chain of legal steps from PENDING.
    let current: OrderStatus = 'PENDING';
    for (const update of updates) {
      expect(isLegalMove(current, update.status), `${current} → ${update.status}`).toBe(true);
      current = update.status;
    }
    const final = (await run(['order', 'get', 'o-race', '--strong'])).json<{ status: string; version: number }>();
    expect(final).toMatchObject({ status: current, version: 1 + updates.length });
    // A no-op success claims the order already had that status: it must be one the chain passed through.
    const visited = new Set<string>(['PENDING', ...updates.map((update) => update.status)]);
    for (const outcome of outcomes.filter((candidate) => candidate.result === 'unchanged')) expect(visited).toContain(outcome.order.status);
    const refused = runs.length - outcomes.length;
    console.log(`set-status race: targets ${targets.join(',')}; ${updates.length} applied, ${outcomes.length - updates.length} no-op, ${refused} refused, final ${final.status}`);
  });

  it('20 concurrent creates of one id with different contents: exactly one wins', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => run(['order', 'create', 'o-contest', '--user', `user-${i}`, '--amount', `${i + 1}.00`])));
    const winners = runs.filter((result) => result.exitCode === 0);
    expect(winners).toHaveLength(1);
    expect(runs.filter((result) => result.exitCode === 4)).toHaveLength(19);
    const winner = winners[0]!.json<{ result: string; order: { userId: string; totalAmount: string } }>();
    expect(winner.result).toBe('created');
    const stored = (await run(['order', 'get', 'o-contest', '--strong'])).json();
    expect(stored).toMatchObject({ userId: winner.order.userId, totalAmount: winner.order.totalAmount, version: 1 });
    console.log(`create race, different contents: 1 created (${winner.order.userId}), ${runs.length - 1} exit 4`);
  });

  it('20 concurrent creates of one id with identical contents: all succeed, one write', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () => run(['order', 'create', 'o-same', '--user', 'u1', '--amount', '9.99'])));
    expect(runs.map((result) => result.exitCode)).toEqual(runs.map(() => 0));
    const results = runs.map((result) => result.json<{ result: string }>().result);
    expect(results.filter((result) => result === 'created')).toHaveLength(1);
    expect((await run(['order', 'get', 'o-same', '--strong'])).json()).toMatchObject({ userId: 'u1', totalAmount: '9.99', version: 1 });
    console.log(`create race, identical contents: 1 created, ${results.length - 1} unchanged, all exit 0`);
  });
});
