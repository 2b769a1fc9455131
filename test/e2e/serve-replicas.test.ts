/**
 * Two replicas of `shopdb serve` on one table prefix and one Redis (--cache),
 * with the real binary, DynamoDB Local and redis-server: concurrent writes
 * through both lose no update, and both replicas' cached reads answer the
 * last write. What was stored is checked with a strong read of the CLI.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { http, startServe, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-replicas');

beforeAll(async () => {
  await createTables(prefix);
});

interface CartJson {
  cartId: string;
  products: Array<{ productId: string; quantity: number; unitPrice: string }>;
  totalAmount: string;
  version: number;
}

/** The cart as DynamoDB holds it now (a strong read by the CLI, not through a server or the cache). */
async function strongCart(cartId: string): Promise<CartJson> {
  const run = await shopdb(['cart', 'get', cartId, '--strong'], { prefix });
  expect(run.exitCode, run.stderr).toBe(0);
  return run.json<CartJson>();
}

function money(cents: bigint): string {
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

function cents(amount: string): bigint {
  const [whole = '0', fraction = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

describe('two replicas on one table prefix and one Redis', () => {
  let replicas: Served[];

  beforeAll(async () => {
    const args = ['--cache', '--redis-url', inject('redisUrl')];
    replicas = await Promise.all([startServe({ prefix, args }), startServe({ prefix, args })]);
  });
  afterAll(async () => {
    const codes = await Promise.all((replicas ?? []).map((replica) => replica.stop()));
    expect(codes).toEqual(codes.map(() => 0));
  });

  // Prices up to 17 digits before the point (the most an amount may have): a float would lose the cents.
  const product = fc.record({ price: fc.bigInt({ min: 1n, max: 10n ** 19n - 1n }), name: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }) });
  const add = fc.record({ product: fc.nat(), quantity: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }) });
  let run = 0;

  it('50 concurrent add-product requests split across both replicas on one cart: exact quantities and total, version 1 + 50', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(product, { minLength: 1, maxLength: 6 }), fc.array(add, { minLength: 50, maxLength: 50 }), async (products, adds) => {
        const cartId = `c-replicas-${run++}`;
        const [a, b] = replicas as [Served, Served];
        const created = await http(a.url, 'POST', '/v1/carts', { body: { cartId, userId: 'u-replicas' } });
        expect(created.status, created.text).toBe(201);

        const requests = adds.map(({ product: index, quantity }, i) => {
          const productId = `p${index % products.length}`;
          const { price, name } = products[index % products.length]!;
          const body = { productId, price: money(price), ...(quantity === undefined ? {} : { quantity }), ...(name === undefined ? {} : { name }) };
          return { productId, quantity: quantity ?? 1, replica: i % 2 === 0 ? a : b, body };
        });
        const answers = await Promise.all(requests.map((request) => http<{ result: string; cart: CartJson }>(request.replica.url, 'POST', `/v1/carts/${cartId}/products`, { body: request.body })));

        const refused = answers.filter((answer) => answer.status !== 200).map((answer) => `${answer.status} ${answer.text}`);
        expect(refused).toEqual([]);
        expect(new Set(answers.map((answer) => answer.body.result))).toEqual(new Set(['updated']));
        // An answer shows the cart as read back after its add (later adds may already be in it): never without its own line.
        for (const [i, answer] of answers.entries()) {
          expect(answer.body.cart.version).toBeGreaterThanOrEqual(2);
          expect(answer.headers.get('etag')).toBe(`"${answer.body.cart.version}"`);
          const line = answer.body.cart.products.find((candidate) => candidate.productId === requests[i]!.productId);
          expect(line?.quantity).toBeGreaterThanOrEqual(requests[i]!.quantity);
        }
        expect(Math.max(...answers.map((answer) => answer.body.cart.version))).toBe(51);

        const stored = await strongCart(cartId);
        const expected = new Map<string, { quantity: number; price: bigint }>();
        for (const request of requests) {
          const { price } = products[Number(request.productId.slice(1))]!;
          const line = expected.get(request.productId) ?? { quantity: 0, price };
          line.quantity += request.quantity;
          expected.set(request.productId, line);
        }
        let total = 0n;
        for (const [productId, line] of expected) {
          expect(stored.products.find((candidate) => candidate.productId === productId), productId).toMatchObject({ quantity: line.quantity, unitPrice: money(line.price) });
          total += line.price * BigInt(line.quantity);
        }
        expect(stored.products).toHaveLength(expected.size);
        expect(cents(stored.totalAmount)).toBe(total);
        expect(stored.totalAmount).toBe(money(total));
        expect(stored.version).toBe(1 + 50);

        // Both replicas' cached reads (one shared Redis) answer the last write, not an older one.
        for (const replica of [a, b]) {
          const read = await http<CartJson>(replica.url, 'GET', `/v1/carts/${cartId}`);
          expect(read.status).toBe(200);
          expect(['hit', 'miss']).toContain(read.headers.get('x-cache'));
          expect(read.headers.get('etag')).toBe('"51"');
          expect(read.body).toEqual(stored);
        }
      }),
      { numRuns: 2, endOnFailure: true },
    );
  });
});
