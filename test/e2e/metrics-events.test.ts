import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { openShop, type DynamoCall, type Shop, type ShopEvents, type ShopSettings } from '../../src/app/shop.js';
import { freePort } from '../../src/local/engine.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { shopSettings } from '../support/dynamo.js';
import { startFaultProxy, type Fault, type FaultProxy, type SeenRequest } from '../support/fault-proxy.js';

/*
 * The events `shopdb serve`'s metrics are fed from (app/shop.ts ShopEvents):
 * every DynamoDB call with its table, outcome and the capacity DynamoDB Local
 * reports, and every failed cache operation.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const prefix = uniquePrefix('metrics-events');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;

beforeAll(() => createTables(prefix));

const settings = (overrides: Partial<ShopSettings> = {}): ShopSettings => shopSettings(prefix, overrides);

/** A shop whose DynamoDB calls and cache errors are recorded. */
async function recordingShop(overrides: Partial<ShopSettings> = {}, extra: Partial<ShopEvents> = {}) {
  const calls: DynamoCall[] = [];
  let cacheErrors = 0;
  const shop = await openShop(settings(overrides), {
    debug: () => {},
    warn: () => {},
    dynamoCall: (call) => calls.push(call),
    cacheError: () => cacheErrors++,
    ...extra,
  });
  opened.push(shop);
  return { shop, calls, cacheErrors: () => cacheErrors };
}

const opened: Shop[] = [];
afterEach(async () => {
  for (const shop of opened.splice(0)) await shop.close();
});

describe('ShopEvents.dynamoCall', () => {
  it('sees a GetItem with its table and the read capacity DynamoDB Local reports (0.5 eventual, 1 strong)', async () => {
    const { shop, calls } = await recordingShop();
    await shop.orders.create({ orderId: 'm-get', userId: 'u-m', amount: '12.50' });
    calls.length = 0;
    await shop.orders.get('m-get', { strong: false });
    expect(calls).toEqual([
      { operation: 'GetItem', table: ORDERS, outcome: 'ok', readUnits: 0.5, writeUnits: 0, capacity: [{ table: ORDERS, read: 0.5, write: 0 }], throttledAttempts: 0 },
    ]);
    calls.length = 0;
    await shop.orders.get('m-get', { strong: true });
    expect(calls).toEqual([
      { operation: 'GetItem', table: ORDERS, outcome: 'ok', readUnits: 1, writeUnits: 0, capacity: [{ table: ORDERS, read: 1, write: 0 }], throttledAttempts: 0 },
    ]);
  });

  it('sees writes with their write units, and a checkout as one TransactWriteItems over both tables, its units split per table', async () => {
    const { shop, calls } = await recordingShop();
    await shop.carts.create({ cartId: 'm-cart', userId: 'u-m' });
    const created = calls.filter((call) => call.table === CARTS && call.writeUnits > 0);
    expect(created.length).toBeGreaterThan(0);
    await shop.carts.addProduct({ cartId: 'm-cart', productId: 'p1', price: '3.00' });
    calls.length = 0;
    await shop.carts.checkout({ cartId: 'm-cart', orderId: 'm-checkout' });
    const transaction = calls.find((call) => call.operation === 'TransactWriteItems');
    expect(transaction).toBeDefined();
    expect(transaction?.table).toBe([CARTS, ORDERS].sort().join('+'));
    expect(transaction?.outcome).toBe('ok');
    expect(new Set((transaction?.capacity ?? []).map((use) => use.table))).toEqual(new Set([CARTS, ORDERS]));
    expect(transaction?.writeUnits).toBeGreaterThan(0);
    expect(transaction?.writeUnits).toBe((transaction?.capacity ?? []).reduce((sum, use) => sum + use.write, 0));
  });

  it('reports a failed call as an error, with no units', async () => {
    const { shop, calls } = await recordingShop({ tablePrefix: uniquePrefix('metrics-missing') });
    await expect(shop.orders.get('anything', { strong: false })).rejects.toMatchObject({ code: 'TABLE_NOT_FOUND' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ operation: 'GetItem', outcome: 'error', readUnits: 0, writeUnits: 0 });
    expect(calls[0]?.table).toMatch(/EcommerceOrders$/);
  });

  it('a listener that throws fails nothing', async () => {
    let told = 0;
    const { shop } = await recordingShop({}, {
      dynamoCall: () => {
        told++;
        throw new Error('listener broke');
      },
    });
    await shop.orders.create({ orderId: 'm-throwing', userId: 'u-m', amount: '1.00' });
    await expect(shop.orders.get('m-throwing', { strong: true })).resolves.toMatchObject({ orderId: 'm-throwing' });
    expect(told).toBeGreaterThanOrEqual(2);
  });
});

describe('throttling, through a proxy that answers ProvisionedThroughputExceededException', () => {
  let proxy: FaultProxy;
  let decide: (request: SeenRequest) => Fault = () => 'forward';
  beforeAll(async () => {
    proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => decide(request));
  });
  afterAll(() => proxy?.close());

  it('counts a throttled attempt the SDK retried successfully, on an ok call', async () => {
    const { shop, calls } = await recordingShop({ endpoint: proxy.endpoint, location: proxy.endpoint });
    await shop.orders.create({ orderId: 'm-throttle-once', userId: 'u-m', amount: '1.00' });
    const first = proxy.seen.length;
    decide = (request) => (request.operation === 'GetItem' && request.index === first ? 'throttle' : 'forward');
    calls.length = 0;
    await shop.orders.get('m-throttle-once', { strong: true });
    expect(proxy.seen.slice(first).map((request) => request.operation)).toEqual(['GetItem', 'GetItem']);
    expect(calls).toEqual([
      { operation: 'GetItem', table: ORDERS, outcome: 'ok', readUnits: 1, writeUnits: 0, capacity: [{ table: ORDERS, read: 1, write: 0 }], throttledAttempts: 1 },
    ]);
  });

  it('reports a call throttled until the retries ran out as throttled, with every attempt counted', async () => {
    const { shop, calls } = await recordingShop({ endpoint: proxy.endpoint, location: proxy.endpoint });
    decide = (request) => (request.operation === 'GetItem' ? 'throttle' : 'forward');
    await expect(shop.orders.get('m-throttled', { strong: false })).rejects.toMatchObject({ code: 'THROTTLED' });
    expect(calls).toEqual([{ operation: 'GetItem', table: ORDERS, outcome: 'throttled', readUnits: 0, writeUnits: 0, capacity: [], throttledAttempts: 3 }]);
  });
});

describe('ShopEvents.cacheError', () => {
  it('is told of each failed cache operation while Redis is unreachable, and the read still answers', async () => {
    const { shop: writer } = await recordingShop();
    await writer.orders.create({ orderId: 'm-cache', userId: 'u-m', amount: '2.00' });
    const deadPort = await freePort();
    const { shop, cacheErrors } = await recordingShop({ cache: { url: `redis://127.0.0.1:${deadPort}`, ttlSeconds: 60, readThrough: true, retryAfterMs: 0, cluster: false } });
    await expect(shop.orders.read('m-cache', 'cached')).resolves.toMatchObject({ order: { orderId: 'm-cache' }, cache: 'off' });
    const afterOne = cacheErrors();
    expect(afterOne).toBeGreaterThanOrEqual(1);
    // The breaker lets the next read try again at once (retryAfterMs 0): it fails, and is counted, again.
    await shop.orders.read('m-cache', 'cached');
    expect(cacheErrors()).toBeGreaterThan(afterOne);
  });

  it('is never told anything while Redis answers (the DynamoDB calls still are)', async () => {
    const { shop, calls, cacheErrors } = await recordingShop({ cache: { url: inject('redisUrl'), ttlSeconds: 60, readThrough: true, cluster: false } });
    await shop.orders.create({ orderId: 'm-cache-ok', userId: 'u-m', amount: '2.00' });
    expect((await shop.orders.read('m-cache-ok', 'cached')).cache).toBe('hit');
    calls.length = 0;
    expect((await shop.orders.read('m-cache-ok', 'strong')).cache).toBe('bypass');
    expect(calls.map((call) => [call.operation, call.table, call.outcome])).toEqual([['GetItem', ORDERS, 'ok']]);
    expect(cacheErrors()).toBe(0);
  });
});
