import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { RedisCache } from '../../src/store/redis-cache.js';

/*
 * The cache's Lua scripts run by SHA-1 (EVALSHA): a read sends a short
 * command, not the script's text, and Redis does not hash the script on every
 * call. A Redis that does not know a script (first use, restart, SCRIPT FLUSH)
 * is sent it once. Its own redis-server: SCRIPT FLUSH and the command counts
 * must not meet other files' caches.
 */
let redis: RunningRedis;
let admin: Redis;
let cache: RedisCache;

beforeAll(async () => {
  redis = await startRedis({ port: await freePort() });
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cache = new RedisCache(redis.url);
});
afterAll(async () => {
  await cache?.close();
  admin?.disconnect();
  await redis?.stop();
});

/** How many times Redis ran each command so far (INFO commandstats). */
async function calls(): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((match) => [match[1] as string, Number(match[2])]));
}

const ref = { scope: 'scripts', table: 'orders', id: 'o-1' };
const order = { orderId: 'o-1', userId: 'u-1', totalAmount: '1.00', status: 'PENDING', createdAt: null, updatedAt: null, version: 3 };

it('runs its scripts by SHA-1, sending a script only the first time', async () => {
  await admin.config('RESETSTAT');
  await cache.put(ref, { version: 3, item: order }, 300, 60);
  for (let i = 0; i < 20; i++) expect(await cache.read(ref, 60)).toEqual({ hit: true, entry: { version: 3, item: order } });
  const counted = await calls();
  // Two scripts (put, read), each sent whole once (NOSCRIPT, then EVAL), then run by SHA.
  expect(counted.eval ?? 0).toBeLessThanOrEqual(2);
  expect(counted.evalsha).toBeGreaterThanOrEqual(21);
});

it('sends a script again after Redis forgot it (SCRIPT FLUSH), and the read still answers', async () => {
  await cache.put(ref, { version: 3, item: order }, 300, 60);
  await admin.script('FLUSH');
  await admin.config('RESETSTAT');
  expect(await cache.read(ref, 60)).toEqual({ hit: true, entry: { version: 3, item: order } });
  expect(await cache.read(ref, 60)).toEqual({ hit: true, entry: { version: 3, item: order } });
  const counted = await calls();
  expect(counted.eval).toBe(1);
  expect(counted.evalsha).toBe(2);
});
