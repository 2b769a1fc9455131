/**
 * Stopping `shopdb serve` under load, with the real binary and DynamoDB
 * Local behind a proxy that holds writes (so that requests are in flight):
 * SIGTERM, SIGINT, pipelined requests at a stop, a request that outlives
 * --shutdown-timeout, a second signal. What was stored is checked with
 * strong reads that do not go through the server.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { rawClient, scanAll } from '../support/dynamo.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { http, startServe as startServeProcess, type ServeOptions, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-ops');
const ORDERS = `${prefix}EcommerceOrders`;
const client = rawClient();

/** Every server a test started: one that a failed test left running is killed at the end. */
const started: Served[] = [];
async function startServe(options: ServeOptions): Promise<Served> {
  const served = await startServeProcess(options);
  started.push(served);
  return served;
}

beforeAll(async () => {
  await createTables(prefix);
});
afterAll(async () => {
  client.destroy();
  await Promise.all(started.map((served) => served.stop('SIGKILL')));
});

interface CartJson {
  products: Array<{ productId: string; quantity: number }>;
  version: number;
}

/** The cart as DynamoDB holds it now (a strong read by the CLI, not through a server or the cache). */
async function strongCart(cartId: string): Promise<CartJson> {
  const run = await shopdb(['cart', 'get', cartId, '--strong'], { prefix });
  expect(run.exitCode, run.stderr).toBe(0);
  return run.json<CartJson>();
}

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
      const created = await Promise.all(carts.map((cartId) => http(served.url, 'POST', '/v1/carts', { body: { cartId, userId: 'u-load' } })));
      expect(created.map((answer) => answer.status)).toEqual(carts.map(() => 201));

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
          `${count((o) => o.error === 'ECONNREFUSED')} refused, ${count((o) => o.error !== undefined && o.error !== 'ECONNREFUSED')} cut ` +
          `(${[...new Set(outcomes.map((o) => o.error).filter((error) => error !== undefined && error !== 'ECONNREFUSED'))].join(', ') || 'none'})`,
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
      const storedCarts = await Promise.all(carts.map(strongCart));
      for (const [w, cartId] of carts.entries()) {
        const mine = outcomes.filter((outcome) => outcome.kind === 'add' && outcome.id === cartId);
        const acked = mine.filter(ok).length;
        const unknown = mine.filter((outcome) => outcome.error !== undefined && outcome.error !== 'ECONNREFUSED').length;
        const cart = storedCarts[w]!;
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
