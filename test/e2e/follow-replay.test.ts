/**
 * Replays are harmless (at-least-once delivery, idempotent cache updates):
 * items written A then B, applied; the follower stopped, its checkpoints
 * turned back to the trim horizon (as a lost checkpoint or a crash before it
 * was written would), a new follower reads every record again. Meanwhile the
 * cache is watched: no item ever goes back to A once it showed B.
 */
import { DynamoDBClient, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys } from '../../src/store/redis-cache.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { dynamoEndpoint } from '../support/endpoint.js';
import { cachedGet, foreign, killAllFollowers, pollUntil, startFollower, type ForeignOp } from '../support/follower.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('follow-replay');
const ORDERS = `${prefix}EcommerceOrders`;
const LEASES = `${prefix}EcommerceCacheFollowerLeases`;
const inspector = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
let client: DynamoDBClient;
let scope: string;

beforeAll(async () => {
  client = new DynamoDBClient({ endpoint: dynamoEndpoint(), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  scope = cacheScope((await dynamoIdentity({ endpoint: dynamoEndpoint(), region: 'us-east-1' }))!);
  await createTables(prefix, { streams: true });
});

afterAll(async () => {
  await killAllFollowers();
  client?.destroy();
  await inspector.quit().catch(() => inspector.disconnect());
});

async function userIn(id: string): Promise<string | undefined> {
  const raw = await inspector.get(cacheKeys({ scope, table: ORDERS, id }).entry);
  if (raw === null) return undefined;
  return String((JSON.parse(raw) as { item: { userId?: string } | null }).item?.userId);
}

describe('a replay from an old checkpoint', () => {
  it('never brings an item back to an older state', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `replay-${i}`);
    const ops: ForeignOp[] = [];
    for (const id of ids) ops.push({ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'A' }, status: { S: 'PENDING' } } });
    // Noise between A and B, so the replay takes a while: many versions of one other order.
    for (let i = 0; i < 40; i += 1) ops.push({ op: 'update_item', table: ORDERS, key: { orderId: { S: 'noise' } }, attribute: 'userId', value: { S: `n${i}` } });
    for (const id of ids) ops.push({ op: 'update_item', table: ORDERS, key: { orderId: { S: id } }, attribute: 'userId', value: { S: 'B' } });

    const first = await startFollower(prefix, { verbose: true });
    await foreign(ops);
    for (const id of ids) await pollUntil(() => userIn(id), (user) => user === 'B');
    expect((await first.stop('SIGTERM')).exitCode).toBe(0);

    // Every checkpoint back to the trim horizon: the next follower reads all the records again.
    const leases = await client.send(new ScanCommand({ TableName: LEASES, ConsistentRead: true }));
    expect(leases.Items?.length).toBe(2);
    for (const lease of leases.Items ?? []) {
      await client.send(
        new UpdateItemCommand({
          TableName: LEASES,
          Key: { leaseKey: lease.leaseKey ?? { S: '' } },
          UpdateExpression: 'SET #c = :c',
          ExpressionAttributeNames: { '#c': 'checkpoint' },
          ExpressionAttributeValues: { ':c': { S: 'TRIM_HORIZON' } },
        }),
      );
    }

    // Watch every item while the second follower replays.
    const seen = new Map<string, string[]>(ids.map((id) => [id, []]));
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const id of ids) {
          const user = await userIn(id);
          if (user !== undefined) seen.get(id)?.push(user);
        }
      }
    })();
    const second = await startFollower(prefix, { verbose: true });
    await second.waitFor(/EcommerceOrders shard \S+: \d+ stored, \d+ dropped, [1-9]\d* already applied/, 10_000);
    // One more batch after the replay, so the watch covers all of it.
    await foreign([{ op: 'update_item', table: ORDERS, key: { orderId: { S: 'noise' } }, attribute: 'userId', value: { S: 'last' } }]);
    await pollUntil(() => userIn('noise'), (user) => user === 'last');
    watching = false;
    await watcher;
    expect((await second.stop('SIGTERM')).exitCode).toBe(0);

    // The replayed records were all recognised as applied already: nothing stored or dropped but the new one.
    const batches = [...second.stderr().matchAll(/EcommerceOrders shard \S+: (\d+) stored, (\d+) dropped, (\d+) already applied/g)];
    const total = (index: number) => batches.reduce((sum, match) => sum + Number(match[index]), 0);
    expect(total(3), second.stderr()).toBe(ops.length);
    expect(total(1) + total(2), second.stderr()).toBe(1);
    for (const id of ids) {
      expect(seen.get(id)?.length).toBeGreaterThan(0);
      expect(seen.get(id)?.every((user) => user === 'B'), `${id}: ${seen.get(id)?.join(',')}`).toBe(true);
      const read = await cachedGet(prefix, 'order', id);
      expect(read.item).toMatchObject({ userId: 'B' });
      expect(read.source).toContain('cache hit');
    }
  });
});
