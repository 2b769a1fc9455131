/**
 * Operations of `shopdb serve`, with the real binary, DynamoDB Local and
 * redis-server: two replicas sharing one table prefix and one Redis, and
 * stopping under load (SIGTERM, SIGINT, a second signal, a request that
 * outlives --shutdown-timeout). What was stored is checked with strong reads
 * that do not go through the server.
 */
import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { rawClient, scanAll } from '../support/dynamo.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { http, startServe, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-ops');
const ORDERS = `${prefix}EcommerceOrders`;
const client = rawClient();

beforeAll(async () => {
  await createTables(prefix);
});
afterAll(() => {
  client.destroy();
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

/** What one request of the load got: an answer, or no answer at all (the connection failed). */
interface Outcome {
  kind: 'create' | 'add';
  id: string;
  sentAt: number;
  doneAt: number;
  status?: number;
  retryAfter?: string | null;
  contentType?: string | null;
  version?: number;
  /** The cause's code of a failed connection (ECONNREFUSED: never reached the server). */
  error?: string;
}

async function attempt(base: string, kind: Outcome['kind'], id: string, path: string, body: unknown): Promise<Outcome> {
  const sentAt = Date.now();
  try {
    const answer = await http<{ cart?: { version: number }; order?: { version: number } }>(base, 'POST', path, { body });
    return {
      kind,
      id,
      sentAt,
      doneAt: Date.now(),
      status: answer.status,
      retryAfter: answer.headers.get('retry-after'),
      contentType: answer.headers.get('content-type'),
      version: answer.body?.cart?.version ?? answer.body?.order?.version,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind, id, sentAt, doneAt: Date.now(), error: cause?.code ?? cause?.message ?? String(error) };
  }
}

const ok = (outcome: Outcome) => outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;

async function until(condition: () => boolean | Promise<boolean>, what: string, withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** DynamoDB writes go through a proxy that holds each one a little (so that requests are always in flight), and those naming a marker longer. */
function holdWrites(holdMs: number, slow: Record<string, number>): (request: { operation: string; body: string }) => Fault {
  return ({ operation, body }) => {
    if (!/^(PutItem|UpdateItem|DeleteItem|TransactWriteItems)$/.test(operation)) return 'forward';
    const marker = Object.keys(slow).find((candidate) => body.includes(candidate));
    return { holdMs: marker === undefined ? holdMs : (slow[marker] as number) };
  };
}

/**
 * One raw HTTP/1.1 connection: requests written on it are pipelined (Node
 * answers them in order); `closed` resolves with everything received once the
 * server closes the connection.
 */
function connection(port: number): { send(path: string, body: unknown): void; closed: Promise<string> } {
  const socket = connect({ host: '127.0.0.1', port });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  const closed = new Promise<string>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
  return {
    send(path, body) {
      const text = JSON.stringify(body);
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    },
    closed,
  };
}

const WORKERS = 6;
const SHUTDOWN_SECONDS = 5;

describe('stopping under load', () => {
  let proxy: FaultProxy;

  beforeAll(async () => {
    proxy = await startFaultProxy(inject('dynamoEndpoint'), holdWrites(120, { 'o-stuck': 8_000, 'o-slow': 1_500 }));
  });
  afterAll(async () => {
    await proxy?.close();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} under load: exit 0 within --shutdown-timeout, requests in flight finish, every acknowledged write is stored, later requests get no 2xx`, async () => {
      const tag = signal.toLowerCase();
      const served = await startServe({ prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint }, args: ['--shutdown-timeout', String(SHUTDOWN_SECONDS)] });
      const carts = Array.from({ length: WORKERS }, (_, w) => `c-${tag}-${w}`);
      for (const cartId of carts) {
        const created = await http(served.url, 'POST', '/v1/carts', { body: { cartId, userId: 'u-load' } });
        expect(created.status, created.text).toBe(201);
      }

      const outcomes: Outcome[] = [];
      let signalAt = Infinity;
      // Each worker alternates creating an order and adding to its own cart, and stops at its first
      // request without a 2xx after the signal (a 503 or a failed connection).
      const workers = carts.map(async (cartId, w) => {
        for (let i = 0; ; i++) {
          const outcome =
            i % 2 === 0
              ? await attempt(served.url, 'create', `o-${tag}-${w}-${i}`, '/v1/orders', { orderId: `o-${tag}-${w}-${i}`, userId: 'u-load', totalAmount: `${i}.05` })
              : await attempt(served.url, 'add', cartId, `/v1/carts/${cartId}/products`, { productId: 'p', price: '0.10' });
          outcomes.push(outcome);
          if (outcome.sentAt > signalAt && !ok(outcome)) return;
          if (Date.now() > signalAt + 20_000) throw new Error(`worker ${w} still gets 2xx answers 20 s after ${signal}`);
        }
      });
      await until(() => outcomes.filter(ok).length >= 4 * WORKERS, 'acknowledged writes before the signal');
      signalAt = Date.now();
      process.kill(served.pid, signal);
      const code = await served.exited;
      const exitedAt = Date.now();
      await Promise.all(workers);

      const count = (which: (outcome: Outcome) => boolean) => outcomes.filter(which).length;
      console.log(
        `${signal} under load: exit ${code} after ${exitedAt - signalAt} ms; ${count(ok)} acknowledged, ${count((o) => o.status === 503)} answered 503, ` +
          `${count((o) => o.error === 'ECONNREFUSED')} refused, ${count((o) => o.error !== undefined && o.error !== 'ECONNREFUSED')} cut`,
      );
      expect(code).toBe(0);
      // Done once the requests in flight are: well before the bound, which only cuts what is stuck.
      expect(exitedAt - signalAt).toBeLessThan(SHUTDOWN_SECONDS * 1000 - 1000);
      // The requests in flight when the signal came were finished, not cut.
      const drained = outcomes.filter((outcome) => outcome.sentAt < signalAt && outcome.doneAt > signalAt);
      expect(drained.length).toBeGreaterThan(0);
      expect(drained.filter((outcome) => !ok(outcome))).toEqual([]);
      // Nothing but a 2xx, the 503 of a stopping server (a problem with Retry-After) or a failed connection.
      for (const outcome of outcomes) {
        if (outcome.error !== undefined) continue;
        if (ok(outcome)) continue;
        expect(outcome).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), retryAfter: expect.stringMatching(/^\d+$/) });
      }
      // Once it has exited, a new connection is refused.
      const after = await attempt(served.url, 'create', `o-${tag}-after`, '/v1/orders', { orderId: `o-${tag}-after`, userId: 'u-load', totalAmount: '1.00' });
      expect(after.error).toBe('ECONNREFUSED');

      // Every acknowledged create is in DynamoDB (a strong scan, not through the server).
      const stored = new Set((await scanAll(client, ORDERS)).map((item) => item.orderId?.S));
      const acknowledged = outcomes.filter((outcome) => outcome.kind === 'create' && ok(outcome));
      expect(acknowledged.filter((outcome) => !stored.has(outcome.id)).map((outcome) => outcome.id)).toEqual([]);
      // A 503 or a refused connection never reached a handler: nothing of it was written.
      const refused = outcomes.filter((outcome) => outcome.kind === 'create' && (outcome.status === 503 || outcome.error === 'ECONNREFUSED'));
      expect(refused.filter((outcome) => stored.has(outcome.id)).map((outcome) => outcome.id)).toEqual([]);
      // Every acknowledged add is in its cart: one add, one version; only a request whose answer was lost may have been applied unseen.
      for (const cartId of carts) {
        const mine = outcomes.filter((outcome) => outcome.kind === 'add' && outcome.id === cartId);
        const acked = mine.filter(ok).length;
        const unknown = mine.filter((outcome) => outcome.error !== undefined && outcome.error !== 'ECONNREFUSED').length;
        const cart = await strongCart(cartId);
        const quantity = cart.products[0]?.quantity ?? 0;
        expect(quantity).toBeGreaterThanOrEqual(acked);
        expect(quantity).toBeLessThanOrEqual(acked + unknown);
        expect(cart.version).toBe(1 + quantity);
        expect(Math.max(1, ...mine.filter(ok).map((outcome) => outcome.version ?? 0))).toBeLessThanOrEqual(cart.version);
      }
    }, 60_000);
  }

  it('on an open connection: pipelined requests are all answered, one arriving after the stop gets a 503 problem, then the connection closes', async () => {
    const served = await startServe({ prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint }, args: ['--shutdown-timeout', '10'] });
    const order = (orderId: string) => ({ orderId, userId: 'u-load', totalAmount: '1.00' });
    const socket = connection(served.port);
    socket.send('/v1/orders', order('o-slow-1'));
    socket.send('/v1/orders', order('o-pipelined-1'));
    await until(() => proxy.seen.some((request) => request.body.includes('o-slow-1')), 'the held write to reach DynamoDB');
    const signalAt = Date.now();
    process.kill(served.pid, 'SIGTERM');
    await until(() => served.logs().includes('stopping'), 'the server to log that it is stopping');
    socket.send('/v1/orders', order('o-pipelined-2'));
    expect(await served.exited).toBe(0);
    // Done when the held request is (1.5 s), not at the 10 s bound: no idle connection was left open.
    expect(Date.now() - signalAt).toBeLessThan(5_000);

    const received = (await socket.closed).split(/(?=HTTP\/1\.1 )/);
    expect(received.map((answer) => answer.slice(0, 12))).toEqual(['HTTP/1.1 201', 'HTTP/1.1 201', 'HTTP/1.1 503']);
    const refused = received[2]!;
    expect(refused).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(refused).toMatch(/\r\nretry-after: \d+\r\n/i);
    expect(refused).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    const stored = new Set((await scanAll(client, ORDERS)).map((item) => item.orderId?.S));
    expect(['o-slow-1', 'o-pipelined-1', 'o-pipelined-2'].map((id) => stored.has(id))).toEqual([true, true, false]);
  });

  it('a request that outlives --shutdown-timeout is cut: the process still exits 0 within the bound', async () => {
    const served = await startServe({ prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint }, args: ['--shutdown-timeout', '1'] });
    const stuck = attempt(served.url, 'create', 'o-stuck-1', '/v1/orders', { orderId: 'o-stuck-1', userId: 'u-load', totalAmount: '1.00' });
    await until(() => proxy.seen.some((request) => request.body.includes('o-stuck-1')), 'the held write to reach DynamoDB');
    const signalAt = Date.now();
    process.kill(served.pid, 'SIGTERM');
    expect(await served.exited).toBe(0);
    const took = Date.now() - signalAt;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
    // It never got an answer: no acknowledgement of a write that may or may not land.
    expect((await stuck).error).toBeDefined();
  });

  it('a second signal exits at once, without waiting for the requests in flight', async () => {
    const served = await startServe({ prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint }, args: ['--shutdown-timeout', '30'] });
    const stuck = attempt(served.url, 'create', 'o-stuck-2', '/v1/orders', { orderId: 'o-stuck-2', userId: 'u-load', totalAmount: '1.00' });
    await until(() => proxy.seen.some((request) => request.body.includes('o-stuck-2')), 'the held write to reach DynamoDB');
    process.kill(served.pid, 'SIGTERM');
    await until(() => served.logs().includes('stopping'), 'the server to log that it is stopping');
    const secondAt = Date.now();
    process.kill(served.pid, 'SIGTERM');
    // 128 + 15, as a shell reports a process killed by SIGTERM.
    expect(await served.exited).toBe(143);
    expect(Date.now() - secondAt).toBeLessThan(1500);
    expect((await stuck).error).toBeDefined();
  });
});
