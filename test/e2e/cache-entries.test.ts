/**
 * What shopdb does with what it finds in Redis, and with Redis URLs and
 * servers that are not what they say: through the built binary, against the
 * shared DynamoDB Local and redis-server. Values are planted in the documented
 * key layout as another program (or an attacker with Redis access) would.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { sharedIsCluster, testRedisClient } from '../support/redis-target.js';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys } from '../../src/store/redis-cache.js';
import { createTables, shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { putRaw, rawClient } from '../support/dynamo.js';

const prefix = uniquePrefix('cache-entries');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
const redisUrl = inject('redisUrl');
const client = rawClient();
const redis = testRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
let scope: string;

beforeAll(async () => {
  await createTables(prefix);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
});
afterAll(async () => {
  client.destroy();
  await redis.quit().catch(() => redis.disconnect());
});

function key(table: string, id: string): string {
  return cacheKeys({ scope, table, id }).entry;
}

function run(args: string[], url = redisUrl): Promise<Run> {
  return shopdb([...args, '--verbose'], { prefix, env: { SHOPDB_REDIS_URL: url } });
}

async function ok(args: string[], url = redisUrl): Promise<Run> {
  const result = await run(args, url);
  expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result;
}

function source(result: Run): string | undefined {
  return /: (cache hit|cache miss),/.exec(result.stderr)?.[1];
}

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('shopdb: warning:'));
}

function fresh(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}

async function storedOrder(id: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName: ORDERS, Key: { orderId: { S: id } }, ConsistentRead: true }))).Item;
}

describe('the Redis URL: a database that is not a number, or that the server does not have', () => {
  it('/abc is refused before anything runs: exit 2 naming the option, nothing written, no stack (it used to write, then crash)', async () => {
    const id = fresh('o-abc');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    const flag = await shopdb(['order', 'set-status', id, 'PAID', '--redis-url', `${redisUrl}/abc`], { prefix });
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr + flag.stdout).toContain('--redis-url');
    expect(flag.stderr + flag.stdout).not.toMatch(/ReplyError|at .*\.js|select NaN/);
    expect((await storedOrder(id))?.status).toEqual({ S: 'PENDING' });
    const variable = await shopdb(['order', 'get', id, '--cache'], { prefix, env: { SHOPDB_REDIS_URL: `${redisUrl}/abc` } });
    expect(variable.exitCode).toBe(2);
    expect(variable.stderr + variable.stdout).toContain('SHOPDB_REDIS_URL');
  });

  // A cluster has only database 0 (a URL naming another is refused: test/e2e/redis-cluster.test.ts).
  it.skipIf(sharedIsCluster())('/16 and /99 on a 16-database server: one warning, DynamoDB answers, database 0 is neither read nor written (it used to hit db 0)', async () => {
    const id = fresh('o-db16');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    // Database 0 holds version 1; DynamoDB moves on without it.
    await ok(['order', 'get', id, '--cache']);
    const before = await redis.get(key(ORDERS, id));
    expect(JSON.parse(before ?? 'null')).toMatchObject({ v: '1' });
    for (const db of ['16', '99']) {
      const read = await run(['order', 'get', id, '--cache'], `${redisUrl}/${db}`);
      expect(read.exitCode, read.stderr).toBe(0);
      expect(read.json()).toMatchObject({ orderId: id, version: 1 });
      expect(source(read)).toBe('cache miss');
      expect(warnings(read.stderr)).toHaveLength(1);
      expect(read.stderr).toContain('the database in the URL does not exist there');
    }
    const write = await run(['order', 'set-status', id, 'PAID'], `${redisUrl}/16`);
    expect(write.exitCode, write.stderr).toBe(0);
    expect(write.json()).toMatchObject({ order: { status: 'PAID', version: 2 } });
    expect(warnings(write.stderr)).toHaveLength(1);
    expect(await redis.get(key(ORDERS, id))).toBe(before);
  });

  it.skipIf(sharedIsCluster())('/15 is its own database: what it caches is not in database 0', async () => {
    const id = fresh('o-db15');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1'], `${redisUrl}/15`);
    expect(source(await ok(['order', 'get', id, '--cache'], `${redisUrl}/15`))).toBe('cache hit');
    expect(await redis.exists(key(ORDERS, id))).toBe(0);
    const db15 = testRedisClient(`${redisUrl}/15`, { maxRetriesPerRequest: 1 });
    try {
      expect(JSON.parse((await db15.get(key(ORDERS, id))) ?? 'null')).toMatchObject({ v: '1', item: { orderId: id } });
    } finally {
      await db15.quit();
    }
  });
});

describe('servers that are not what the URL says', () => {
  it('rediss:// to a plain Redis port says it does not speak TLS (it used to say connect ETIMEDOUT)', async () => {
    const id = fresh('o-tls');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    const read = await run(['order', 'get', id, '--cache'], redisUrl.replace(/^redis:/, 'rediss:'));
    expect(read.exitCode).toBe(0);
    expect(warnings(read.stderr)).toEqual([expect.stringContaining('does not speak TLS (it answers plain Redis; use redis://)')]);
  });

  it('redis:// to a DynamoDB (HTTP) port says it is not a Redis server (it used to pass on "Unknown RESP type ... Please report this.")', async () => {
    const id = fresh('o-http');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    const port = new URL(inject('dynamoEndpoint')).port;
    const read = await run(['order', 'get', id, '--cache'], `redis://127.0.0.1:${port}`);
    expect(read.exitCode).toBe(0);
    expect(read.json()).toMatchObject({ orderId: id });
    expect(warnings(read.stderr)).toEqual([expect.stringContaining('is not a Redis server')]);
    expect(read.stderr).not.toContain('report this');
  });
});

describe('a cached value is served only when it is exactly an item of the JSON contract', () => {
  const order = (id: string, item: Record<string, unknown>, v = '1') => JSON.stringify({ v, item: { orderId: id, ...item } });
  const good = { userId: 'u1', totalAmount: '1.00', status: 'PENDING', createdAt: '2026-01-31T12:00:00.000Z', updatedAt: '2026-01-31T12:00:00.000Z', version: 1 };
  const planted: Array<[string, (id: string) => string]> = [
    ['the tester\'s forged order', (id) => order(id, { userId: 'mallory', totalAmount: '-5', status: 'WHATEVER', version: 'x' })],
    ['an amount not in amount form', (id) => order(id, { ...good, totalAmount: '1' })],
    ['a negative amount', (id) => order(id, { ...good, totalAmount: '-1.00' })],
    ['an unknown status', (id) => order(id, { ...good, status: 'WHATEVER' })],
    ['a user id of another type', (id) => order(id, { ...good, userId: 5 })],
    ['a missing field', (id) => order(id, { userId: 'u1', totalAmount: '1.00', status: 'PENDING', version: 1 })],
    ['an unknown field', (id) => order(id, { ...good, isAdmin: true })],
    ['a version other than the entry\'s', (id) => order(id, { ...good, version: 7 })],
    ['extra that is not DynamoDB JSON', (id) => order(id, { ...good, extra: { note: { S: 5 } } })],
    ['extra hiding a readable field', (id) => order(id, { ...good, status: null, extra: { status: { S: 'PAID' } } })],
    ['another item\'s id', () => order('someone-else', good)],
    ['a not-found with a version', () => JSON.stringify({ v: '3', item: null })],
    ['plain garbage', () => 'not json'],
  ];

  for (const [label, value] of planted) {
    it(`${label}: DynamoDB answers, one warning, and the fill replaces it`, async () => {
      const id = fresh('o-planted');
      await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
      const truth = (await ok(['order', 'get', id, '--strong'])).json();
      await redis.set(key(ORDERS, id), value(id));
      const read = await ok(['order', 'get', id, '--cache']);
      expect(read.json()).toEqual(truth);
      expect(source(read)).toBe('cache miss');
      expect(warnings(read.stderr)).toEqual([`shopdb: warning: cache entry for ${ORDERS} ${id} is not a shopdb item; ignored`]);
      const again = await ok(['order', 'get', id, '--cache']);
      expect(source(again)).toBe('cache hit');
      expect(again.json()).toEqual(truth);
      expect(warnings(again.stderr)).toEqual([]);
    });
  }

  it('a key of another Redis type is dropped the same way', async () => {
    const id = fresh('o-hash');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    await redis.del(key(ORDERS, id));
    await redis.hset(key(ORDERS, id), 'v', '1');
    const read = await ok(['order', 'get', id, '--cache']);
    expect(read.json()).toMatchObject({ orderId: id, version: 1 });
    expect(warnings(read.stderr)).toHaveLength(1);
    expect(source(await ok(['order', 'get', id, '--cache']))).toBe('cache hit');
  });

  it('a 40 MB value is dropped unread: DynamoDB answers, one warning', async () => {
    const id = fresh('o-huge');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    await redis.set(key(ORDERS, id), order(id, { ...good, extra: { pad: { S: 'x'.repeat(40 * 1024 * 1024) } } }));
    const read = await ok(['order', 'get', id, '--cache']);
    expect(read.json()).toMatchObject({ orderId: id, version: 1 });
    expect(read.json()).not.toHaveProperty('extra');
    expect(warnings(read.stderr)).toHaveLength(1);
    expect(await redis.strlen(key(ORDERS, id))).toBeLessThan(10_000);
  });

  it('an item whose entry would pass the 2 MB cap is not cached, and a write drops the older entry instead of leaving it', async () => {
    const id = fresh('o-escapes');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    expect(JSON.parse((await redis.get(key(ORDERS, id))) ?? 'null')).toMatchObject({ v: '1' });
    // 360 KB in DynamoDB, six times that as JSON (every control character is written \u0001).
    await putRaw(client, ORDERS, { ...(await storedOrder(id))!, blob: { S: '\u0001'.repeat(360 * 1024) } });
    const write = await ok(['order', 'set-status', id, 'PAID']);
    expect(warnings(write.stderr)).toEqual([]);
    expect(await redis.exists(key(ORDERS, id))).toBe(0);
    for (let read = 0; read < 2; read++) {
      const result = await ok(['order', 'get', id, '--cache']);
      expect(source(result)).toBe('cache miss');
      expect(result.json()).toMatchObject({ status: 'PAID', version: 2 });
      expect(warnings(result.stderr)).toEqual([]);
    }
    expect(await redis.exists(key(ORDERS, id))).toBe(0);
  });

  const cart = (id: string, products: unknown) =>
    JSON.stringify({ v: '1', item: { cartId: id, userId: 'u1', products, totalAmount: '0.00', createdAt: null, updatedAt: null, version: 1 } });
  for (const [label, products] of [['products not a list', 'notalist'], ['products holding non-lines', [1, 2, null]], ['a line missing a field', [{ productId: 'p1', quantity: 1, unitPrice: '1.00' }]]] as const) {
    for (const output of ['json', 'table']) {
      it(`a cart with ${label}, --output ${output}: exit 0 with DynamoDB's cart (it used to print it, or crash)`, async () => {
        const id = fresh('c-planted');
        await ok(['cart', 'create', id, '--user', 'u1']);
        await redis.set(key(CARTS, id), cart(id, products));
        const read = await ok(['cart', 'get', id, '--cache', '--output', output]);
        expect(warnings(read.stderr)).toHaveLength(1);
        if (output === 'json') expect(read.json()).toMatchObject({ cartId: id, products: [], version: 1 });
        else expect(read.stdout).toContain(id);
      });
    }
  }

  it('shopdb\'s own entries still hit: null fields, extra, string amounts of a legacy item, product lines, integers past 2^53', async () => {
    const orderId = fresh('o-legacy');
    await ok(['order', 'create', orderId, '--user', 'u1', '--amount', '1']);
    const stored = (await storedOrder(orderId))!;
    await putRaw(client, ORDERS, { ...stored, totalAmount: { S: '1.00' }, note: { M: { a: { L: [{ N: '1' }, { NULL: true }, { BS: [Uint8Array.of(1)] }] } } }, version: { N: '9007199254740993' } });
    // The create cached version 1; this change was made behind shopdb's back.
    await redis.del(key(ORDERS, orderId));
    const first = await ok(['order', 'get', orderId, '--cache']);
    expect(first.json()).toMatchObject({ totalAmount: null, extra: { totalAmount: { S: '1.00' } } });
    const second = await ok(['order', 'get', orderId, '--cache']);
    expect(source(second)).toBe('cache hit');
    expect(second.stdout).toBe(first.stdout);
    expect(warnings(second.stderr)).toEqual([]);

    const cartId = fresh('c-lines');
    await ok(['cart', 'create', cartId, '--user', 'u1']);
    await ok(['cart', 'add-product', cartId, 'p1', '--name', 'Pen', '--quantity', '2', '--price', '1.50']);
    const hit = await ok(['cart', 'get', cartId, '--cache']);
    expect(source(hit)).toBe('cache hit');
    expect(hit.json()).toMatchObject({ products: [{ productId: 'p1', quantity: 2, unitPrice: '1.50' }], totalAmount: '3.00' });
    expect(warnings(hit.stderr)).toEqual([]);
  });
});

describe('garbage in the lease hash or the entry never outlives a shopdb write', () => {
  const lease = (id: string) => cacheKeys({ scope, table: ORDERS, id }).lease;

  for (const floor of ['abc', '-5', '1.5', '007', '', ' 1']) {
    it(`floor ${JSON.stringify(floor)} with v1 cached: set-status is then what get --cache answers (it used to answer PENDING, silently)`, async () => {
      const id = fresh('o-floor');
      await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
      expect(source(await ok(['order', 'get', id, '--cache']))).toBe('cache hit');
      await redis.hset(lease(id), 'floor', floor);
      const write = await ok(['order', 'set-status', id, 'PAID']);
      expect(warnings(write.stderr)).toEqual([]);
      const read = await ok(['order', 'get', id, '--cache']);
      expect(read.json()).toMatchObject({ status: 'PAID', version: 2 });
      expect(source(read)).toBe('cache hit');
      expect(await redis.hget(lease(id), 'floor')).toBe('2');
    });
  }

  it('floor "abc" with nothing cached: the first read fills, the next one hits (every read used to miss)', async () => {
    const id = fresh('o-floor-none');
    await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
    await redis.del(key(ORDERS, id));
    await redis.hset(lease(id), 'floor', 'abc');
    expect(source(await ok(['order', 'get', id, '--cache']))).toBe('cache miss');
    const again = await ok(['order', 'get', id, '--cache']);
    expect(source(again)).toBe('cache hit');
    expect(again.json()).toMatchObject({ status: 'PENDING', version: 1 });
  });

  const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
  const garbageText = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer().map(String),
    fc.integer({ max: -1 }).map(String),
    fc.double({ noNaN: true }).map(String),
    digits(20, 400).map((text) => `9${text}`),
    digits(1, 6).map((text) => `0${text}`),
    fc.constantFrom('', '1', '2', '3', '0', 'NaN', '1e3', '+2', '2 ', '２'),
  );
  /** Plants one piece of garbage in the documented keys of the item whose v1 is cached. */
  const plant = fc.oneof(
    garbageText.map((value) => ['floor', value] as const),
    garbageText.map((value) => ['token', value] as const),
    garbageText.map((value) => ['entry version', value] as const),
    garbageText.map((value) => ['entry', value] as const),
    fc.constantFrom('entry', 'lease').map((which) => ['wrong type', which] as const),
    fc.constant(['no entry', ''] as const),
  );

  it('random garbage, one or more pieces, then a write: the next get --cache answers the written status', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(plant, { minLength: 1, maxLength: 3 }), async (pieces) => {
        const id = fresh('o-garbage');
        await ok(['order', 'create', id, '--user', 'u1', '--amount', '1']);
        const cached = (await redis.get(key(ORDERS, id))) ?? '';
        for (const [what, value] of pieces) {
          if (what === 'floor' || what === 'token') {
            if ((await redis.type(lease(id))) !== 'hash') await redis.del(lease(id));
            await redis.hset(lease(id), what, value);
          } else if (what === 'entry version') await redis.set(key(ORDERS, id), cached.replace('"v":"1"', `"v":${JSON.stringify(value)}`));
          else if (what === 'entry') await redis.set(key(ORDERS, id), value);
          else if (what === 'no entry') await redis.del(key(ORDERS, id));
          else {
            const target = value === 'entry' ? key(ORDERS, id) : lease(id);
            await redis.del(target);
            await redis.rpush(target, 'x');
          }
        }
        const write = await ok(['order', 'set-status', id, 'PAID']);
        expect(warnings(write.stderr)).toEqual([]);
        for (let read = 0; read < 2; read++) expect((await ok(['order', 'get', id, '--cache'])).json()).toMatchObject({ status: 'PAID', version: 2 });
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});
