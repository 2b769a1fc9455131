/**
 * The follower against a Redis that goes away (a redis-server of this file's
 * own, killed and started again on the same port): the records read meanwhile
 * are kept and applied once Redis answers again (not skipped), with one
 * warning for the outage and one line when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { cachedGet, foreign, killAllFollowers, observed, pollUntil, startFollower } from '../support/follower.js';
import { setTimeout as sleep } from 'node:timers/promises';

const prefix = uniquePrefix('follow-redis');
const ORDERS = `${prefix}EcommerceOrders`;
let redis: RunningRedis | undefined;
let port: number;

beforeAll(async () => {
  port = await freePort();
  redis = await startRedis({ port });
  await createTables(prefix, { streams: true });
});

afterAll(async () => {
  await killAllFollowers();
  await redis?.stop();
  if (observed.length > 0) console.log(`follow-redis (ms): ${observed.map((o) => `${o.what} ${o.ms}`).join(', ')}`);
});

describe('Redis down while the follower runs', () => {
  it('a foreign write made during the outage is applied once Redis is back', async () => {
    const env = { SHOPDB_REDIS_URL: redis?.url ?? '' };
    const id = 'outage-1';
    await foreign([{ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'before' }, status: { S: 'PENDING' } } }]);
    const follower = await startFollower(prefix, { leaseSeconds: 2, verbose: true, env });
    await pollUntil(() => cachedGet(prefix, 'order', id, env), (read) => read.item?.userId === 'before' && read.source.includes('stored by the stream follower'));

    redis?.kill();
    await sleep(200);
    const from = follower.stderr().length;
    await foreign([{ op: 'update_item', table: ORDERS, key: { orderId: { S: id } }, attribute: 'userId', value: { S: 'during' } }]);
    await follower.waitFor(/warning: the cache could not be updated/, 10_000, from);
    await sleep(1_000);

    redis = await startRedis({ port });
    const back = Date.now();
    const { ms } = await pollUntil(() => cachedGet(prefix, 'order', id, env), (read) => read.item?.userId === 'during' && read.source.includes('stored by the stream follower'), 8_000, 100);
    observed.push({ what: 'Redis back → write made during the outage cached', ms: Date.now() - back });
    expect(ms).toBeLessThanOrEqual(8_000);
    await follower.waitFor(/the cache answers again/, 5_000, from);
    expect(follower.stderr().slice(from).match(/warning:/g)).toHaveLength(1);

    const stopped = await follower.stop('SIGTERM');
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout.trim())).toMatchObject({ result: 'stopped' });
  });

  it('stopped while Redis is down with a batch in hand: it exits promptly, exit 0, and the next follower applies the batch', async () => {
    const env = { SHOPDB_REDIS_URL: redis?.url ?? '' };
    const id = 'outage-2';
    const follower = await startFollower(prefix, { leaseSeconds: 2, env });
    redis?.kill();
    const from = follower.stderr().length;
    await foreign([{ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'held' }, status: { S: 'PENDING' } } }]);
    await follower.waitFor(/warning: the cache could not be updated/, 10_000, from);
    const stopped = await follower.stop('SIGTERM');
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.ms).toBeLessThan(5_000);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);

    redis = await startRedis({ port });
    // Not checkpointed: the next follower reads the record again and stores it.
    const next = await startFollower(prefix, { leaseSeconds: 2, env });
    await pollUntil(() => cachedGet(prefix, 'order', id, env), (read) => read.item?.userId === 'held' && read.source.includes('stored by the stream follower'), 5_000, 100);
    expect((await next.stop('SIGTERM')).exitCode).toBe(0);
  });
});
