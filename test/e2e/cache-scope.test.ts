/**
 * Cache scope: two DynamoDB environments sharing one Redis never see each
 * other's items. Through the built binary, against the shared DynamoDB Local
 * (A) and a second, separate DynamoDB Local (B), both caching in the shared
 * redis-server. Then the key layout itself: every key of one item in one
 * Redis Cluster hash slot, ids with braces included, on a real cluster node.
 */
import { Redis } from 'ioredis';
import { testRedisClient } from '../support/redis-target.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { dynamoIdentity, normalise } from '../../src/store/cache-scope.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('cache-scope');
const ORDERS = `${prefix}EcommerceOrders`;
const redisUrl = inject('redisUrl');
const endpointA = inject('dynamoEndpoint');
let engineB: TestEngine;
const inspector = testRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

beforeAll(async () => {
  engineB = await startTestEngine();
  for (const endpoint of [endpointA, engineB.endpoint]) {
    const run = await shopdb(['tables', 'create'], { prefix, env: { SHOPDB_ENDPOINT: endpoint } });
    expect(run.exitCode, run.stderr).toBe(0);
  }
}, 90_000);

afterAll(async () => {
  await engineB?.stop();
  await inspector.quit().catch(() => inspector.disconnect());
});

/** Runs shopdb against environment A or B, always with the one shared Redis configured. */
async function on(env: 'A' | 'B', args: string[], input?: string): Promise<Run> {
  const endpoint = env === 'A' ? endpointA : engineB.endpoint;
  return shopdb([...args, '--verbose'], { prefix, input, env: { SHOPDB_ENDPOINT: endpoint, SHOPDB_REDIS_URL: redisUrl } });
}

async function ok(env: 'A' | 'B', args: string[], input?: string): Promise<Run> {
  const run = await on(env, args, input);
  expect(run.exitCode, `${env}: ${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run;
}

function source(run: Run): string | undefined {
  return /: (cache hit|cache miss),/.exec(run.stderr)?.[1];
}

describe('two DynamoDB endpoints sharing one Redis', () => {
  it('a write and an import on B never change what get --cache answers on A', async () => {
    // The create refreshes the shared Redis: A's order is cached from the start.
    await ok('A', ['order', 'create', 'o-both', '--user', 'u-on-a', '--amount', '1']);
    const first = await ok('A', ['order', 'get', 'o-both', '--cache']);
    expect(first.json()).toMatchObject({ userId: 'u-on-a', version: 1 });
    expect(source(first)).toBe('cache hit');

    // B has its own order of the same id, written twice, so its version (2) beats A's cached 1.
    await ok('B', ['order', 'create', 'o-both', '--user', 'u-on-b', '--amount', '2']);
    await ok('B', ['order', 'set-status', 'o-both', 'PAID']);
    // And an order only B has, brought in by import (which refreshes the cache).
    const line = JSON.stringify({ orderId: 'o-only-b', userId: 'u-on-b', totalAmount: '3.00', status: 'PAID', version: 4 });
    expect((await ok('B', ['order', 'import', '-'], `${line}\n`)).json()).toMatchObject({ written: 1 });

    const again = await ok('A', ['order', 'get', 'o-both', '--cache']);
    expect(again.json()).toMatchObject({ userId: 'u-on-a', status: 'PENDING', version: 1 });
    expect(source(again)).toBe('cache hit');
    const onlyB = await on('A', ['order', 'get', 'o-only-b', '--cache']);
    expect(onlyB.exitCode, onlyB.stdout).toBe(3);

    // B, for its part, reads its own items from the same Redis.
    const b = await ok('B', ['order', 'get', 'o-both', '--cache']);
    expect(b.json()).toMatchObject({ userId: 'u-on-b', status: 'PAID', version: 2 });
    expect(source(b)).toBe('cache hit');
    expect((await ok('B', ['order', 'get', 'o-only-b', '--cache'])).json()).toMatchObject({ userId: 'u-on-b', version: 4 });
  });

  it('keys follow the documented layout: shopdb:v2:{<scope>:<table>:<id>} and its :lease', async () => {
    const scopeA = cacheScope(`${normalise(endpointA)} us-east-1`);
    const scopeB = cacheScope(`${normalise(engineB.endpoint)} us-east-1`);
    expect(scopeA).toMatch(/^[0-9a-f]{16}$/);
    expect(scopeB).not.toBe(scopeA);
    // The verbose line names the scope and what it stands for.
    expect((await on('A', ['order', 'get', 'o-both', '--cache'])).stderr).toContain(`scope ${scopeA} (${normalise(endpointA)} us-east-1)`);
    const raw = await inspector.get(`shopdb:v2:{${scopeA}:${ORDERS}:o-both}`);
    expect(JSON.parse(raw ?? 'null')).toMatchObject({ v: '1', item: { orderId: 'o-both', userId: 'u-on-a' } });
    expect(await inspector.hget(`shopdb:v2:{${scopeB}:${ORDERS}:o-both}:lease`, 'floor')).toBe('2');
    expect(await inspector.ttl(`shopdb:v2:{${scopeB}:${ORDERS}:o-both}:lease`)).toBeGreaterThanOrEqual(290);
  });
});

describe('the scope names endpoint and region', () => {
  it('one spelling per endpoint, different regions and endpoints apart', async () => {
    const scope = async (endpoint: string | undefined, region: string) => cacheScope((await dynamoIdentity({ endpoint, region }))!);
    expect(await scope('HTTP://LocalHost:8000/', 'us-east-1')).toBe(await scope('http://localhost:8000', 'us-east-1'));
    expect(await scope('https://dynamodb.eu-west-1.amazonaws.com:443', 'eu-west-1')).toBe(await scope(undefined, 'eu-west-1'));
    const distinct = new Set([
      await scope('http://localhost:8000', 'us-east-1'),
      await scope('http://localhost:8000', 'eu-west-1'),
      await scope('http://localhost:8001', 'us-east-1'),
      await scope(undefined, 'us-east-1'),
      await scope(undefined, 'eu-west-1'),
    ]);
    expect(distinct.size).toBe(5);
  });
});

describe('one port on several loopback addresses: as many servers, as many scopes', () => {
  const servers: Array<{ host: string; endpoint: string; child: ChildProcess }> = [];

  beforeAll(async () => {
    const port = await freePort();
    // 127.0.0.1 and 127.0.0.2 always; [::1] too where this machine has IPv6.
    for (const host of ['127.0.0.1', '127.0.0.2', '::1']) {
      const child = await startDynaliteOn(host, port);
      if (child) servers.push({ host, endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, child });
      else if (host !== '::1') throw new Error(`dynalite did not start on ${host}:${port}`);
    }
    for (const { endpoint } of servers) {
      const run = await shopdb(['tables', 'create'], { prefix, env: { SHOPDB_ENDPOINT: endpoint } });
      expect(run.exitCode, run.stderr).toBe(0);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(servers.map(({ child }) => stopChild(child)));
  });

  const via = (endpoint: string, args: string[]) => shopdb([...args, '--verbose'], { prefix, env: { SHOPDB_ENDPOINT: endpoint, SHOPDB_REDIS_URL: redisUrl } });

  it('each server\'s get --cache answers its own item, and an id only one server has is found on no other (they used to share http://loopback:PORT)', async () => {
    expect(servers.length).toBeGreaterThanOrEqual(2);
    for (const [index, { endpoint }] of servers.entries()) {
      const create = await via(endpoint, ['order', 'create', 'same', '--user', `u-${index}`, '--amount', '1']);
      expect(create.exitCode, create.stderr).toBe(0);
    }
    // The last server's order moves on twice: its version beats every other server's cached 1.
    const last = servers.at(-1)!;
    for (const status of ['PAID', 'SHIPPED']) expect((await via(last.endpoint, ['order', 'set-status', 'same', status])).exitCode).toBe(0);
    const onlyLast = await via(last.endpoint, ['order', 'create', 'only-last', '--user', 'u-last', '--amount', '2']);
    expect(onlyLast.exitCode, onlyLast.stderr).toBe(0);
    expect(source(await via(last.endpoint, ['order', 'get', 'only-last', '--cache']))).toBe('cache hit');

    for (const [index, { host, endpoint }] of servers.entries()) {
      const mine = await via(endpoint, ['order', 'get', 'same', '--cache']);
      expect(mine.exitCode, `${host}: ${mine.stderr}`).toBe(0);
      expect(mine.json(), host).toMatchObject({ userId: `u-${index}`, version: index === servers.length - 1 ? 3 : 1 });
      expect(source(mine), host).toBe('cache hit');
      if (index < servers.length - 1) {
        const absent = await via(endpoint, ['order', 'get', 'only-last', '--cache']);
        expect(absent.exitCode, `${host}: ${absent.stdout}`).toBe(3);
      }
    }
  });
});

/** A dynalite listening on host:port only, or undefined when it cannot bind there. */
async function startDynaliteOn(host: string, port: number): Promise<ChildProcess | undefined> {
  const cli = join(dirname(createRequire(import.meta.url).resolve('dynalite/package.json')), 'cli.js');
  const child = spawn(process.execPath, [cli, '--host', host, '--port', String(port), '--createTableMs', '0', '--deleteTableMs', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const listening = await new Promise<boolean>((resolve) => {
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('listening')) resolve(true);
    });
    child.once('exit', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  child.stdout.resume();
  child.stderr.resume();
  return listening ? child : undefined;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('one hash slot per item, on a real Redis Cluster node', () => {
  let node: RunningRedis;
  let dir: string;
  let client: Redis;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shopdb-cluster-'));
    node = await startRedis({ port: await freePort(), extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir, '--cluster-announce-ip', '127.0.0.1'] });
    client = testRedisClient(node.url, { maxRetriesPerRequest: 1 });
    await client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let attempt = 0; !String(await client.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); attempt++) {
      if (attempt > 100) throw new Error('the one-node cluster never became ok');
      await sleep(50);
    }
  });

  afterAll(async () => {
    await client?.quit().catch(() => client.disconnect());
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ids = ['plain', '{', '}', '{}', '}{', 'a}b', 'a{b}c', '{x}:lease', 'x}:lease', '%7B', '%', 'ünï{cødé}', 'a:b'];

  it('every script runs on the cluster node (a cross-slot script would fail) and reads back each item', async () => {
    // A cluster node is used in cluster mode (given as one Redis, shopdb refuses it).
    const cache = new RedisCache(node.url, undefined, { cluster: true });
    try {
      for (const [index, id] of ids.entries()) {
        const ref = { scope: 'abc', table: 'T', id };
        const miss = await cache.read(ref, 30);
        expect(miss.hit).toBe(false);
        const token = miss.hit ? '' : miss.token!;
        expect(await cache.fill(ref, { version: 1, item: { orderId: id, n: index } }, token, 60)).toBe(true);
        expect(await cache.put(ref, { version: 2, item: { orderId: id, n: index } }, 60, 30)).toBe(true);
        expect(await cache.lease(ref, 30)).toEqual(expect.any(String));
      }
      for (const [index, id] of ids.entries()) {
        expect(await cache.read({ scope: 'abc', table: 'T', id }, 30)).toEqual({ hit: true, entry: { version: 2, item: { orderId: id, n: index } } });
      }
    } finally {
      await cache.close();
    }
  });

  it('the keys of one item share a slot; no two items share a key', async () => {
    const all = new Set<string>();
    for (const id of ids) {
      const { entry, lease } = cacheKeys({ scope: 'abc', table: 'T', id });
      expect(await client.call('CLUSTER', 'KEYSLOT', lease), id).toBe(await client.call('CLUSTER', 'KEYSLOT', entry));
      all.add(entry).add(lease);
    }
    expect(all.size).toBe(ids.length * 2);
    expect(await client.dbsize()).toBe(ids.length * 2);
  });
});
