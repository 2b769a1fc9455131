/**
 * Coherence when the newer entry is gone. A reader misses, reads DynamoDB and
 * is held before its fill; a writer commits and refreshes the cache; then the
 * writer's entry disappears (it expired, was evicted by maxmemory, or Redis
 * was flushed) before the reader fills. The late fill must not pin the old
 * item. Real DynamoDB Local, real redis-servers; the gate only delays a call
 * after DynamoDB answered it. Then exact versions past 2^53, and the cache
 * coming back after a Redis outage in a long-lived process.
 */
import { Redis } from 'ioredis';
import { testRedisClient, testRedisCache } from '../support/redis-target.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { ReadThrough, type CacheSettings, type ReadReport, type StoredRead } from '../../src/core/cache.js';
import type { Order } from '../../src/core/model.js';
import { OrderService, type OrderStore } from '../../src/core/orders.js';
import { tableNames } from '../../src/core/tables.js';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { openDynamoStore } from '../../src/store/index.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('cache-coherence');
const names = tableNames(prefix);
const sharedRedisUrl = inject('redisUrl');

let store: ReturnType<typeof openDynamoStore>;
let scope: string;
/** A redis-server of this file's own, small and evicting: FLUSHALL and eviction must not touch other files' keys. */
let evicting: RunningRedis;
let evictingClient: Redis;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  await createTables(prefix);
  store = openDynamoStore(
    { endpoint: inject('dynamoEndpoint'), region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: 'test' },
    names,
  );
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
  evicting = await startRedis({ port: await freePort(), extraArgs: ['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru'] });
  evictingClient = testRedisClient(evicting.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await evictingClient?.quit().catch(() => evictingClient.disconnect());
  await evicting?.stop();
  store?.close();
});

function redisCache(url: string): RedisCache {
  const cache = testRedisCache(url);
  closers.push(() => cache.close());
  return cache;
}

function settings(cache: RedisCache, ttlSeconds = 300, more: Partial<CacheSettings> = {}): CacheSettings {
  return { cache, scope, ttlSeconds, readThrough: true, ...more };
}

function keys(orderId: string): { entry: string; lease: string } {
  return cacheKeys({ scope, table: names.orders, id: orderId });
}

/** The real order table, with the next `get` held after DynamoDB answered it, until released. */
function heldReader(inner: OrderStore) {
  let release!: () => void;
  let reached!: (read: StoredRead<Order>) => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  const held = new Promise<StoredRead<Order>>((resolve) => (reached = resolve));
  let armed = true;
  const orders: OrderStore = {
    tableName: inner.tableName,
    insert: (order) => inner.insert(order),
    moveStatus: (move) => inner.moveStatus(move),
    remove: (removal) => inner.remove(removal),
    async get(orderId, consistent) {
      const read = await inner.get(orderId, consistent);
      if (armed) {
        armed = false;
        reached(read);
        await opened;
      }
      return read;
    },
  };
  return { orders, held, release };
}

async function waitUntil(what: string, condition: () => Promise<boolean>, attempts = 200): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`gave up waiting until ${what}`);
}

/**
 * The scenario: v1 in DynamoDB, a reader holding v1, a writer committing v2
 * and refreshing the cache, `makeEntryVanish`, then the reader's late fill.
 */
async function lateFill(id: string, redisUrl: string, write: () => Promise<void>, makeEntryVanish: (client: Redis) => Promise<void>, client: Redis) {
  await new OrderService(store.orders).create({ orderId: id, userId: 'u1', amount: '10' });
  const slow = heldReader(store.orders);
  const reader = new OrderService(slow.orders, { cache: settings(redisCache(redisUrl)) });

  const reading = reader.get(id, { strong: false });
  expect((await slow.held).item).toMatchObject({ status: 'PENDING', version: 1 });
  await write();
  expect(JSON.parse((await client.get(keys(id).entry)) ?? 'null')).toMatchObject({ v: '2', item: { status: 'PAID' } });

  await makeEntryVanish(client);
  expect(await client.exists(keys(id).entry)).toBe(0);

  slow.release();
  expect(await reading).toMatchObject({ status: 'PENDING', version: 1 });
  // The late v1 fill was refused: nothing, or nothing older than v2, is cached.
  const after = await client.get(keys(id).entry);
  expect(after === null ? null : JSON.parse(after)).not.toMatchObject({ v: '1' });

  const reports: ReadReport[] = [];
  const fresh = new OrderService(store.orders, { cache: settings(redisCache(redisUrl)), events: { read: (report) => reports.push(report) } });
  expect(await fresh.get(id, { strong: false })).toMatchObject({ status: 'PAID', version: 2 });
  expect(await fresh.get(id, { strong: false })).toMatchObject({ status: 'PAID', version: 2 });
  expect(reports.map((report) => report.source)).toEqual(['cache miss', 'cache hit']);
}

describe('a late fill after the newer entry is gone', () => {
  it('expired: the writer used --cache-ttl 1 (through the binary)', async () => {
    const shared = testRedisClient(sharedRedisUrl, { maxRetriesPerRequest: 1 });
    closers.push(() => shared.quit());
    const id = 'gone-expired';
    await lateFill(
      id,
      sharedRedisUrl,
      async () => {
        const run = await shopdb(['order', 'set-status', id, 'PAID', '--cache-ttl', '1', '--redis-url', sharedRedisUrl], { prefix });
        expect(run.exitCode, run.stderr).toBe(0);
      },
      () => waitUntil('the writer’s entry expired', async () => (await shared.exists(keys(id).entry)) === 0),
      shared,
    );
  });

  it('evicted: maxmemory with allkeys-lru pushed out the writer’s entry and its lease', async () => {
    const id = 'gone-evicted';
    await lateFill(
      id,
      evicting.url,
      async () => {
        await new OrderService(store.orders, { cache: settings(redisCache(evicting.url)) }).setStatus({ orderId: id, status: 'PAID' });
      },
      async (client) => {
        // Fresh data until Redis evicts the item's keys, as a busy shared cache would.
        const filler = 'x'.repeat(16 * 1024);
        for (let batch = 0; (await client.exists(keys(id).entry, keys(id).lease)) > 0; batch++) {
          if (batch > 400) throw new Error('Redis never evicted the item');
          const pipeline = client.pipeline();
          for (let index = 0; index < 20; index++) pipeline.set(`filler:${batch}:${index}`, filler);
          await pipeline.exec();
        }
        expect(Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))?.[1])).toBeGreaterThan(0);
      },
      evictingClient,
    );
  });

  it('flushed: FLUSHALL after the write', async () => {
    const id = 'gone-flushed';
    await lateFill(
      id,
      evicting.url,
      async () => {
        await new OrderService(store.orders, { cache: settings(redisCache(evicting.url)) }).setStatus({ orderId: id, status: 'PAID' });
      },
      async (client) => {
        await client.flushall();
      },
      evictingClient,
    );
  });

  it('a reader that starts after the entry expired cannot fill an older version than the floor', async () => {
    const id = 'below-floor';
    const cache = redisCache(evicting.url);
    const ref = { scope, table: names.orders, id };
    const token = await cache.lease(ref, 30);
    expect(await cache.put(ref, { version: 3, item: { orderId: id } }, 300, 30)).toBe(true);
    await evictingClient.del(keys(id).entry);
    // A new reader's token, and an eventually consistent read that still returned v2.
    const later = await cache.read(ref, 30);
    expect(later.hit).toBe(false);
    const laterToken = later.hit ? '' : later.token!;
    expect(laterToken).not.toBe(token);
    expect(await cache.fill(ref, { version: 2, item: { orderId: id } }, laterToken, 300)).toBe(false);
    expect(await cache.fill(ref, { version: 3, item: { orderId: id } }, token, 300)).toBe(false);
    expect(await cache.fill(ref, { version: 3, item: { orderId: id } }, laterToken, 300)).toBe(true);
  });
});

describe('versions past 2^53', () => {
  interface Big {
    cartId: string;
    version: number | bigint | null;
    products: Array<{ productId: string; quantity: number | bigint }>;
    extra?: unknown;
  }
  const TWO_53 = 9007199254740992n;

  it('are stored, compared and read back exactly, and so are bigints inside the item', async () => {
    const cache = redisCache(evicting.url);
    const id = 'big-versions';
    const item: Big = {
      cartId: id,
      version: TWO_53 + 1n,
      products: [{ productId: 'p', quantity: 123456789012345678901234567890n }],
      extra: { $bigint: '5', $$odd: 1, nested: [{ $bigint: 'not digits' }, 7n] },
    };
    let loaded: Big = { cartId: id, version: TWO_53, products: [{ productId: 'p', quantity: 1 }] };
    const reports: ReadReport[] = [];
    // Not a cart of the contract (this is about the stored form): any object passes as an item here.
    const anyObject = (value: unknown): value is Big => typeof value === 'object' && value !== null;
    const reads = new ReadThrough<Big>('BigTable', 'cartId', anyObject, async () => ({ item: loaded, capacityUnits: 1 }), settings(cache), {
      read: (report) => reports.push(report),
      warn: (message) => {
        throw new Error(message);
      },
    });

    // 2^53 is cached; the write of 2^53 + 1 (the same double) must still replace it.
    expect(await reads.get(id, false)).toEqual(loaded);
    await reads.written(id, item);
    const hit = await reads.get(id, false);
    expect(hit).toEqual(item);
    expect(typeof hit?.version).toBe('bigint');
    expect(reports.map((report) => report.source)).toEqual(['cache miss', 'cache hit']);

    // A slow reader holding 2^53 (the same double as the floor 2^53 + 1) cannot fill.
    loaded = { cartId: id, version: TWO_53, products: [] };
    await evictingClient.del(cacheKeys({ scope, table: 'BigTable', id }).entry);
    expect(await reads.get(id, false)).toEqual(loaded);
    expect(await evictingClient.exists(cacheKeys({ scope, table: 'BigTable', id }).entry)).toBe(0);
    expect(await evictingClient.hget(cacheKeys({ scope, table: 'BigTable', id }).lease, 'floor')).toBe('9007199254740993');

    // Longer than any double: 10^30 + 1 beats 10^30.
    const ref = { scope, table: 'BigTable', id: 'huge' };
    expect(await cache.put(ref, { version: 10n ** 30n, item: { cartId: 'huge' } }, 300, 30)).toBe(true);
    expect(await cache.put(ref, { version: 10n ** 30n + 1n, item: { cartId: 'huge', n: 1 } }, 300, 30)).toBe(true);
    expect(await cache.put(ref, { version: 10n ** 30n, item: { cartId: 'huge', n: 0 } }, 300, 30)).toBe(false);
    expect(await cache.read(ref, 30)).toEqual({ hit: true, entry: { version: 10n ** 30n + 1n, item: { cartId: 'huge', n: 1 } } });
  });
});

describe('a long-lived process gets its cache back after a Redis outage', () => {
  it('skips Redis for the cool-down, warns once per outage, and reconnects once Redis is back on its port', async () => {
    const port = await freePort();
    let redis: RunningRedis | undefined = await startRedis({ port });
    closers.push(async () => redis?.stop());
    const id = 'outage';
    await new OrderService(store.orders).create({ orderId: id, userId: 'u1', amount: '1' });

    const reports: string[] = [];
    const warnings: string[] = [];
    // One service for the whole test, as a server holds one.
    const service = new OrderService(store.orders, {
      cache: settings(redisCache(redis.url), 300, { retryAfterMs: 500 }),
      events: { read: (report) => reports.push(report.source), warn: (message) => warnings.push(message) },
    });
    const read = async () => {
      reports.length = 0;
      expect(await service.get(id, { strong: false })).toMatchObject({ orderId: id, version: 1 });
      return reports[0];
    };

    expect(await read()).toBe('cache miss');
    expect(await read()).toBe('cache hit');

    await redis.stop();
    expect(await read()).toBe('cache miss');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('using DynamoDB directly');
    // Within the cool-down Redis is not asked: no second warning, still correct answers.
    expect(await read()).toBe('cache miss');
    await sleep(600);
    // Still down after the cool-down: tried again, failed again, but the same outage is not warned twice.
    expect(await read()).toBe('cache miss');
    expect(warnings).toHaveLength(1);

    redis = await startRedis({ port });
    await sleep(600);
    expect(await read()).toBe('cache miss');
    expect(await read()).toBe('cache hit');
    const client = testRedisClient(redis.url, { maxRetriesPerRequest: 1 });
    closers.push(() => client.quit());
    expect(await client.exists(keys(id).entry)).toBe(1);
    expect(warnings).toHaveLength(1);

    // A second outage is a new one: one more warning.
    await redis.stop();
    redis = undefined;
    await service.setStatus({ orderId: id, status: 'PAID' });
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('the write stands');
  });
});
