/**
 * The follower's shard handling, which DynamoDB Local cannot show (it keeps
 * one shard per stream and never splits it): a scripted stream with parent and
 * child shards, and everything else real — the lease table in DynamoDB Local,
 * the cache in redis-server, the follower's own code. The stream script only
 * decides which records exist in which shard, as DynamoDB Streams would.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isOrder } from '../../src/core/contract.js';
import {
  Follower,
  type FollowerEvents,
  type LeaseStore,
  type ShardLease,
  type StreamPage,
  type StreamReader,
  type StreamRecord,
  type StreamShard,
  type TableStream,
} from '../../src/core/follower.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { openStreamStore } from '../../src/store/stream-store.js';
import { uniquePrefix } from '../support/cli.js';
import { dynamoEndpoint } from '../support/endpoint.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const redisUrl = inject('redisUrl');
const inspector = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
const caches: RedisCache[] = [];
const closers: Array<() => void> = [];

afterAll(async () => {
  for (const cache of caches) await cache.close();
  for (const close of closers) close();
  await inspector.quit().catch(() => inspector.disconnect());
});

interface ScriptedShard {
  parentId: string | undefined;
  records: StreamRecord[];
  closed: boolean;
  /** Each read of this shard waits this long first (a slow parent). */
  delayMs: number;
}

/** A stream whose shards and records the test decides; iterators are `<shard>#<index>`. */
class ScriptedStream implements StreamReader {
  readonly shardsById = new Map<string, ScriptedShard>();
  reads = new Map<string, number>();

  constructor(readonly table: string) {}

  shard(id: string, options: Partial<ScriptedShard> = {}): ScriptedShard {
    const shard = { parentId: undefined, records: [], closed: false, delayMs: 0, ...options };
    this.shardsById.set(id, shard);
    return shard;
  }

  async stream(table: string): Promise<TableStream> {
    return { table, arn: `arn:test:${table}`, viewType: 'NEW_AND_OLD_IMAGES' };
  }

  async shards(): Promise<StreamShard[]> {
    return [...this.shardsById].map(([id, shard]) => ({ id, parentId: shard.parentId }));
  }

  async iterator(_stream: TableStream, shard: string, after: string | undefined): Promise<string> {
    const records = this.shardsById.get(shard)?.records ?? [];
    const index = after === undefined ? 0 : records.findIndex((record) => record.sequence === after) + 1;
    return `${shard}#${index}`;
  }

  async read(_stream: TableStream, iterator: string, limit: number): Promise<StreamPage> {
    const [id, at] = iterator.split('#') as [string, string];
    const shard = this.shardsById.get(id);
    if (!shard) throw new Error(`no shard ${id}`);
    if (shard.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, shard.delayMs));
    this.reads.set(id, (this.reads.get(id) ?? 0) + 1);
    const start = Number(at);
    const records = shard.records.slice(start, start + limit);
    const end = start + records.length;
    return { records, next: shard.closed && end >= shard.records.length ? undefined : `${id}#${end}` };
  }
}

let sequence = 100;

function order(id: string, status: string, version: number | null = 1) {
  return { orderId: id, userId: 'u-1', totalAmount: '10.00', status, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', version, cartId: null, products: null };
}

function change(id: string, status: string, options: { version?: number | null; writtenAtMs?: number; remove?: boolean } = {}): StreamRecord {
  sequence += 1;
  return {
    event: options.remove ? 'REMOVE' : 'MODIFY',
    sequence: String(sequence).padStart(21, '0'),
    writtenAtMs: options.writtenAtMs ?? Date.now(),
    id,
    image: options.remove ? undefined : order(id, status, options.version === undefined ? 1 : options.version),
  };
}

function setUp(name: string) {
  const prefix = uniquePrefix(name);
  const table = `${prefix}EcommerceOrders`;
  const stream = new ScriptedStream(table);
  const store = openStreamStore(
    { endpoint: dynamoEndpoint(), region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: 'test' },
    { tables: { [table]: { key: 'orderId', kind: 'order' } }, leases: `${prefix}EcommerceCacheFollowerLeases` },
  );
  closers.push(store.close);
  const scope = `test-${prefix}`;
  const lines: string[] = [];
  const events: FollowerEvents = { info: (line) => lines.push(line), warn: (line) => lines.push(`warning: ${line}`) };
  const follower = (worker: string, leases: LeaseStore = store.leases, leaseMs = 1500) => {
    const cache = new RedisCache(redisUrl);
    caches.push(cache);
    return new Follower(
      { cache, scope, ttlSeconds: 300, cacheLeaseSeconds: 30, tables: [{ name: table, idField: 'orderId', isItem: isOrder }], worker, leaseMs, pollMs: 50, discoverMs: 200 },
      stream,
      leases,
      events,
    );
  };
  const cached = async (id: string) => {
    const raw = await inspector.get(cacheKeys({ scope, table, id }).entry);
    return raw === null ? null : (JSON.parse(raw) as { v: string; item: { status: string } | null; by?: string });
  };
  return { table, stream, store, follower, cached, lines };
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  await inspector.connect();
});

describe('resharding: a parent shard is read to its end before its children', () => {
  it('the child holds the later change of an item; with a slow parent the cache still ends at the child\'s', async () => {
    const { stream, follower, cached, store } = setUp('fol-parent');
    const parent = stream.shard('shard-parent', { closed: true, delayMs: 300 });
    parent.records.push(change('o-split', 'PAID'), change('o-split', 'PACKED'));
    const child = stream.shard('shard-child-1', { parentId: 'shard-parent' });
    stream.shard('shard-child-2', { parentId: 'shard-parent' });
    child.records.push(change('o-split', 'SHIPPED'));

    const one = follower('worker-a');
    await one.start();
    await until(async () => (await cached('o-split'))?.item?.status === 'SHIPPED', 'the child\'s change');
    // The child was not read before the parent ended.
    const leases = await store.leases.list();
    expect(leases.find((lease) => lease.shard === 'shard-parent')?.checkpoint).toBe('SHARD_END');
    expect(await cached('o-split')).toMatchObject({ by: 'stream', item: { status: 'SHIPPED' } });
    await one.stop();
    expect((await store.leases.list()).every((lease) => lease.owner === undefined)).toBe(true);
  });

  it('a child whose parent has no lease (trimmed away before the follower started) is read at once', async () => {
    const { stream, follower, cached } = setUp('fol-orphan');
    stream.shard('shard-only-child', { parentId: 'shard-trimmed' }).records.push(change('o-orphan', 'PAID'));
    const one = follower('worker-a');
    await one.start();
    await until(async () => (await cached('o-orphan'))?.item?.status === 'PAID', 'the orphan child read');
    await one.stop();
  });
});

describe('leases', () => {
  it('two followers split four shards evenly, and when one stops answering the other takes its shards within the lease time', async () => {
    const { stream, follower, store, cached } = setUp('fol-split');
    for (const id of ['s-1', 's-2', 's-3', 's-4']) stream.shard(id);
    const a = follower('worker-a');
    await a.start();
    await until(() => a.stats().shards.length === 4, 'a holding all four');
    // b does its DynamoDB work through a switch: cut, it can neither renew nor checkpoint (a partition, or a frozen process).
    let cut = false;
    const severed = new Proxy(store.leases, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (cut ? Promise.reject(new Error('partitioned')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as LeaseStore;
    const b = follower('worker-b', severed);
    await b.start();
    await until(() => a.stats().shards.length === 2 && b.stats().shards.length === 2, 'two shards each');
    const owners = (await store.leases.list()).map((lease) => lease.owner).sort();
    expect(owners).toEqual(['worker-a', 'worker-a', 'worker-b', 'worker-b']);

    cut = true;
    const cutAt = Date.now();
    await until(async () => (await store.leases.list()).every((lease: ShardLease) => lease.owner === 'worker-a'), 'a taking over', 10_000);
    const tookMs = Date.now() - cutAt;
    // Lease 1.5 s: b stops within it, a takes over after seeing no renewal for that long (its rounds are 0.5 s apart).
    expect(tookMs).toBeLessThan(1500 * 3);
    // b has stopped applying: its shard workers are gone once its lease ran out.
    await until(() => b.stats().shards.length === 0, 'b letting go');
    // Changes after the takeover are applied by a.
    stream.shardsById.get('s-3')?.records.push(change('o-after', 'SHIPPED'));
    stream.shardsById.get('s-4')?.records.push(change('o-after-2', 'SHIPPED'));
    await until(async () => (await cached('o-after'))?.item?.status === 'SHIPPED' && (await cached('o-after-2'))?.item?.status === 'SHIPPED', 'changes after the takeover');
    await a.stop();
    cut = false;
    await b.stop();
  });

  it('a restarted follower resumes after its checkpoint: a replay of applied records changes nothing', async () => {
    const { stream, follower, store, cached } = setUp('fol-replay');
    const shard = stream.shard('s-replay');
    shard.records.push(change('o-r', 'PAID'), change('o-r', 'SHIPPED'));
    const first = follower('worker-a');
    await first.start();
    await until(async () => (await cached('o-r'))?.item?.status === 'SHIPPED', 'the first run');
    await first.stop();
    // A crash before the checkpoint was written: the next follower replays both records.
    const [lease] = await store.leases.list();
    expect(lease?.checkpoint).toBe(shard.records[1]?.sequence);
    await store.leases.take(lease!, 'rewinder');
    await store.leases.checkpoint({ ...lease! }, 'rewinder', 'TRIM_HORIZON');
    await store.leases.release(lease!, 'rewinder');
    const seen: string[] = [];
    const watcher = setInterval(() => void cached('o-r').then((entry) => seen.push(entry?.item?.status ?? 'none')), 5);
    const second = follower('worker-b');
    await second.start();
    await until(() => second.stats().records >= 2, 'the replay');
    clearInterval(watcher);
    await second.stop();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain('PAID');
    expect(await cached('o-r')).toMatchObject({ item: { status: 'SHIPPED' } });
  });
});

describe('the horizon, versions and removals', () => {
  it('skips records older than ttl + lease + 120 s, applies younger ones', async () => {
    const { stream, follower, cached } = setUp('fol-horizon');
    const shard = stream.shard('s-h');
    shard.records.push(change('o-old', 'PAID', { writtenAtMs: Date.now() - (300 + 30 + 121) * 1000 }), change('o-young', 'PAID', { writtenAtMs: Date.now() - (300 + 30 + 100) * 1000 }));
    const one = follower('worker-a');
    await one.start();
    await until(async () => (await cached('o-young')) !== null, 'the young record');
    expect(await cached('o-old')).toBeNull();
    expect(one.stats().skipped).toBe(1);
    await one.stop();
  });

  it('an image below a cached shopdb write is not stored: the entry is dropped, never replaced by the older version', async () => {
    const { stream, follower, cached, table } = setUp('fol-version');
    const cache = new RedisCache(redisUrl);
    caches.push(cache);
    const scope = (follower('probe') as unknown as { settings: { scope: string } }).settings.scope;
    await cache.put({ scope, table, id: 'o-v' }, { version: 5, item: order('o-v', 'SHIPPED', 5), by: 'write' }, 300, 30_000);
    const shard = stream.shard('s-v');
    shard.records.push(change('o-v', 'PAID', { version: 4 }));
    const one = follower('worker-a');
    await one.start();
    await until(() => one.stats().records >= 1, 'the record');
    await one.stop();
    expect(await cached('o-v')).toBeNull();
  });

  it('a REMOVE drops the entry; a legacy item (no version) is stored at version 0', async () => {
    const { stream, follower, cached } = setUp('fol-remove');
    const shard = stream.shard('s-rm');
    shard.records.push(change('o-legacy', 'PAID', { version: null }), change('o-gone', 'PAID'));
    const one = follower('worker-a');
    await one.start();
    await until(async () => (await cached('o-gone')) !== null, 'o-gone stored');
    expect(await cached('o-legacy')).toMatchObject({ v: '0', item: { status: 'PAID' }, by: 'stream' });
    shard.records.push(change('o-gone', '', { remove: true }));
    await until(async () => (await cached('o-gone')) === null, 'o-gone dropped');
    await one.stop();
  });
});
