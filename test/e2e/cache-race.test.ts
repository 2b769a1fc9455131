/**
 * The race a versioned cache exists for, made deterministic: a reader that
 * missed, read DynamoDB and is slow to fill, against a writer that commits
 * and refreshes the cache in between. The real store and the real Redis
 * decide everything; the gate only delays a call after DynamoDB answered it.
 */
import { testRedisClient, testRedisCache } from '../support/redis-target.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import type { CachedEntry, CacheRef, CacheSettings, ReadReport, StoredRead, VersionedCache } from '../../src/core/cache.js';
import { PassThroughCache } from '../support/pass-through-cache.js';
import type { Order } from '../../src/core/model.js';
import { OrderService, type MoveOutcome, type OrderStore } from '../../src/core/orders.js';
import { tableNames } from '../../src/core/tables.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { openDynamoStore } from '../../src/store/index.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('cache-race');
const names = tableNames(prefix);
const redisUrl = inject('redisUrl');

let store: ReturnType<typeof openDynamoStore>;
let redis: RedisCache;
/** The scope the CLI computes for the shared DynamoDB Local, so both see the same entries. */
let scope: string;
/** A separate connection to look at what the services stored. */
const inspector = testRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

beforeAll(async () => {
  await createTables(prefix);
  store = openDynamoStore(
    {
      endpoint: inject('dynamoEndpoint'),
      region: 'us-east-1',
      staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      timeoutMs: 10_000,
      location: 'test',
    },
    names,
  );
  redis = testRedisCache(redisUrl);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
});

afterAll(async () => {
  await redis?.close();
  store?.close();
  await inspector.quit().catch(() => inspector.disconnect());
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Holds one call after it has done its work, until released; `reached` says what it got. */
class Gate<T> {
  private readonly held = deferred<T>();
  private readonly opened = deferred();
  readonly reached = this.held.promise;

  async hold(value: T): Promise<void> {
    this.held.resolve(value);
    await this.opened.promise;
  }

  release(): void {
    this.opened.resolve();
  }
}

/** The real order table, with the next `get` or `moveStatus` optionally held after DynamoDB answered it. */
function gated(inner: OrderStore) {
  let nextGet: Gate<StoredRead<Order>> | undefined;
  let nextMove: Gate<MoveOutcome> | undefined;
  const orders: OrderStore = {
    tableName: inner.tableName,
    insert: (order) => inner.insert(order),
    remove: (removal) => inner.remove(removal),
    async get(orderId, consistent) {
      const read = await inner.get(orderId, consistent);
      const gate = nextGet;
      nextGet = undefined;
      await gate?.hold(read);
      return read;
    },
    async moveStatus(move) {
      const outcome = await inner.moveStatus(move);
      const gate = nextMove;
      nextMove = undefined;
      await gate?.hold(outcome);
      return outcome;
    },
  };
  return {
    orders,
    holdNextGet: () => (nextGet = new Gate()),
    holdNextMove: () => (nextMove = new Gate()),
  };
}

/** Passes everything to the real cache and notes each fill or put Redis has answered (stored or refused: Redis decides). */
class OfferLog extends PassThroughCache {
  readonly offers: Array<{ kind: 'fill' | 'put'; version: number | bigint; stored: boolean }> = [];

  override async fill(ref: CacheRef, entry: CachedEntry, token: string, ttlSeconds: number): Promise<boolean> {
    const stored = await this.inner.fill(ref, entry, token, ttlSeconds);
    this.offers.push({ kind: 'fill', version: entry.version, stored });
    return stored;
  }

  override async put(ref: CacheRef, entry: CachedEntry, ttlSeconds: number, leaseSeconds: number): Promise<boolean> {
    const stored = await this.inner.put(ref, entry, ttlSeconds, leaseSeconds);
    this.offers.push({ kind: 'put', version: entry.version, stored });
    return stored;
  }
}

function cached(cache: VersionedCache): CacheSettings {
  return { cache, scope, ttlSeconds: 300, readThrough: true };
}

function key(orderId: string): string {
  return cacheKeys({ scope, table: names.orders, id: orderId }).entry;
}

async function entryIn(orderId: string): Promise<{ v: number; item: Order | null } | null> {
  const raw = await inspector.get(key(orderId));
  if (raw === null) return null;
  // Versions are stored as decimal strings (exact past 2^53); these are small.
  const { v, item } = JSON.parse(raw) as { v: string; item: Order | null };
  return { v: Number(v), item };
}

/** What a new cached reader gets, and whether Redis answered it. */
async function freshCachedRead(orderId: string): Promise<{ order: Order; source: string | undefined }> {
  const reports: ReadReport[] = [];
  const reader = new OrderService(store.orders, { cache: cached(redis), events: { read: (report) => reports.push(report) } });
  const order = await reader.get(orderId, { strong: false });
  return { order, source: reports[0]?.source };
}

async function cliCachedRead(orderId: string): Promise<{ order: Order; stderr: string }> {
  const run = await shopdb(['order', 'get', orderId, '--cache', '--verbose'], { prefix, env: { SHOPDB_REDIS_URL: redisUrl } });
  expect(run.exitCode, run.stderr).toBe(0);
  return { order: run.json<Order>(), stderr: run.stderr };
}

describe('a slow reader against a writer', () => {
  it('A: the reader fills late with v1, but the cache keeps the writer’s v2', async () => {
    const id = 'race-a';
    await new OrderService(store.orders).create({ orderId: id, userId: 'u1', amount: '10' });

    const slow = gated(store.orders);
    const readerCache = new OfferLog(redis);
    const warnings: string[] = [];
    const reports: ReadReport[] = [];
    const reader = new OrderService(slow.orders, {
      cache: cached(readerCache),
      events: { read: (report) => reports.push(report), warn: (message) => warnings.push(message) },
    });
    const writer = new OrderService(store.orders, { cache: cached(redis), events: { warn: (message) => warnings.push(message) } });

    const gate = slow.holdNextGet();
    const reading = reader.get(id, { strong: false });
    const held = await gate.reached;
    expect(held.item).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await entryIn(id)).toBeNull();

    const { order: written } = await writer.setStatus({ orderId: id, status: 'PAID' });
    expect(written).toMatchObject({ status: 'PAID', version: 2 });
    expect(await entryIn(id)).toMatchObject({ v: 2, item: { status: 'PAID' } });

    gate.release();
    expect(await reading).toMatchObject({ status: 'PENDING', version: 1 });
    expect(reports.map((report) => report.source)).toEqual(['cache miss']);
    // The reader did offer its v1 after the writer's refresh; Redis refused it.
    expect(readerCache.offers).toEqual([{ kind: 'fill', version: 1, stored: false }]);
    expect(await entryIn(id)).toMatchObject({ v: 2, item: { status: 'PAID', version: 2 } });
    expect(warnings).toEqual([]);

    expect(await freshCachedRead(id)).toMatchObject({ source: 'cache hit', order: { status: 'PAID', version: 2 } });
    const cli = await cliCachedRead(id);
    expect(cli.order).toMatchObject({ status: 'PAID', version: 2 });
    expect(cli.stderr).toContain('cache hit');
  });

  it('B: a reader holding "not found" cannot hide an order created meanwhile', async () => {
    const id = 'race-b';
    const slow = gated(store.orders);
    const readerCache = new OfferLog(redis);
    const reader = new OrderService(slow.orders, { cache: cached(readerCache) });
    const writer = new OrderService(store.orders, { cache: cached(redis) });

    const gate = slow.holdNextGet();
    const reading = reader.get(id, { strong: false }).then(
      (order) => ({ found: true as const, order }),
      (error: unknown) => ({ found: false as const, error }),
    );
    expect((await gate.reached).item).toBeUndefined();

    const { order: created } = await writer.create({ orderId: id, userId: 'u2', amount: '5' });
    expect(created.version).toBe(1);
    expect(await entryIn(id)).toMatchObject({ v: 1, item: { orderId: id } });

    gate.release();
    const outcome = await reading;
    expect(outcome.found).toBe(false);
    expect(outcome.found ? undefined : outcome.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(readerCache.offers).toEqual([{ kind: 'fill', version: 0, stored: false }]);
    expect(await entryIn(id)).toMatchObject({ v: 1, item: { orderId: id, userId: 'u2', version: 1 } });

    expect(await freshCachedRead(id)).toMatchObject({ source: 'cache hit', order: { orderId: id, version: 1 } });
    expect((await cliCachedRead(id)).order).toMatchObject({ orderId: id, userId: 'u2', version: 1 });
  });

  it('C (control): against a writer that does not refresh the cache, the slow fill lands and is stale', async () => {
    const id = 'race-c';
    await new OrderService(store.orders).create({ orderId: id, userId: 'u1', amount: '10' });

    const slow = gated(store.orders);
    const readerCache = new OfferLog(redis);
    const reader = new OrderService(slow.orders, { cache: cached(readerCache) });
    const writer = new OrderService(store.orders);

    const gate = slow.holdNextGet();
    const reading = reader.get(id, { strong: false });
    expect((await gate.reached).item).toMatchObject({ version: 1 });

    expect((await writer.setStatus({ orderId: id, status: 'PAID' })).order).toMatchObject({ status: 'PAID', version: 2 });
    expect(await entryIn(id)).toBeNull();

    gate.release();
    expect(await reading).toMatchObject({ status: 'PENDING', version: 1 });
    expect(readerCache.offers).toEqual([{ kind: 'fill', version: 1, stored: true }]);
    // Same timing as A; only the writer's refresh (and the version check against it) differs.
    expect(await entryIn(id)).toMatchObject({ v: 1, item: { status: 'PENDING' } });
    expect((await store.orders.get(id, true)).item).toMatchObject({ status: 'PAID', version: 2 });
    expect(await freshCachedRead(id)).toMatchObject({ source: 'cache hit', order: { status: 'PENDING', version: 1 } });
  });
});

describe('two writers', () => {
  it('D: a refresh that arrives after a newer one is refused', async () => {
    const id = 'race-d';
    const writer = new OrderService(store.orders, { cache: cached(redis) });
    await writer.create({ orderId: id, userId: 'u1', amount: '10' });
    expect(await entryIn(id)).toMatchObject({ v: 1 });

    const slow = gated(store.orders);
    const slowCache = new OfferLog(redis);
    const warnings: string[] = [];
    const slowWriter = new OrderService(slow.orders, { cache: cached(slowCache), events: { warn: (message) => warnings.push(message) } });

    const gate = slow.holdNextMove();
    const moving = slowWriter.setStatus({ orderId: id, status: 'PAID' });
    const committed = await gate.reached;
    expect(committed).toMatchObject({ applied: true, order: { status: 'PAID', version: 2 } });

    expect((await writer.setStatus({ orderId: id, status: 'SHIPPED' })).order).toMatchObject({ version: 3 });
    expect(await entryIn(id)).toMatchObject({ v: 3, item: { status: 'SHIPPED' } });

    gate.release();
    expect((await moving).order).toMatchObject({ status: 'PAID', version: 2 });
    expect(slowCache.offers).toEqual([{ kind: 'put', version: 2, stored: false }]);
    expect(await entryIn(id)).toMatchObject({ v: 3, item: { status: 'SHIPPED', version: 3 } });
    // A refused offer is not a failure: no "cached copy was not refreshed" warning.
    expect(warnings).toEqual([]);
  });
});
