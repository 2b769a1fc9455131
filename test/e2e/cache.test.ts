/**
 * The Redis read-through cache, through the built binary, against the real
 * DynamoDB Local and redis-server of test/support/services.ts. Items are
 * changed behind shopdb's back with the raw SDK client to tell a cache hit
 * from a DynamoDB read.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { testRedisClient } from '../support/redis-target.js';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys } from '../../src/store/redis-cache.js';
import { createTables, shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { putRaw, rawClient } from '../support/dynamo.js';

const prefix = uniquePrefix('cache');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
const redisUrl = inject('redisUrl');
const client = rawClient();
/** Our own view of the shared redis-server, to look at what shopdb stored. */
const redis = testRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

/** Redis trouble may add about 300 ms; 3 s keeps the check meaningful on a loaded 2-core machine. */
const FAULT_BUDGET_MS = 3000;

/** The scope the CLI computes for the shared DynamoDB Local (loopback: region us-east-1). */
let scope: string;

beforeAll(async () => {
  await createTables(prefix);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
});
afterAll(async () => {
  client.destroy();
  await redis.quit().catch(() => redis.disconnect());
});

interface OrderJson {
  orderId: string;
  userId: string | null;
  totalAmount: string | null;
  status: string | null;
  version: number | null;
}

interface CartJson {
  cartId: string;
  userId: string | null;
  products: Array<{ productId: string; quantity: number; unitPrice: string }>;
  totalAmount: string | null;
  version: number | null;
}

interface Entry {
  /** A decimal string in Redis (exact past 2^53); a number here, as these are small. */
  v: number;
  item: Record<string, unknown> | null;
}

function orderKey(id: string, table = ORDERS): string {
  return cacheKeys({ scope, table, id }).entry;
}

function cartKey(id: string): string {
  return cacheKeys({ scope, table: CARTS, id }).entry;
}

async function cachedEntry(key: string): Promise<Entry | null> {
  const raw = await redis.get(key);
  if (raw === null) return null;
  const { v, item } = JSON.parse(raw) as { v: string; item: Entry['item'] };
  return { v: Number(v), item };
}

/** A cached read (`get --cache --verbose`) against the shared test Redis. */
function cachedGet(kind: 'order' | 'cart', id: string, extra: string[] = [], options: { prefix?: string } = {}): Promise<Run> {
  return shopdb([kind, 'get', id, '--cache', '--verbose', ...extra], { prefix: options.prefix ?? prefix, env: { SHOPDB_REDIS_URL: redisUrl } });
}

async function ok(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const run = await shopdb(args, { prefix, env });
  expect(run.exitCode, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run;
}

/** What the verbose read line says: `read <table> <id>: <source>, <from>, <units> capacity units`. */
function readLine(stderr: string): { source: string; from: string; units: string } {
  const match = /^shopdb: read \S+ \S+: (cache hit|cache miss|cache bypass \(strong read\)|no cache), ([^,]+), (\S+) capacity units$/m.exec(stderr);
  if (!match) throw new Error(`no read line in stderr:\n${stderr}`);
  return { source: match[1]!, from: match[2]!, units: match[3]! };
}

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('shopdb: warning:'));
}

/** Rewrites the stored item with the raw SDK, as another program would; shopdb is not involved. */
async function changeBehindBack(table: string, key: Record<string, AttributeValue>, changes: Record<string, AttributeValue>): Promise<void> {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
  if (!Item) throw new Error(`no item ${JSON.stringify(key)} in ${table}`);
  await putRaw(client, table, { ...Item, ...changes });
}

async function storedOrder(id: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName: ORDERS, Key: { orderId: { S: id } }, ConsistentRead: true }))).Item;
}

async function timed(args: string[], env: Record<string, string | undefined> = {}): Promise<{ run: Run; ms: number }> {
  const start = performance.now();
  const run = await shopdb(args, { prefix, env });
  return { run, ms: Math.round(performance.now() - start) };
}

describe('read-through', () => {
  it('answers the second read from Redis: a change behind its back stays invisible and costs 0 capacity units', async () => {
    await ok(['order', 'create', 'o-hit', '--user', 'u1', '--amount', '12.50']);

    const miss = await cachedGet('order', 'o-hit');
    expect(miss.exitCode).toBe(0);
    expect(miss.json<OrderJson>()).toMatchObject({ orderId: 'o-hit', status: 'PENDING', version: 1 });
    const missLine = readLine(miss.stderr);
    expect(missLine).toMatchObject({ source: 'cache miss', from: 'DynamoDB eventual read' });
    expect(Number(missLine.units)).toBeGreaterThan(0);
    expect(await cachedEntry(orderKey('o-hit'))).toMatchObject({ v: 1, item: { status: 'PENDING' } });

    // Same version: only a read that skips the cache can see this.
    await changeBehindBack(ORDERS, { orderId: { S: 'o-hit' } }, { status: { S: 'SHIPPED' } });
    expect((await ok(['order', 'get', 'o-hit'])).json<OrderJson>().status).toBe('SHIPPED');

    const hit = await cachedGet('order', 'o-hit');
    expect(hit.exitCode).toBe(0);
    expect(hit.json<OrderJson>()).toEqual(miss.json<OrderJson>());
    expect(readLine(hit.stderr)).toEqual({ source: 'cache hit', from: "answered from Redis (stored by a reader's fill after a miss)", units: '0' });
    expect(hit.stderr).toContain('0 capacity units');
    expect(hit.stderr).not.toContain('DynamoDB eventual read');
  });

  it('caches a not-found for at most 5 s as version 0', async () => {
    const missing = await cachedGet('order', 'o-never');
    expect(missing.exitCode).toBe(3);
    expect(readLine(missing.stderr).source).toBe('cache miss');
    expect(await cachedEntry(orderKey('o-never'))).toEqual({ v: 0, item: null });
    const ttl = await redis.ttl(orderKey('o-never'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5);

    const again = await cachedGet('order', 'o-never');
    expect(again.exitCode).toBe(3);
    expect(readLine(again.stderr).source).toBe('cache hit');
  });
});

describe('writes refresh the cache when a Redis URL is configured', () => {
  it('order create replaces a cached not-found (SHOPDB_REDIS_URL, no --cache)', async () => {
    const before = await cachedGet('order', 'o-late');
    expect(before.exitCode).toBe(3);
    expect(await cachedEntry(orderKey('o-late'))).toEqual({ v: 0, item: null });

    const created = await ok(['order', 'create', 'o-late', '--user', 'u1', '--amount', '3'], { SHOPDB_REDIS_URL: redisUrl });
    expect(created.stderr).toBe('');
    expect(await cachedEntry(orderKey('o-late'))).toMatchObject({ v: 1, item: { orderId: 'o-late', status: 'PENDING' } });

    const after = await cachedGet('order', 'o-late');
    expect(after.exitCode).toBe(0);
    expect(after.json<OrderJson>()).toEqual(created.json<{ order: OrderJson }>().order);
    expect(readLine(after.stderr).source).toBe('cache hit');
  });

  it('order set-status puts the new version (--cache --redis-url)', async () => {
    await ok(['order', 'create', 'o-move', '--user', 'u1', '--amount', '4']);
    expect((await cachedGet('order', 'o-move')).json<OrderJson>()).toMatchObject({ status: 'PENDING', version: 1 });

    const moved = await ok(['order', 'set-status', 'o-move', 'PAID', '--cache', '--redis-url', redisUrl]);
    expect(moved.json<{ order: OrderJson }>().order).toMatchObject({ status: 'PAID', version: 2 });
    expect(moved.stderr).toBe('');

    const after = await cachedGet('order', 'o-move');
    expect(after.json<OrderJson>()).toEqual(moved.json<{ order: OrderJson }>().order);
    expect(readLine(after.stderr).source).toBe('cache hit');
    expect(await cachedEntry(orderKey('o-move'))).toMatchObject({ v: 2, item: { status: 'PAID' } });
  });

  it('cart create replaces a cached not-found (REDIS_URL)', async () => {
    const before = await cachedGet('cart', 'c-late');
    expect(before.exitCode).toBe(3);
    expect(await cachedEntry(cartKey('c-late'))).toEqual({ v: 0, item: null });

    const created = await ok(['cart', 'create', 'c-late', '--user', 'u7'], { REDIS_URL: redisUrl });
    expect(created.stderr).toBe('');

    const after = await cachedGet('cart', 'c-late');
    expect(after.exitCode).toBe(0);
    expect(after.json<CartJson>()).toEqual(created.json<{ cart: CartJson }>().cart);
    expect(after.json<CartJson>()).toMatchObject({ cartId: 'c-late', userId: 'u7', products: [], version: 1 });
    expect(readLine(after.stderr).source).toBe('cache hit');
  });

  it('cart add-product puts the new version, for a new line and for a raised one (--redis-url)', async () => {
    await ok(['cart', 'create', 'c-add', '--user', 'u1']);
    expect((await cachedGet('cart', 'c-add')).json<CartJson>()).toMatchObject({ products: [], version: 1 });

    for (const [quantity, version, total] of [
      ['2', 2, '39.98'],
      ['1', 3, '59.97'],
    ] as const) {
      const added = await ok(['cart', 'add-product', 'c-add', 'mug', '--price', '19.99', '--quantity', quantity, '--redis-url', redisUrl]);
      expect(added.stderr).toBe('');
      const after = await cachedGet('cart', 'c-add');
      expect(readLine(after.stderr).source).toBe('cache hit');
      expect(after.json<CartJson>()).toEqual(added.json<{ cart: CartJson }>().cart);
      expect(after.json<CartJson>()).toMatchObject({ version, totalAmount: total, products: [{ productId: 'mug', unitPrice: '19.99' }] });
    }
  });

  it('a write with no cache configured leaves the cached copy stale (documented limit)', async () => {
    await ok(['order', 'create', 'o-stale', '--user', 'u1', '--amount', '5']);
    await cachedGet('order', 'o-stale');

    const moved = await ok(['order', 'set-status', 'o-stale', 'PAID']);
    expect(moved.json<{ order: OrderJson }>().order).toMatchObject({ status: 'PAID', version: 2 });
    expect(moved.stderr).toBe('');

    const stale = await cachedGet('order', 'o-stale');
    expect(readLine(stale.stderr).source).toBe('cache hit');
    expect(stale.json<OrderJson>()).toMatchObject({ status: 'PENDING', version: 1 });
    expect((await ok(['order', 'get', 'o-stale', '--strong'])).json<OrderJson>()).toMatchObject({ status: 'PAID', version: 2 });
  });
});

describe('--strong --cache', () => {
  it('reads DynamoDB, then refreshes the cache with the newer version', async () => {
    await ok(['order', 'create', 'o-strong', '--user', 'u1', '--amount', '6']);
    await cachedGet('order', 'o-strong');
    // As a writer that bumps the version but does not refresh the cache would.
    await changeBehindBack(ORDERS, { orderId: { S: 'o-strong' } }, { status: { S: 'PAID' }, version: { N: '2' } });
    expect((await cachedGet('order', 'o-strong')).json<OrderJson>().status).toBe('PENDING');

    const strong = await cachedGet('order', 'o-strong', ['--strong']);
    expect(strong.exitCode).toBe(0);
    expect(strong.json<OrderJson>()).toMatchObject({ status: 'PAID', version: 2 });
    const line = readLine(strong.stderr);
    expect(line).toMatchObject({ source: 'cache bypass (strong read)', from: 'DynamoDB strong read' });
    expect(Number(line.units)).toBeGreaterThan(0);

    const after = await cachedGet('order', 'o-strong');
    expect(readLine(after.stderr).source).toBe('cache hit');
    expect(after.json<OrderJson>()).toMatchObject({ status: 'PAID', version: 2 });
  });

  it('does not replace a cached entry of the same version (the version is all the cache compares)', async () => {
    await ok(['order', 'create', 'o-samever', '--user', 'u1', '--amount', '6']);
    await cachedGet('order', 'o-samever');
    await changeBehindBack(ORDERS, { orderId: { S: 'o-samever' } }, { status: { S: 'PAID' } });

    const strong = await cachedGet('order', 'o-samever', ['--strong']);
    expect(strong.json<OrderJson>()).toMatchObject({ status: 'PAID', version: 1 });
    expect(readLine(strong.stderr).source).toBe('cache bypass (strong read)');

    const after = await cachedGet('order', 'o-samever');
    expect(readLine(after.stderr).source).toBe('cache hit');
    expect(after.json<OrderJson>()).toMatchObject({ status: 'PENDING', version: 1 });
  });
});

describe('time to live', () => {
  it('--cache-ttl 1: the entry expires and the next read goes to DynamoDB', async () => {
    await ok(['order', 'create', 'o-ttl', '--user', 'u1', '--amount', '7']);
    const fill = await cachedGet('order', 'o-ttl', ['--cache-ttl', '1']);
    expect(readLine(fill.stderr).source).toBe('cache miss');
    const pttl = await redis.pttl(orderKey('o-ttl'));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);

    await changeBehindBack(ORDERS, { orderId: { S: 'o-ttl' } }, { status: { S: 'CANCELLED' } });
    await sleep(2200);
    expect(await redis.exists(orderKey('o-ttl'))).toBe(0);

    const after = await cachedGet('order', 'o-ttl', ['--cache-ttl', '1']);
    expect(readLine(after.stderr).source).toBe('cache miss');
    expect(after.json<OrderJson>()).toMatchObject({ status: 'CANCELLED' });
  });

  it('fills with the default lifetime of 300 s', async () => {
    await ok(['order', 'create', 'o-ttl300', '--user', 'u1', '--amount', '7']);
    await cachedGet('order', 'o-ttl300');
    const ttl = await redis.ttl(orderKey('o-ttl300'));
    expect(ttl).toBeLessThanOrEqual(300);
    expect(ttl).toBeGreaterThan(290);
  });
});

describe('keys', () => {
  it('keep the same id under two table prefixes apart', async () => {
    const other = uniquePrefix('cache-iso');
    await createTables(other);
    await ok(['order', 'create', 'o-shared', '--user', 'u-first', '--amount', '10']);
    const second = await shopdb(['order', 'create', 'o-shared', '--user', 'u-second', '--amount', '20'], { prefix: other });
    expect(second.exitCode).toBe(0);

    for (const round of ['cache miss', 'cache hit']) {
      const first = await cachedGet('order', 'o-shared');
      const otherRead = await cachedGet('order', 'o-shared', [], { prefix: other });
      expect(readLine(first.stderr).source).toBe(round);
      expect(readLine(otherRead.stderr).source).toBe(round);
      expect(first.json<OrderJson>()).toMatchObject({ userId: 'u-first', totalAmount: '10.00' });
      expect(otherRead.json<OrderJson>()).toMatchObject({ userId: 'u-second', totalAmount: '20.00' });
    }
    expect(await cachedEntry(orderKey('o-shared'))).toMatchObject({ item: { userId: 'u-first' } });
    expect(await cachedEntry(orderKey('o-shared', `${other}EcommerceOrders`))).toMatchObject({ item: { userId: 'u-second' } });
  });
});

describe('Redis trouble never breaks a command', () => {
  /** Reads `id` through the cache at `url` and checks: exit 0, DynamoDB's data, exactly one warning line, quick. */
  async function readThroughTrouble(label: string, id: string, url: string): Promise<{ run: Run; ms: number }> {
    const truth = (await ok(['order', 'get', id, '--strong'])).json<OrderJson>();
    const baseline = await timed(['order', 'get', id]);
    const result = await timed(['order', 'get', id, '--cache', '--redis-url', url]);
    console.log(`redis fault "${label}": ${result.ms} ms (same read without cache: ${baseline.ms} ms)`);
    expect(result.run.exitCode, result.run.stderr).toBe(0);
    expect(result.run.json<OrderJson>()).toEqual(truth);
    expect(result.run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(warnings(result.run.stderr)).toHaveLength(1);
    expect(result.run.stderr).toContain('using DynamoDB directly');
    expect(result.ms).toBeLessThan(FAULT_BUDGET_MS);
    return result;
  }

  it('Redis down: nobody listens on the port', async () => {
    await ok(['order', 'create', 'o-down', '--user', 'u1', '--amount', '1']);
    const { run } = await readThroughTrouble('down', 'o-down', `redis://127.0.0.1:${await freePort()}`);
    expect(run.stderr).toContain('connection refused');
  });

  it('a black hole: the server accepts and never answers', async () => {
    await ok(['order', 'create', 'o-hole', '--user', 'u1', '--amount', '1']);
    const sockets = new Set<Socket>();
    let accepted = 0;
    const server: Server = createServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const { run } = await readThroughTrouble('black hole', 'o-hole', `redis://127.0.0.1:${port}`);
      expect(run.stderr).toMatch(/timed? ?out|ETIMEDOUT/i);
      // shopdb did get through to the black hole: the time went into waiting for an answer.
      expect(accepted).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a wrong password', async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const locked = await startRedis({ port: await freePort(), password });
    try {
      await ok(['order', 'create', 'o-wrongpw', '--user', 'u1', '--amount', '1']);
      const { run } = await readThroughTrouble('wrong password', 'o-wrongpw', `redis://:nope-${password}@127.0.0.1:${locked.port}`);
      expect(run.stderr).toContain('authentication failed');
      // With the right password the same server works: the trouble was the password.
      const good = await shopdb(['order', 'get', 'o-wrongpw', '--cache', '--redis-url', locked.url], { prefix });
      expect(good.exitCode).toBe(0);
      expect(good.stderr).toBe('');
    } finally {
      await locked.stop();
    }
  });

  it('a garbage value in the key: read from DynamoDB, and the key is replaced by a valid entry', async () => {
    await ok(['order', 'create', 'o-garbage', '--user', 'u1', '--amount', '1']);
    const truth = (await ok(['order', 'get', 'o-garbage', '--strong'])).json<OrderJson>();
    await redis.set(orderKey('o-garbage'), 'not json');

    const start = performance.now();
    const run = await cachedGet('order', 'o-garbage');
    const ms = Math.round(performance.now() - start);
    console.log(`redis fault "garbage value": ${ms} ms`);
    expect(run.exitCode).toBe(0);
    expect(run.json<OrderJson>()).toEqual(truth);
    expect(readLine(run.stderr).source).toBe('cache miss');
    // Unreadable data is a miss, not Redis trouble: one warning says what was ignored.
    expect(warnings(run.stderr)).toEqual([`shopdb: warning: cache entry for ${ORDERS} o-garbage is not a shopdb item; ignored`]);
    expect(ms).toBeLessThan(FAULT_BUDGET_MS);
    expect(await cachedEntry(orderKey('o-garbage'))).toEqual({ v: 1, item: truth });
    expect(await redis.ttl(orderKey('o-garbage'))).toBeGreaterThan(290);
    expect(readLine((await cachedGet('order', 'o-garbage')).stderr).source).toBe('cache hit');
  });

  // redis-cache.ts promises that a value that does not decode counts as absent and is replaced;
  // these decode as nothing in TypeScript but look like a newer entry to the Lua script.
  for (const garbage of ['{"v":7,"item":{"orderId":"x"}}', '{"v":"9"}', '{"v":"9","item":"text"}', '{"v":"9x","item":{}}', '{"v":"9","item":[]}']) {
    it(`replaces a value that does not decode even when it carries a high version: ${garbage}`, async () => {
      const id = `o-garbage-${randomBytes(3).toString('hex')}`;
      await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
      await redis.set(orderKey(id), garbage);
      const run = await cachedGet('order', id);
      expect(run.exitCode).toBe(0);
      expect(run.json<OrderJson>()).toMatchObject({ orderId: id, version: 1 });
      expect(await cachedEntry(orderKey(id))).toMatchObject({ v: 1, item: { orderId: id } });
    });
  }

  it('Redis killed between commands', async () => {
    let extra: RunningRedis | undefined = await startRedis({ port: await freePort() });
    try {
      await ok(['order', 'create', 'o-killed', '--user', 'u1', '--amount', '1']);
      const env = { SHOPDB_REDIS_URL: extra.url };
      expect(readLine((await shopdb(['order', 'get', 'o-killed', '--cache', '--verbose'], { prefix, env })).stderr).source).toBe('cache miss');
      expect(readLine((await shopdb(['order', 'get', 'o-killed', '--cache', '--verbose'], { prefix, env })).stderr).source).toBe('cache hit');

      await changeBehindBack(ORDERS, { orderId: { S: 'o-killed' } }, { status: { S: 'PAID' }, version: { N: '2' } });
      extra.kill();
      await waitUntilRefused(extra.port);
      const url = extra.url;
      extra = undefined;
      const { run } = await readThroughTrouble('killed', 'o-killed', url);
      expect(run.json<OrderJson>()).toMatchObject({ status: 'PAID', version: 2 });
      expect(run.stderr).toContain('connection refused');
    } finally {
      await extra?.stop();
    }
  });

  it('a write with Redis down: exit 0, the write is in DynamoDB, and a warning about stale cached readers', async () => {
    await ok(['order', 'create', 'o-wdown', '--user', 'u1', '--amount', '1']);
    const { run, ms } = await timed(['order', 'set-status', 'o-wdown', 'PAID', '--redis-url', `redis://127.0.0.1:${await freePort()}`]);
    console.log(`redis fault "write, down": ${ms} ms`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ result: 'updated', order: { status: 'PAID', version: 2 } });
    const stored = await storedOrder('o-wdown');
    expect(stored?.status).toEqual({ S: 'PAID' });
    expect(stored?.version).toEqual({ N: '2' });
    expect(warnings(run.stderr).some((line) => line.includes('cached readers may see the old value'))).toBe(true);
    expect(ms).toBeLessThan(FAULT_BUDGET_MS);
  });

  it('a write with Redis down prints exactly one warning line', async () => {
    await ok(['order', 'create', 'o-wdown1', '--user', 'u1', '--amount', '1']);
    const run = await shopdb(['order', 'set-status', 'o-wdown1', 'PAID', '--redis-url', `redis://127.0.0.1:${await freePort()}`], { prefix });
    expect(run.exitCode).toBe(0);
    expect(warnings(run.stderr), run.stderr).toHaveLength(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('the Redis password', () => {
  it('never appears in stdout or stderr, even with --verbose, right or wrong', async () => {
    const password = `Secret${randomBytes(8).toString('hex')}`;
    const wrong = `Wrong${randomBytes(8).toString('hex')}`;
    const locked = await startRedis({ port: await freePort(), password });
    const wrongUrl = `redis://:${wrong}@127.0.0.1:${locked.port}`;
    try {
      await ok(['order', 'create', 'o-pw', '--user', 'u1', '--amount', '1']);
      const runs: Array<{ what: string; run: Run; exitCode: number }> = [];
      const run = async (what: string, exitCode: number, args: string[], env: Record<string, string> = {}) => {
        runs.push({ what, exitCode, run: await shopdb([...args, '--verbose'], { prefix, env }) });
      };
      await run('fill, right password', 0, ['order', 'get', 'o-pw', '--cache', '--redis-url', locked.url]);
      await run('hit, right password from env', 0, ['order', 'get', 'o-pw', '--cache'], { SHOPDB_REDIS_URL: locked.url });
      await run('write, right password', 0, ['order', 'set-status', 'o-pw', 'PAID'], { REDIS_URL: locked.url });
      await run('not found, right password', 3, ['order', 'get', 'o-pw-missing', '--cache', '--redis-url', locked.url]);
      await run('read, wrong password', 0, ['order', 'get', 'o-pw', '--cache', '--redis-url', wrongUrl]);
      await run('write, wrong password', 0, ['order', 'set-status', 'o-pw', 'SHIPPED', '--redis-url', wrongUrl]);
      await run('not found, wrong password', 3, ['order', 'get', 'o-pw-missing', '--cache'], { SHOPDB_REDIS_URL: wrongUrl });
      await run('not a redis URL', 2, ['order', 'get', 'o-pw', '--cache', '--redis-url', `http://:${password}@127.0.0.1:${locked.port}`]);

      for (const { what, run: result, exitCode } of runs) {
        expect(result.exitCode, `${what}: ${result.stderr}`).toBe(exitCode);
        for (const secret of [password, wrong]) {
          expect(result.stdout, what).not.toContain(secret);
          expect(result.stderr, what).not.toContain(secret);
        }
      }
      // The runs did reach the protected server, and say where it is without the password.
      const [fill, hit] = runs;
      expect(fill?.run.stderr).toContain(`Redis at redis://127.0.0.1:${locked.port}`);
      expect(readLine(hit?.run.stderr ?? '').source).toBe('cache hit');
      expect(runs.find((entry) => entry.what === 'read, wrong password')?.run.stderr).toContain('authentication failed');
    } finally {
      await locked.stop();
    }
  });
});

/** SIGKILL is asynchronous: wait until the port refuses connections. */
async function waitUntilRefused(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return;
    await sleep(20);
  }
  throw new Error(`port ${port} still accepts connections`);
}
