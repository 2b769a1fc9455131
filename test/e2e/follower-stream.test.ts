/**
 * The follower in-process on DynamoDB Local's real streams and redis-server:
 * what the outside try found (images shopdb cannot read, a lease table
 * deleted under it, lease rows edited by hand) and a shopdb write whose
 * refresh reaches Redis after the follower applied a later foreign change.
 */
import { DeleteTableCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { leaseTableName, startFollower, type RunningFollower } from '../../src/app/follow.js';
import { cacheScope } from '../../src/app/shop.js';
import { tableNames } from '../../src/core/tables.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { rawClient, shopSettings } from '../support/dynamo.js';
import { dynamoEndpoint } from '../support/endpoint.js';

const redisUrl = inject('redisUrl');
const prefix = uniquePrefix('fol-stream');
const names = tableNames(prefix);
const client = rawClient();
const inspector = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const settings = shopSettings(prefix, { cache: { url: redisUrl, ttlSeconds: 300, readThrough: true, cluster: false } });
const lines: string[] = [];
let follower: RunningFollower | undefined;
let scope: string;

beforeAll(async () => {
  await createTables(prefix, { streams: true });
  scope = cacheScope((await dynamoIdentity({ endpoint: dynamoEndpoint(), region: 'us-east-1' }))!);
  follower = await startFollower(settings, { leaseSeconds: 2 }, { info: (line) => lines.push(line), warn: (line) => lines.push(`warning: ${line}`) });
});

afterAll(async () => {
  await follower?.stop();
  client.destroy();
  await inspector.quit();
});

async function entry(id: string): Promise<{ v: string; item: Record<string, unknown> | null; by?: string } | null> {
  const raw = await inspector.get(cacheKeys({ scope, table: names.orders, id }).entry);
  return raw === null ? null : JSON.parse(raw);
}

async function until(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}; follower log:\n${lines.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

function legacyOrder(id: string, status: string, extra: Record<string, unknown> = {}) {
  return { orderId: { S: id }, userId: { S: 'u-1' }, totalAmount: { S: '12.50' }, status: { S: status }, createdAt: { S: '2026-01-01T00:00:00Z' }, ...extra } as never;
}

describe('the follower on real streams', () => {
  it('caches a foreign put, and a foreign update without a version bump replaces it', async () => {
    await client.send(new PutItemCommand({ TableName: names.orders, Item: legacyOrder('o-foreign', 'PENDING') }));
    await until(async () => (await entry('o-foreign'))?.item?.status === 'PENDING', 'the put');
    expect(await entry('o-foreign')).toMatchObject({ v: '0', by: 'stream' });
    await client.send(
      new UpdateItemCommand({ TableName: names.orders, Key: { orderId: { S: 'o-foreign' } }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'CANCELLED' } } }),
    );
    await until(async () => (await entry('o-foreign'))?.item?.status === 'CANCELLED', 'the update');
  });

  it('an image with an attribute named __proto__ is not cached without it: the entry is dropped, with a warning', async () => {
    await client.send(new PutItemCommand({ TableName: names.orders, Item: legacyOrder('o-proto', 'PENDING') }));
    await until(async () => (await entry('o-proto')) !== null, 'the plain put');
    await client.send(new PutItemCommand({ TableName: names.orders, Item: legacyOrder('o-proto', 'PAID', { ['__proto__']: { M: { x: { S: 'y' } } } }) }));
    await until(async () => (await entry('o-proto')) === null, 'the entry dropped');
    expect(lines.some((line) => line.includes('o-proto') && line.includes('__proto__'))).toBe(true);
  });

  it('a lease row edited by hand into garbage is written anew, and the shard is read again', async () => {
    const leases = leaseTableName(prefix);
    const { Items } = await client.send(new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: leases, ConsistentRead: true }));
    const orders = Items?.find((item) => item.leaseKey?.S?.includes(`/${names.orders}/`));
    expect(orders).toBeDefined();
    await client.send(
      new UpdateItemCommand({
        TableName: leases,
        Key: { leaseKey: orders!.leaseKey! },
        UpdateExpression: 'SET #c = :c, #k = :k',
        ExpressionAttributeNames: { '#c': 'counter', '#k': 'checkpoint' },
        ExpressionAttributeValues: { ':c': { S: 'seven' }, ':k': { N: '12' } },
      }),
    );
    await until(async () => lines.some((line) => line.includes('was damaged')), 'the repair warning');
    await client.send(new PutItemCommand({ TableName: names.orders, Item: legacyOrder('o-after-repair', 'PAID') }));
    await until(async () => (await entry('o-after-repair'))?.item?.status === 'PAID', 'a change after the repair');
  });

  it('the lease table deleted under a running follower is made again, and changes keep reaching the cache', async () => {
    await client.send(new DeleteTableCommand({ TableName: leaseTableName(prefix) }));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await client.send(new PutItemCommand({ TableName: names.orders, Item: legacyOrder('o-after-delete', 'SHIPPED') }));
    await until(async () => (await entry('o-after-delete'))?.item?.status === 'SHIPPED', 'a change after the lease table was deleted', 30_000);
    expect(follower!.stats().shards.length).toBe(2);
  });
});

describe("a shopdb write's late refresh against the stream", () => {
  it('never overwrites a foreign change the follower applied at the same version', async () => {
    const cache = new RedisCache(redisUrl);
    const ref = { scope: 'late-put', table: 'T', id: 'o-late' };
    const order = (status: string) => ({ orderId: 'o-late', status, version: 2 });
    try {
      // shopdb's write (v2 PAID) committed; the follower applies it and then a foreign write (CANCELLED, still v2) …
      await cache.applyChange(ref, { shard: 's', sequence: '10', action: 'store', version: 2, entry: { version: 2, item: order('PAID') } }, 300, 600);
      await cache.applyChange(ref, { shard: 's', sequence: '11', action: 'store', version: 2, entry: { version: 2, item: order('CANCELLED') } }, 300, 600);
      // … before the writer's own refresh reaches Redis.
      expect(await cache.put(ref, { version: 2, item: order('PAID'), by: 'write' }, 300, 30_000)).toBe(false);
      expect(JSON.parse((await inspector.get(cacheKeys(ref).entry))!)).toMatchObject({ item: { status: 'CANCELLED' }, by: 'stream' });
      // A foreign delete applied before the refresh: the refresh does not bring the item back.
      await cache.applyChange(ref, { shard: 's', sequence: '12', action: 'drop', version: 2 }, 300, 600);
      expect(await cache.put(ref, { version: 2, item: order('PAID'), by: 'write' }, 300, 30_000)).toBe(false);
      expect(await inspector.get(cacheKeys(ref).entry)).toBeNull();
      // A later shopdb write (v3) is stored as usual.
      expect(await cache.put(ref, { version: 3, item: { ...order('SHIPPED'), version: 3 }, by: 'write' }, 300, 30_000)).toBe(true);
    } finally {
      await cache.close();
    }
  });
});
