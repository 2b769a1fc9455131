/**
 * `shopdb serve --cache` with its own redis-server, killed and restarted
 * under load: the cache is a speed-up, never a dependency. Every request
 * succeeds throughout, reads say X-Cache: off while Redis is gone, the
 * cache comes back by itself (the breaker closes again) and no read is ever
 * older than a write acknowledged before it was sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { http, startServe, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-redis');
/** After a Redis failure the cache is left alone for 10 s (core/cache.ts), then tried again. */
const BREAKER_RETRY_MS = 10_000;

let redis: RunningRedis;
let redisPort: number;
let served: Served;

beforeAll(async () => {
  redisPort = await freePort();
  [redis] = await Promise.all([startRedis({ port: redisPort }), createTables(prefix)]);
  served = await startServe({ prefix, args: ['--cache', '--redis-url', redis.url] });
});
afterAll(async () => {
  const code = await served?.stop();
  await redis?.stop();
  expect(code).toBe(0);
});

interface Read {
  sentAt: number;
  doneAt: number;
  status: number;
  cache: string | null;
  version: number;
  /** The highest version of this cart acknowledged to a writer before the read was sent. */
  acknowledged: number;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function readyRedis(): Promise<string> {
  const answer = await http<{ redis: string }>(served.url, 'GET', '/readyz');
  // Redis is reported, never fatal: the server stays ready.
  expect(answer.status).toBe(200);
  return answer.body.redis;
}

describe('Redis killed and restarted under load', () => {
  it('every request succeeds, reads are off the cache during the outage and hit it again after, never older than an acknowledged write', async () => {
    const cartId = 'c-outage';
    const orders = ['o-outage-1', 'o-outage-2', 'o-outage-3'];
    expect((await http(served.url, 'POST', '/v1/carts', { body: { cartId, userId: 'u-outage' } })).status).toBe(201);
    for (const orderId of orders) expect((await http(served.url, 'POST', '/v1/orders', { body: { orderId, userId: 'u-outage', totalAmount: '9.99' } })).status).toBe(201);

    const failures: string[] = [];
    const reads: Read[] = [];
    const orderReads: Array<{ sentAt: number; cache: string | null }> = [];
    let acknowledged = 1;
    let writes = 0;
    let running = true;

    const writer = async () => {
      while (running) {
        const answer = await http<{ cart: { version: number } }>(served.url, 'POST', `/v1/carts/${cartId}/products`, { body: { productId: 'p', price: '1.00' } }).catch((error: Error) => error);
        if (answer instanceof Error || answer.status !== 200) {
          failures.push(`add-product: ${answer instanceof Error ? answer.message : `${answer.status} ${answer.text}`}`);
          continue;
        }
        writes++;
        acknowledged = Math.max(acknowledged, answer.body.cart.version);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    };
    const cartReader = async () => {
      while (running) {
        const sentAt = Date.now();
        const floor = acknowledged;
        const answer = await http<{ version: number }>(served.url, 'GET', `/v1/carts/${cartId}`).catch((error: Error) => error);
        if (answer instanceof Error || answer.status !== 200) {
          failures.push(`cart read: ${answer instanceof Error ? answer.message : `${answer.status} ${answer.text}`}`);
          continue;
        }
        reads.push({ sentAt, doneAt: Date.now(), status: answer.status, cache: answer.headers.get('x-cache'), version: answer.body.version, acknowledged: floor });
      }
    };
    const orderReader = async () => {
      for (let i = 0; running; i++) {
        const sentAt = Date.now();
        const answer = await http(served.url, 'GET', `/v1/orders/${orders[i % orders.length]}`).catch((error: Error) => error);
        if (answer instanceof Error || answer.status !== 200) {
          failures.push(`order read: ${answer instanceof Error ? answer.message : `${answer.status} ${answer.text}`}`);
          continue;
        }
        orderReads.push({ sentAt, cache: answer.headers.get('x-cache') });
      }
    };
    const load = Promise.all([writer(), cartReader(), cartReader(), orderReader(), orderReader()]);

    try {
      // Before: the cache answers.
      await until(() => orderReads.some((read) => read.cache === 'hit') && reads.some((read) => read.cache === 'hit'), 'cache hits before the outage', 10_000);
      expect(await readyRedis()).toBe('up');

      redis.kill();
      const killedAt = Date.now();
      await until(async () => (await readyRedis()) === 'down', '/readyz to report Redis down', 5_000);
      // Keep the load on a while with Redis gone.
      await until(() => orderReads.filter((read) => read.sentAt > killedAt).length >= 50 && writes >= 10, 'requests during the outage', 10_000);
      const restartAt = Date.now();
      redis = await startRedis({ port: redisPort });
      const restartedAt = Date.now();

      // After: the breaker tries Redis again and the hits come back by themselves.
      await until(() => orderReads.some((read) => read.sentAt > restartedAt && read.cache === 'hit'), 'order reads to hit the cache again', BREAKER_RETRY_MS + 10_000);
      await until(() => reads.some((read) => read.sentAt > restartedAt && read.cache === 'hit'), 'cart reads to hit the cache again', BREAKER_RETRY_MS + 10_000);
      const resumedAt = Date.now();
      expect(await readyRedis()).toBe('up');
      running = false;
      await load;

      console.log(
        `Redis outage: ${restartAt - killedAt} ms down, hits again ${resumedAt - restartedAt} ms after the restart; ` +
          `${reads.length + orderReads.length} reads, ${writes} writes, ${failures.length} failed`,
      );
      expect(failures).toEqual([]);
      // While Redis was gone, no read claimed to use it.
      const during = [...reads, ...orderReads].filter((read) => read.sentAt > killedAt && read.sentAt < restartAt);
      expect(during.length).toBeGreaterThan(0);
      expect(new Set(during.map((read) => read.cache))).toEqual(new Set(['off']));
      // No read, hit or not, is older than the last write acknowledged before it was sent.
      expect(reads.filter((read) => read.version < read.acknowledged)).toEqual([]);
    } finally {
      running = false;
      await load;
    }
  }, 60_000);

  it('Redis frozen (SIGSTOP) while a write lands, then thawed: once the cache answers again it does not answer the older version', async () => {
    const cartId = 'c-frozen';
    expect((await http(served.url, 'POST', '/v1/carts', { body: { cartId, userId: 'u-frozen' } })).status).toBe(201);
    await http(served.url, 'GET', `/v1/carts/${cartId}`);
    const before = await http<{ version: number }>(served.url, 'GET', `/v1/carts/${cartId}`);
    expect(before.headers.get('x-cache')).toBe('hit');

    process.kill(redis.pid, 'SIGSTOP');
    let thawed = false;
    try {
      // A read pays Redis's command timeout once, then goes around the cache.
      const frozen = await http(served.url, 'GET', `/v1/carts/${cartId}`);
      expect(frozen.status).toBe(200);
      expect(frozen.headers.get('x-cache')).toBe('off');
      const write = await http<{ cart: { version: number } }>(served.url, 'POST', `/v1/carts/${cartId}/products`, { body: { productId: 'p', price: '2.50' } });
      expect(write.status, write.text).toBe(200);
      const written = write.body.cart.version;
      process.kill(redis.pid, 'SIGCONT');
      thawed = true;

      let last: { cache: string | null; version: number } | undefined;
      await until(async () => {
        const read = await http<{ version: number }>(served.url, 'GET', `/v1/carts/${cartId}`);
        expect(read.status).toBe(200);
        last = { cache: read.headers.get('x-cache'), version: read.body.version };
        return last.cache === 'hit';
      }, 'the cache to answer again', BREAKER_RETRY_MS + 10_000);
      expect(last?.version).toBe(written);
    } finally {
      if (!thawed) process.kill(redis.pid, 'SIGCONT');
    }
  }, 60_000);
});
