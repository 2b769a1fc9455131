/**
 * Idempotency-Key across replicas of `shopdb serve` (the records live in
 * DynamoDB, so any replica answers for any other): replays, a key reused for
 * another request, a key still running (the first request held by a fault
 * proxy in front of DynamoDB), a lost answer retried, and keys scoped to the
 * bearer token. What was applied is checked with strong reads of the CLI.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { http, startServe, type HttpAnswer, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-idem');
const TOKEN = 'token-one-0123456789abcdef';
const OTHER_TOKEN = 'token-two-0123456789abcdef';
/** How long the proxy holds the DynamoDB writes of a request naming HELD. */
const HOLD_MS = 2_000;
const HELD = 'p-held';

/** Replicas a and b share a token; c has another; p reaches DynamoDB through the proxy that holds writes naming HELD. */
let a: Served;
let b: Served;
let c: Served;
let p: Served;
let dynamoProxy: FaultProxy;

beforeAll(async () => {
  await createTables(prefix);
  dynamoProxy = await startFaultProxy(inject('dynamoEndpoint'), ({ operation, body }) =>
    /^(PutItem|UpdateItem|TransactWriteItems)$/.test(operation) && body.includes(HELD) ? { holdMs: HOLD_MS } : 'forward',
  );
  const env = { SHOPDB_API_TOKEN: TOKEN };
  [a, b, c, p] = await Promise.all([
    startServe({ prefix, env }),
    startServe({ prefix, env }),
    startServe({ prefix, env: { SHOPDB_API_TOKEN: OTHER_TOKEN } }),
    startServe({ prefix, env: { ...env, SHOPDB_ENDPOINT: dynamoProxy.endpoint } }),
  ]);
});
afterAll(async () => {
  const codes = await Promise.all([a, b, c, p].filter(Boolean).map((served) => served.stop()));
  await dynamoProxy?.close();
  expect(codes).toEqual(codes.map(() => 0));
});

interface CartJson {
  cartId: string;
  products: Array<{ productId: string; quantity: number }>;
  version: number;
}

function post(served: Served, path: string, body: unknown, key?: string, token = served === c ? OTHER_TOKEN : TOKEN): Promise<HttpAnswer> {
  return http(served.url, 'POST', path, { body, token, headers: key === undefined ? {} : { 'idempotency-key': key } });
}

async function newCart(): Promise<string> {
  const cartId = `c-${randomUUID().slice(0, 8)}`;
  const created = await post(a, '/v1/carts', { cartId, userId: 'u-idem' });
  expect(created.status, created.text).toBe(201);
  return cartId;
}

/** The cart as DynamoDB holds it (a strong read by the CLI). */
async function stored(cartId: string): Promise<CartJson> {
  const run = await shopdb(['cart', 'get', cartId, '--strong'], { prefix });
  expect(run.exitCode, run.stderr).toBe(0);
  return run.json<CartJson>();
}

function quantity(cart: CartJson, productId: string): number {
  return cart.products.find((line) => line.productId === productId)?.quantity ?? 0;
}

describe('Idempotency-Key across replicas', () => {
  it('a key used on replica A replays on replica B: same status, body and headers, Idempotent-Replayed: true, applied once', async () => {
    const cartId = await newCart();
    const key = randomUUID();
    const body = { productId: 'p-1', price: '2.50', quantity: 3 };
    const first = await post(a, `/v1/carts/${cartId}/products`, body, key);
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await post(b, `/v1/carts/${cartId}/products`, body, key);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));

    const cart = await stored(cartId);
    expect(quantity(cart, 'p-1')).toBe(3);
    expect(cart.version).toBe(2);
  });

  it('a create replayed on the other replica answers 201 with its Location again, and the order exists once', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const body = { orderId, userId: 'u-idem', totalAmount: '12.34' };
    const first = await post(b, '/v1/orders', body, key);
    expect(first.status, first.text).toBe(201);
    const again = await post(a, '/v1/orders', body, key);
    expect(again).toMatchObject({ status: 201, text: first.text });
    expect(again.headers.get('location')).toBe(`/v1/orders/${orderId}`);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // Without the key the same create is a repeat: 200 unchanged, not a replay.
    const repeat = await post(a, '/v1/orders', body);
    expect(repeat.status).toBe(200);
    expect((repeat.body as { result: string }).result).toBe('unchanged');
  });

  it('the same key with another body is 422 on either replica, and nothing more is written', async () => {
    const cartId = await newCart();
    const key = randomUUID();
    expect((await post(a, `/v1/carts/${cartId}/products`, { productId: 'p-1', price: '1.00' }, key)).status).toBe(200);
    for (const [replica, body] of [
      [b, { productId: 'p-1', price: '1.00', quantity: 2 }],
      [a, { productId: 'p-2', price: '1.00' }],
    ] as const) {
      const reused = await post(replica, `/v1/carts/${cartId}/products`, body, key);
      expect(reused.status).toBe(422);
      expect(reused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(reused.body).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    }
    // The same key on another path is another request too.
    const otherCart = await newCart();
    expect((await post(b, `/v1/carts/${otherCart}/products`, { productId: 'p-1', price: '1.00' }, key)).status).toBe(422);

    const cart = await stored(cartId);
    expect(cart.products.map((line) => [line.productId, line.quantity])).toEqual([['p-1', 1]]);
    expect(cart.version).toBe(2);
    expect((await stored(otherCart)).version).toBe(1);
  });

  it('the same key while the first request still runs (its write held in front of DynamoDB) is 409 with Retry-After, on another replica', async () => {
    const cartId = await newCart();
    const key = randomUUID();
    const body = { productId: HELD, price: '3.00' };
    const seenBefore = dynamoProxy.seen.length;
    const first = post(p, `/v1/carts/${cartId}/products`, body, key);
    await until(() => dynamoProxy.seen.slice(seenBefore).some((request) => request.operation === 'TransactWriteItems' && request.body.includes(HELD)));

    for (const replica of [a, b]) {
      const running = await post(replica, `/v1/carts/${cartId}/products`, body, key);
      expect(running.status).toBe(409);
      expect(running.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(running.body).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
    }
    const answered = await first;
    expect(answered.status, answered.text).toBe(200);
    // Once it is done the key replays.
    const replayed = await post(b, `/v1/carts/${cartId}/products`, body, key);
    expect(replayed).toMatchObject({ status: 200, text: answered.text });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');

    const cart = await stored(cartId);
    expect(quantity(cart, HELD)).toBe(1);
    expect(cart.version).toBe(2);
  });

  it('20 concurrent requests with one key, split across both replicas: one runs, the others are 409 or replays; applied once', async () => {
    const cartId = await newCart();
    const key = randomUUID();
    const body = { productId: 'p-crowd', price: '0.99', quantity: 7 };
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 === 0 ? a : b, `/v1/carts/${cartId}/products`, body, key)));
    const ran = answers.filter((answer) => answer.status === 200 && answer.headers.get('idempotent-replayed') === null);
    expect(ran).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 200) expect(answer.text).toBe(ran[0]!.text);
      else expect(answer.body).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
    }
    const cart = await stored(cartId);
    expect(quantity(cart, 'p-crowd')).toBe(7);
    expect(cart.version).toBe(2);
  });

  it('a lost answer (the connection closed before it arrived) retried with the same key is applied once; without a key it adds twice', async () => {
    // Between the client and replica A: forwards the request, lets A answer, then drops the answer and closes the connection.
    let dropNext = true;
    const lossy = await startFaultProxy(a.url, () => {
      const fault = dropNext ? ('drop-response' as const) : ('forward' as const);
      dropNext = false;
      return fault;
    });
    try {
      const cartId = await newCart();
      const key = randomUUID();
      const body = { productId: 'p-lost', price: '4.20', quantity: 2 };
      const lost = await post({ ...a, url: lossy.endpoint }, `/v1/carts/${cartId}/products`, body, key).then(
        () => 'answered',
        () => 'lost',
      );
      expect(lost).toBe('lost');
      // The client cannot know whether it was applied: it retries with the same key (here on replica B).
      const retried = await post(b, `/v1/carts/${cartId}/products`, body, key);
      expect(retried.status, retried.text).toBe(200);
      expect(retried.headers.get('idempotent-replayed')).toBe('true');
      expect((retried.body as { cart: CartJson }).cart.version).toBe(2);
      let cart = await stored(cartId);
      expect(quantity(cart, 'p-lost')).toBe(2);
      expect(cart.version).toBe(2);

      // The same loss without a key: the retry is a new add (why clients send keys).
      dropNext = true;
      const lostAgain = await post({ ...a, url: lossy.endpoint }, `/v1/carts/${cartId}/products`, body).then(
        () => 'answered',
        () => 'lost',
      );
      expect(lostAgain).toBe('lost');
      expect((await post(b, `/v1/carts/${cartId}/products`, body)).status).toBe(200);
      cart = await stored(cartId);
      expect(quantity(cart, 'p-lost')).toBe(6);
    } finally {
      await lossy.close();
    }
  });

  it("keys are scoped to the token: another token's identical request with the same key runs on its own, and another body is not 422 for it", async () => {
    const cartId = await newCart();
    const key = randomUUID();
    const body = { productId: 'p-scope', price: '1.50' };
    const mine = await post(a, `/v1/carts/${cartId}/products`, body, key);
    expect(mine.status).toBe(200);

    // Replica c holds another token: the key is not the first token's, so nothing is replayed to it.
    const theirs = await post(c, `/v1/carts/${cartId}/products`, body, key);
    expect(theirs.status, theirs.text).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect((theirs.body as { cart: CartJson }).cart.version).toBe(3);
    const theirsOther = await post(c, `/v1/carts/${cartId}/products`, { productId: 'p-scope', price: '1.50', quantity: 5 }, randomUUID());
    expect(theirsOther.status).toBe(200);
    // And the first token still gets its own answer back.
    const replay = await post(b, `/v1/carts/${cartId}/products`, body, key);
    expect(replay).toMatchObject({ status: 200, text: mine.text });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const cart = await stored(cartId);
    expect(quantity(cart, 'p-scope')).toBe(1 + 1 + 5);
    expect(cart.version).toBe(4);
  });

  it('a refused request claims nothing: a bad token or a bad body with a key, then the good request with that key runs', async () => {
    const cartId = await newCart();
    const key = randomUUID();
    const body = { productId: 'p-fix', price: '1.00' };
    const unauthorized = await post(a, `/v1/carts/${cartId}/products`, body, key, 'not-the-token-0123456789');
    expect(unauthorized.status).toBe(401);
    const invalid = await post(a, `/v1/carts/${cartId}/products`, { productId: 'p-fix', price: 1 }, key);
    expect(invalid.status).toBe(400);
    const good = await post(b, `/v1/carts/${cartId}/products`, body, key);
    expect(good.status, good.text).toBe(200);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
    expect(quantity(await stored(cartId), 'p-fix')).toBe(1);
  });
});

async function until(condition: () => boolean, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the held write to reach the proxy');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
