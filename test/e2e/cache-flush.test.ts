/**
 * `shopdb cache flush --yes` removes shopdb's keys of the configured scope
 * (DynamoDB endpoint + region) and tables, and nothing else: not another
 * table prefix's, not another scope's, not another program's, whatever
 * characters the ids hold. Real DynamoDB Local and redis-server; the planted
 * keys are written with the store's own key layout.
 */
import { Redis } from 'ioredis';
import { everyKey, testRedisClient, testRedisCache } from '../support/redis-target.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { tableNames } from '../../src/core/tables.js';
import { freePort } from '../../src/local/engine.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys, flushPattern, RedisCache } from '../../src/store/redis-cache.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { pty, STACK_LINE } from '../support/pty.js';

const prefix = uniquePrefix('cache-flush');
const names = tableNames(prefix);
const redisUrl = inject('redisUrl');
const env = { SHOPDB_REDIS_URL: redisUrl };

let scope: string;
let client: Redis;
let cache: RedisCache;

beforeAll(async () => {
  await createTables(prefix);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
  client = testRedisClient(redisUrl, { maxRetriesPerRequest: 1 });
  cache = testRedisCache(redisUrl);
});

afterAll(async () => {
  await cache?.close();
  await client?.quit().catch(() => client.disconnect());
});

/** Every key in Redis that starts with `start` (a plain prefix test, no glob). */
async function keysStartingWith(start: string): Promise<string[]> {
  return (await everyKey(client)).filter((key) => key.startsWith(start));
}

/** What every key of `table` in `inScope` starts with: `shopdb:v2:{<scope>:<table>:`. */
const ours = (table: string, inScope = scope) => cacheKeys({ scope: inScope, table, id: '' }).entry.slice(0, -1);

/** An entry and its lease key, through the store's own put. */
async function plant(table: string, id: string, inScope = scope): Promise<void> {
  expect(await cache.put({ scope: inScope, table, id }, { version: 1, item: { id } }, 300, 30)).toBe(true);
}

const HOSTILE_IDS = ['star*', 'br[ac]kets', 'br]', 'cur{ly}', 'per%25cent', 'q?', 'back\\slash', '*', '[', '{', '}', '%', 'a:b'];

describe('cache flush', () => {
  it('refuses without --yes (exit 2, naming the option) and removes nothing', async () => {
    await plant(names.orders, 'kept-without-yes');
    const run = await shopdb(['cache', 'flush'], { prefix, env });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('refusing without --yes');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(await client.exists(cacheKeys({ scope, table: names.orders, id: 'kept-without-yes' }).entry)).toBe(1);
  });

  it("removes this scope's and these tables' keys in batches, and only those", async () => {
    // Real items cached by the binary: entries and lease keys for both tables.
    for (const args of [
      ['order', 'create', 'o-flush-1', '--user', 'u1', '--amount', '3'],
      ['cart', 'create', 'c-flush-1', '--user', 'u1'],
    ]) {
      const run = await shopdb(args, { prefix, env });
      expect(run.exitCode, run.stderr).toBe(0);
    }
    expect((await shopdb(['order', 'get', 'o-flush-1', '--cache'], { prefix, env })).exitCode).toBe(0);
    for (const id of HOSTILE_IDS) {
      await plant(names.orders, id);
      await plant(names.carts, id);
    }
    // More than one SCAN page and UNLINK batch.
    // One SET per key (a pipeline's keys must share a node on a cluster), sent together.
    await Promise.all(Array.from({ length: 1300 }, (_, index) => client.set(cacheKeys({ scope, table: names.carts, id: `bulk-${index}` }).entry, '{"v":"1","item":null}', 'EX', 600)));

    // What must survive: another table prefix in this scope (also one that extends ours), this table in
    // another scope, other key formats, other programs' keys.
    const others = tableNames(`${prefix}x`);
    for (const id of ['o-1', ...HOSTILE_IDS]) {
      await plant(others.orders, id);
      await plant(`${names.orders}x`, id);
      await plant(names.orders, id, 'another-scope');
    }
    const foreign = ['foo', `shopdb:v1:{${scope}:${names.orders}:o-flush-1}`, `shopdb:v2:${scope}:${names.orders}:o-flush-1`, `other:{${scope}:${names.orders}:*}`];
    for (const key of foreign) await client.set(key, 'keep me', 'EX', 600);
    const survivors = [...(await keysStartingWith(ours(others.orders))), ...(await keysStartingWith(ours(`${names.orders}x`))), ...(await keysStartingWith(ours(names.orders, 'another-scope')))];
    expect(survivors.length).toBeGreaterThanOrEqual(3 * 2 * (HOSTILE_IDS.length + 1));

    const doomed = [...(await keysStartingWith(ours(names.orders))), ...(await keysStartingWith(ours(names.carts)))];
    expect(doomed.length).toBeGreaterThan(1300 + 4 * HOSTILE_IDS.length);

    const run = await shopdb(['cache', 'flush', '--yes'], { prefix, env });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(run.json()).toEqual({ result: 'flushed', keys: doomed.length, scope, tables: [names.orders, names.carts] });

    expect(await keysStartingWith(ours(names.orders))).toEqual([]);
    expect(await keysStartingWith(ours(names.carts))).toEqual([]);
    // EXISTS key by key: on a cluster one command's keys must share a slot.
    const existing = async (keys: string[]) => (await Promise.all(keys.map((key) => client.exists(key)))).reduce((sum, count) => sum + count, 0);
    expect(await existing(survivors)).toBe(survivors.length);
    expect(await existing(foreign)).toBe(foreign.length);

    // The next cached read is a miss, and correct.
    const read = await shopdb(['order', 'get', 'o-flush-1', '--cache', '--verbose'], { prefix, env });
    expect(read.exitCode).toBe(0);
    expect(read.json()).toMatchObject({ orderId: 'o-flush-1', version: 1 });
    expect(read.stderr).toContain('cache miss');

    // A second flush removes just what that read cached: its entry and lease key.
    const again = await shopdb(['cache', 'flush', '--yes'], { prefix, env });
    expect(again.json()).toMatchObject({ result: 'flushed', keys: 2 });
  });

  it('escapes the glob characters of scope and table in the SCAN pattern', async () => {
    // Unescaped, the pattern of scope "s[ab]*?\" would match scope "sa" and "sbXY".
    const glob = 's[ab]*?\\';
    expect(flushPattern(glob, 'T*')).toBe('shopdb:v2:{s\\[ab\\]\\*\\?\\\\:T\\*:*');
    for (const id of HOSTILE_IDS) {
      await plant('T*', id, glob);
      await plant('T*', id, 'sa');
      await plant('T*', id, 'sbXY');
      await plant('TX', id, glob);
    }
    expect(await cache.flush(glob, ['T*'])).toBe(2 * HOSTILE_IDS.length);
    expect(await keysStartingWith(ours('T*', glob))).toEqual([]);
    for (const [table, inScope] of [['T*', 'sa'], ['T*', 'sbXY'], ['TX', glob]] as const) {
      expect(await keysStartingWith(ours(table, inScope))).toHaveLength(2 * HOSTILE_IDS.length);
      expect(await cache.flush(inScope, [table])).toBe(2 * HOSTILE_IDS.length);
    }
  });

  it('Redis down: exit 5 with one clear line, no stack trace', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const run = await shopdb(['cache', 'flush', '--yes'], { prefix, env: { SHOPDB_REDIS_URL: url } });
    expect(run.exitCode).toBe(5);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`Redis at ${url}: connection refused`);
    expect(run.stderr).not.toMatch(STACK_LINE);
    // A password in the URL is never printed.
    const secret = await shopdb(['cache', 'flush', '--yes'], { prefix, env: { SHOPDB_REDIS_URL: url.replace('//', '//:s3cret-pw@') } });
    expect(secret.exitCode).toBe(5);
    expect(secret.stderr).toContain(`Redis at ${url}`);
    expect(secret.stderr).not.toContain('s3cret-pw');
  });

  it('on a terminal: one ✓ line that fits 80 and 50 columns', async () => {
    await plant(names.orders, 'for-the-pty');
    for (const columns of [80, 50]) {
      const run = await pty(['cache', 'flush', '--yes'], { prefix, columns, env });
      expect(run.exitCode, run.text).toBe(0);
      expect(run.overflows).toEqual([]);
      expect(run.text).toContain('✓ Flushed');
      expect(run.text).toMatch(/Flushed \d+ cache keys?/);
      expect(run.text).toContain(scope);
    }
    // Error lines are not wrapped by shopdb (the terminal wraps them): this one fits 80 columns.
    const refused = await pty(['cache', 'flush'], { prefix, columns: 80, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.overflows).toEqual([]);
    expect(refused.text).toContain('shopdb: refusing without --yes');
    expect(refused.text).not.toContain('✓');
  });
});
