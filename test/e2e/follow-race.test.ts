/**
 * Issue 12: "a held-back reader racing a foreign write never pins the old
 * item". A cached reader (in process, as in cache-race.test.ts: the real
 * store and Redis, a gate holding its DynamoDB answer before the fill) reads
 * the old item; meanwhile boto3 changes it (no version bump) and the real
 * `shopdb cache follow` process applies the stream record. Whichever lands
 * first, the fill or the follower's update, the cache ends with the new item.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import type { CachedEntry, CacheRef, CacheSettings, StoredRead, VersionedCache } from '../../src/core/cache.js';
import { PassThroughCache } from '../support/pass-through-cache.js';
import type { Order } from '../../src/core/model.js';
import { OrderService, type OrderStore } from '../../src/core/orders.js';
import { tableNames } from '../../src/core/tables.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { openDynamoStore } from '../../src/store/index.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { cachedGet, foreign, killAllFollowers, pollUntil, startFollower, type RunningFollower } from '../support/follower.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('follow-race');
const names = tableNames(prefix);
const redisUrl = inject('redisUrl');
const inspector = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

let store: ReturnType<typeof openDynamoStore>;
let redis: RedisCache;
let scope: string;
let follower: RunningFollower;

beforeAll(async () => {
  await createTables(prefix, { streams: true });
  store = openDynamoStore(
    { endpoint: inject('dynamoEndpoint'), region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: 'test' },
    names,
  );
  redis = new RedisCache(redisUrl);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
  // Lease 10 s: one follower here, and test B pauses it (SIGSTOP) for well under that.
  follower = await startFollower(prefix, { leaseSeconds: 10, verbose: true });
});

afterAll(async () => {
  await killAllFollowers();
  await redis?.close();
  store?.close();
  await inspector.quit().catch(() => inspector.disconnect());
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

/** The real order table; the next `get` is held after DynamoDB answered it, until released. */
function gated(inner: OrderStore) {
  const reached = deferred<StoredRead<Order>>();
  const opened = deferred();
  let armed = true;
  const orders: OrderStore = {
    tableName: inner.tableName,
    insert: (order) => inner.insert(order),
    remove: (removal) => inner.remove(removal),
    moveStatus: (move) => inner.moveStatus(move),
    async get(orderId, consistent) {
      const read = await inner.get(orderId, consistent);
      if (armed) {
        armed = false;
        reached.resolve(read);
        await opened.promise;
      }
      return read;
    },
  };
  return { orders, reached: reached.promise, release: () => opened.resolve() };
}

/** The real cache, noting what Redis answered to each fill. */
class FillLog extends PassThroughCache {
  readonly fills: boolean[] = [];

  override async fill(ref: CacheRef, entry: CachedEntry, token: string, ttlSeconds: number): Promise<boolean> {
    const stored = await this.inner.fill(ref, entry, token, ttlSeconds);
    this.fills.push(stored);
    return stored;
  }
}

function cached(cache: VersionedCache): CacheSettings {
  return { cache, scope, ttlSeconds: 300, readThrough: true };
}

function entryKey(id: string): string {
  return cacheKeys({ scope, table: names.orders, id }).entry;
}

async function entryIn(id: string): Promise<{ by?: string; item: Record<string, unknown> | null } | null> {
  const raw = await inspector.get(entryKey(id));
  return raw === null ? null : (JSON.parse(raw) as { by?: string; item: Record<string, unknown> | null });
}

/** An original-design order, written by boto3; once the follower has cached it, its entry is removed (as its TTL would) so the next reader misses. */
async function legacyOrderNotCached(id: string): Promise<void> {
  await foreign([{ op: 'put_item', table: names.orders, item: { orderId: { S: id }, userId: { S: 'alice' }, totalAmount: { S: '10' }, status: { S: 'PENDING' } } }]);
  await pollUntil(() => entryIn(id), (entry) => entry?.item?.status === 'PENDING');
  await inspector.del(entryKey(id));
}

/** A cached reader of the legacy order `id` (not cached), held after its DynamoDB read of the PENDING item and before its fill. */
async function heldReader(id: string) {
  await legacyOrderNotCached(id);
  const slow = gated(store.orders);
  const log = new FillLog(redis);
  const reader = new OrderService(slow.orders, { cache: cached(log) });
  const reading = reader.get(id, { strong: false });
  expect((await slow.reached).item).toMatchObject({ status: 'PENDING' });
  return { slow, log, reading };
}

const shipped = (id: string) => ({ op: 'update_item' as const, table: names.orders, key: { orderId: { S: id } }, attribute: 'status', value: { S: 'SHIPPED' } });

describe('a held-back reader against a foreign write and the follower', () => {
  it('A: the follower applies the write first; the reader’s late fill of the old item is refused', async () => {
    const id = 'race-follow-a';
    const { slow, log, reading } = await heldReader(id);
    expect(await entryIn(id)).toBeNull();

    await foreign([shipped(id)]);
    const applied = await pollUntil(() => entryIn(id), (entry) => entry?.item?.status === 'SHIPPED');
    expect(applied.value).toMatchObject({ by: 'stream' });
    expect(applied.ms).toBeLessThanOrEqual(5_000);

    slow.release();
    expect(await reading).toMatchObject({ status: 'PENDING' });
    expect(log.fills).toEqual([false]);
    expect(await entryIn(id)).toMatchObject({ by: 'stream', item: { status: 'SHIPPED' } });
    for (let i = 0; i < 2; i += 1) {
      const read = await cachedGet(prefix, 'order', id);
      expect(read.item).toMatchObject({ status: 'SHIPPED' });
      expect(read.source).toContain('stored by the stream follower');
    }
  });

  it('B: the stale fill lands first (follower paused); the follower’s record then replaces it', async () => {
    const id = 'race-follow-b';
    const { slow, log, reading } = await heldReader(id);
    follower.child.kill('SIGSTOP');
    let pausedAt = Date.now();
    try {
      await foreign([shipped(id)]);
      slow.release();
      expect(await reading).toMatchObject({ status: 'PENDING' });
      // Nothing revoked the reader's token yet: the old item is cached, for now.
      expect(log.fills).toEqual([true]);
      expect(await entryIn(id)).toMatchObject({ item: { status: 'PENDING' } });
    } finally {
      follower.child.kill('SIGCONT');
    }
    pausedAt = Date.now() - pausedAt;
    expect(pausedAt).toBeLessThan(10_000);
    const { ms } = await pollUntil(() => cachedGet(prefix, 'order', id), (read) => read.item?.status === 'SHIPPED');
    expect(ms).toBeLessThanOrEqual(5_000);
    const read = await cachedGet(prefix, 'order', id);
    expect(read.item).toMatchObject({ status: 'SHIPPED' });
    expect(read.source).toContain('stored by the stream follower');
  });

  it('C: a reader that read after the write but fills before the follower applies: both agree on the new item', async () => {
    const id = 'race-follow-c';
    await legacyOrderNotCached(id);
    follower.child.kill('SIGSTOP');
    try {
      await foreign([shipped(id)]);
      const reader = new OrderService(store.orders, { cache: cached(redis) });
      expect(await reader.get(id, { strong: false })).toMatchObject({ status: 'SHIPPED' });
      expect(await entryIn(id)).toMatchObject({ by: 'fill', item: { status: 'SHIPPED' } });
    } finally {
      follower.child.kill('SIGCONT');
    }
    // The follower then applies the same change (and, replayed, the put before it): never back to PENDING.
    const seen: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 2_000) {
      const entry = await entryIn(id);
      if (entry?.item) seen.push(String(entry.item.status));
    }
    expect(seen).not.toContain('PENDING');
    expect(await entryIn(id)).toMatchObject({ item: { status: 'SHIPPED' } });
  });
});
