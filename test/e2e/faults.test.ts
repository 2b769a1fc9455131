import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { requestToken, startFaultProxy, type Fault, type SeenRequest } from '../support/fault-proxy.js';

const prefix = uniquePrefix('faults');

beforeAll(() => createTables(prefix));

/** Runs shopdb through a fault proxy that applies `decide` to each request. */
async function throughProxy(args: string[], decide: (request: SeenRequest) => Fault) {
  const proxy = await startFaultProxy(inject('dynamoEndpoint'), decide);
  try {
    const started = Date.now();
    const run = await shopdb(args, { prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint } });
    return { run, seen: proxy.seen, elapsedMs: Date.now() - started, endpoint: proxy.endpoint };
  } finally {
    await proxy.close();
  }
}

/** The fault for the first request of `operation`; everything else goes through. */
function firstOf(operation: string, fault: Fault): (request: SeenRequest) => Fault {
  let done = false;
  return (request) => {
    if (done || request.operation !== operation) return 'forward';
    done = true;
    return fault;
  };
}

function strongGet(kind: 'order' | 'cart', id: string) {
  return shopdb([kind, 'get', id, '--strong'], { prefix }).then((run) => run.json<Record<string, unknown>>());
}

describe('unreachable or silent DynamoDB', () => {
  it('a refused connection exits 5 at once, naming the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const run = await shopdb(['order', 'get', 'o1', '--endpoint', endpoint], { prefix });
    const elapsedMs = Date.now() - started;
    expect(run.exitCode).toBe(5);
    expect(run.stderr).toContain(endpoint);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(elapsedMs).toBeLessThan(5_000);
    console.log(`refused endpoint: exit 5 after ${elapsedMs} ms`);
  });

  describe('an endpoint that accepts and never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let endpoint: string;

    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });

    it.each([
      [['order', 'get', 'o1', '--timeout', '2'], 2_000],
      [['cart', 'add-product', 'c1', 'p1', '--price', '1', '--timeout', '2'], 2_000],
      [['order', 'get', 'o1'], 10_000],
    ])('%j ends within its bound with exit 5', async (args, boundMs) => {
      const started = Date.now();
      const run = await shopdb([...args, '--endpoint', endpoint], { prefix });
      const elapsedMs = Date.now() - started;
      expect(run.exitCode).toBe(5);
      expect(run.stderr).toContain(endpoint);
      expect(run.stderr).toMatch(/no answer/);
      // The bound, plus start-up and the SDK's short backoff between attempts.
      expect(elapsedMs).toBeLessThan(boundMs + 3_000);
      console.log(`black hole, bound ${boundMs} ms: exit 5 after ${elapsedMs} ms`);
    });
  });
});

describe('throttling', () => {
  it('is retried with backoff and succeeds when it passes', async () => {
    await shopdb(['order', 'create', 'o-throttle', '--user', 'u1', '--amount', '3'], { prefix });
    let throttled = 0;
    const { run, seen } = await throughProxy(['order', 'get', 'o-throttle'], () => (throttled++ < 2 ? 'throttle' : 'forward'));
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ orderId: 'o-throttle' });
    expect(seen.filter((request) => request.operation === 'GetItem')).toHaveLength(3);
  });

  it('exits 5 once the retry budget is spent, and the write is not applied', async () => {
    await shopdb(['cart', 'create', 'c-throttle', '--user', 'u1'], { prefix });
    const { run, seen } = await throughProxy(['cart', 'add-product', 'c-throttle', 'mug', '--price', '2'], (request) =>
      request.operation === 'TransactWriteItems' ? 'throttle' : 'forward',
    );
    expect(run.exitCode).toBe(5);
    expect(run.stderr).toMatch(/throttl/i);
    expect(seen.filter((request) => request.operation === 'TransactWriteItems').length).toBeGreaterThanOrEqual(2);
    expect(await strongGet('cart', 'c-throttle')).toMatchObject({ products: [], version: 1 });
  });
});

describe('a write applied whose answer is lost, so the SDK resends it', () => {
  it('cart add-product takes effect exactly once', async () => {
    await shopdb(['cart', 'create', 'c-lost', '--user', 'u1'], { prefix });
    await shopdb(['cart', 'add-product', 'c-lost', 'mug', '--price', '19.99'], { prefix });
    const { run, seen } = await throughProxy(['cart', 'add-product', 'c-lost', 'mug', '--price', '19.99', '--quantity', '2'], firstOf('TransactWriteItems', 'drop-response'));
    expect(run.exitCode).toBe(0);
    const writes = seen.filter((request) => request.operation === 'TransactWriteItems');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(writes.map(requestToken)).size).toBe(1);
    expect(await strongGet('cart', 'c-lost')).toMatchObject({ products: [{ productId: 'mug', quantity: 3 }], totalAmount: '59.97', version: 3 });
  });

  it('order create reports success and creates one order', async () => {
    const { run, seen } = await throughProxy(['order', 'create', 'o-lost', '--user', 'u1', '--amount', '7.50'], firstOf('PutItem', 'drop-response'));
    expect(run.exitCode).toBe(0);
    expect(seen.filter((request) => request.operation === 'PutItem').length).toBeGreaterThanOrEqual(2);
    expect(await strongGet('order', 'o-lost')).toMatchObject({ userId: 'u1', totalAmount: '7.50', version: 1 });
  });

  it('order set-status reports success and moves once', async () => {
    await shopdb(['order', 'create', 'o-lost-status', '--user', 'u1', '--amount', '1'], { prefix });
    const { run, seen } = await throughProxy(['order', 'set-status', 'o-lost-status', 'PAID'], firstOf('UpdateItem', 'drop-response'));
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ order: { status: 'PAID', version: 2 } });
    expect(seen.filter((request) => request.operation === 'UpdateItem').length).toBeGreaterThanOrEqual(2);
    expect(await strongGet('order', 'o-lost-status')).toMatchObject({ status: 'PAID', version: 2 });
  });

  it('a resend that overtakes a still-running first attempt applies once', async () => {
    await shopdb(['cart', 'create', 'c-overlap', '--user', 'u1'], { prefix });
    // --timeout 3 gives each attempt 1 s; the first is held 1.5 s, so the SDK's resend reaches DynamoDB first.
    const { run, seen } = await throughProxy(['cart', 'add-product', 'c-overlap', 'mug', '--price', '5', '--timeout', '3'], firstOf('TransactWriteItems', { holdMs: 1_500 }));
    expect(run.exitCode).toBe(0);
    const writes = seen.filter((request) => request.operation === 'TransactWriteItems');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(writes.map(requestToken)).size).toBe(1);
    // Let the held first attempt reach DynamoDB too before looking.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await strongGet('cart', 'c-overlap')).toMatchObject({ products: [{ productId: 'mug', quantity: 1 }], totalAmount: '5.00', version: 2 });
  });

  it('TransactionInProgressException is retried with the same token', async () => {
    await shopdb(['cart', 'create', 'c-progress', '--user', 'u1'], { prefix });
    const { run, seen } = await throughProxy(['cart', 'add-product', 'c-progress', 'mug', '--price', '5'], firstOf('TransactWriteItems', 'in-progress'));
    expect(run.exitCode).toBe(0);
    const writes = seen.filter((request) => request.operation === 'TransactWriteItems');
    expect(writes).toHaveLength(2);
    expect(requestToken(writes[0]!)).toBe(requestToken(writes[1]!));
    expect(await strongGet('cart', 'c-progress')).toMatchObject({ products: [{ quantity: 1 }], version: 2 });
  });
});
