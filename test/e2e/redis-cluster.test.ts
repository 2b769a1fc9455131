/**
 * --redis-cluster against a Redis Cluster of its own (3 masters on loopback
 * ports): a master killed mid-run, `cache flush` on every master, and the
 * mistakes (a bad SHOPDB_REDIS_CLUSTER, a database other than 0, a single
 * Redis given as a cluster, a cluster given as a single Redis). The cache
 * files run against the shared cluster as well (project "cluster").
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { tableNames } from '../../src/core/tables.js';
import { createTables, jsonError, shopdb, uniquePrefix } from '../support/cli.js';
import { cli, startCluster, type RunningCluster } from '../support/redis-cluster.js';

const prefix = uniquePrefix('rcluster');
const names = tableNames(prefix);
let cluster: RunningCluster;
let scope: string;

beforeAll(async () => {
  [cluster] = await Promise.all([startCluster(), createTables(prefix)]);
  scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
});

afterAll(async () => {
  await cluster?.stop();
});

const onCluster = (args: string[], env: Record<string, string> = {}) => shopdb(['--redis-cluster', '--redis-url', cluster.url, ...args], { prefix, env });

/** The port of the master that holds an order's cache entry. */
async function masterOf(orderId: string): Promise<number> {
  return (await cluster.nodeOf(cacheKeys({ scope, table: names.orders, id: orderId }).entry)).port;
}

/** Order ids whose entries land on each of the three masters: at least `each` per master. */
async function idsOnEveryMaster(label: string, each: number): Promise<Map<number, string[]>> {
  const byMaster = new Map<number, string[]>(cluster.nodes.map((node) => [node.port, []]));
  for (let index = 0; [...byMaster.values()].some((ids) => ids.length < each); index++) {
    const id = `${label}-${index}`;
    byMaster.get(await masterOf(id))?.push(id);
  }
  return byMaster;
}

function source(stderr: string): string | undefined {
  return /cache (hit|miss|bypass)/.exec(stderr)?.[0];
}

describe('cache flush on a cluster', () => {
  it('removes the keys on every master (SCAN walks one node), and nothing else', async () => {
    const byMaster = await idsOnEveryMaster('o-flush', 2);
    const ids = [...byMaster.values()].flat();
    for (const id of ids) expect((await onCluster(['order', 'create', id, '--user', 'u1', '--amount', '1'])).exitCode).toBe(0);
    for (const id of ids) expect(source((await onCluster(['order', 'get', id, '--cache', '--verbose'])).stderr)).toBe('cache hit');
    for (const node of cluster.nodes) expect(Number(await cli(node.port, 'DBSIZE')), `master ${node.port}`).toBeGreaterThan(0);
    await cli(cluster.nodes[0]!.port, '-c', 'SET', 'not-shopdb', 'keep me');

    const run = await onCluster(['cache', 'flush', '--yes']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ keys: ids.length * 2 });
    for (const id of ids) expect(await cli(await masterOf(id), 'EXISTS', cacheKeys({ scope, table: names.orders, id }).entry)).toBe('0');
    expect(await cli(cluster.nodes[0]!.port, '-c', 'GET', 'not-shopdb')).toBe('keep me');
  });
});

describe('mistakes', () => {
  it('a bad SHOPDB_REDIS_CLUSTER: one line naming it, exit 2', async () => {
    const run = await shopdb(['order', 'get', 'o-x', '--cache', '--redis-url', cluster.url], { prefix, env: { SHOPDB_REDIS_CLUSTER: 'yes' } });
    expect(run.exitCode).toBe(2);
    const error = jsonError(run);
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toMatch(/^SHOPDB_REDIS_CLUSTER: /);
  });

  it('SHOPDB_REDIS_CLUSTER=1 and =false are understood (config show)', async () => {
    const on = await shopdb(['config', 'show'], { prefix, env: { SHOPDB_REDIS_CLUSTER: '1', SHOPDB_REDIS_URL: cluster.url } });
    expect(on.json()).toMatchObject({ cacheCluster: { value: true, source: 'env SHOPDB_REDIS_CLUSTER' } });
    const off = await shopdb(['config', 'show'], { prefix, env: { SHOPDB_REDIS_CLUSTER: 'false' } });
    expect(off.json()).toMatchObject({ cacheCluster: { value: false, source: 'env SHOPDB_REDIS_CLUSTER' } });
  });

  it('a database other than 0 with cluster mode: bad input naming the URL, exit 2, nothing written', async () => {
    const run = await shopdb(['--redis-cluster', 'order', 'create', 'o-db3', '--user', 'u1', '--amount', '1', '--redis-url', `${cluster.url}/3`], { prefix });
    expect(run.exitCode).toBe(2);
    expect(jsonError(run).message).toMatch(/^--redis-url: .*database other than 0/);
    expect((await shopdb(['order', 'get', 'o-db3'], { prefix })).exitCode).toBe(3);
  });

  it('a single Redis given as a cluster: the read answers from DynamoDB with one warning saying so', async () => {
    await shopdb(['order', 'create', 'o-single', '--user', 'u1', '--amount', '1'], { prefix });
    const run = await shopdb(['--redis-cluster', 'order', 'get', 'o-single', '--cache', '--redis-url', inject('redisUrl')], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ orderId: 'o-single' });
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('is not a Redis Cluster');
  });

  it('a cluster given as a single Redis: refused at connect (never a MOVED half-cache), the read answers from DynamoDB with one warning', async () => {
    await onCluster(['order', 'create', 'o-nocluster', '--user', 'u1', '--amount', '1']);
    const run = await shopdb(['order', 'get', 'o-nocluster', '--cache', '--redis-url', cluster.url], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ orderId: 'o-nocluster' });
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('is a Redis Cluster node');
  });
});

describe('a master killed mid-run (fail-open)', () => {
  it('reads of its items still answer from DynamoDB with one warning, items on the other masters still hit', async () => {
    const byMaster = await idsOnEveryMaster('o-kill', 1);
    const ids = [...byMaster.values()].flat();
    for (const id of ids) expect((await onCluster(['order', 'create', id, '--user', 'u1', '--amount', '2.50'])).exitCode).toBe(0);
    for (const id of ids) expect(source((await onCluster(['order', 'get', id, '--cache', '--verbose'])).stderr)).toBe('cache hit');

    const victim = cluster.nodes[1]!;
    victim.kill();
    onTestFinished(() => cluster.restart(victim.port));
    for (const [port, onIt] of byMaster) {
      for (const id of onIt) {
        const started = Date.now();
        const run = await onCluster(['order', 'get', id, '--cache', '--verbose']);
        expect(run.exitCode, run.stderr).toBe(0);
        expect(run.json()).toMatchObject({ orderId: id, totalAmount: '2.50' });
        const warnings = run.stderr.split('\n').filter((line) => line.startsWith('shopdb: warning:'));
        if (port === victim.port) {
          expect(warnings, run.stderr).toHaveLength(1);
          expect(warnings[0]).toContain(`Redis at ${cluster.url}`);
          expect(source(run.stderr)).not.toBe('cache hit');
        } else {
          expect(warnings, run.stderr).toHaveLength(0);
          expect(source(run.stderr)).toBe('cache hit');
        }
        // Fail fast: the dead master costs a read little (generous for a loaded 2-core machine).
        expect(Date.now() - started).toBeLessThan(5000);
      }
    }
  });
});

describe('a long-lived process (serve) gets a master back', () => {
  it('after a master is killed and comes back, its slots are cached again by the same client; the others never stopped', async () => {
    const cache = new RedisCache(cluster.url, undefined, { cluster: true });
    try {
      const refs = [...(await idsOnEveryMaster('o-back', 1)).entries()].map(([port, [id]]) => ({ port, ref: { scope, table: names.orders, id: id! } }));
      for (const { ref } of refs) expect(await cache.put(ref, { version: 1, item: { orderId: ref.id } }, 60, 30)).toBe(true);
      const victim = cluster.nodes[2]!.port;
      cluster.nodes[2]!.kill();
      onTestFinished(() => cluster.restart(victim));
      for (const { port, ref } of refs) {
        const started = Date.now();
        if (port === victim) await expect(cache.read(ref, 30)).rejects.toThrow(`Redis at ${cluster.url}`);
        else await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true });
        expect(Date.now() - started).toBeLessThan(3000);
      }
      // serve's /readyz: redis "down" while a master is.
      await expect(cache.ping()).rejects.toThrow(`127.0.0.1:${victim}`);
      await cluster.restart(victim);
      // The node came back empty: a miss, then the put lands and reads hit again, with no new client.
      let back = false;
      for (let attempt = 0; attempt < 100 && !back; attempt++) {
        back = await cache.put(refs.find(({ port }) => port === victim)!.ref, { version: 2, item: { orderId: 'x' } }, 60, 30).catch(() => false);
        if (!back) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(back).toBe(true);
      for (const { ref } of refs) await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true });
      await expect(cache.ping()).resolves.toBeUndefined();
    } finally {
      await cache.close();
    }
  });
});

describe('MOVED and ASK: a slot moved under a client that still has the old slot map', () => {
  /** Moves one slot from its master to another, in the steps of a resharding; `midway` runs with the keys moved and the slot still MIGRATING/IMPORTING (the source then answers ASK). */
  async function moveSlot(slot: number, from: number, to: number, midway: () => Promise<void>): Promise<void> {
    const [fromId, toId] = [(await cli(from, 'CLUSTER', 'MYID')).trim(), (await cli(to, 'CLUSTER', 'MYID')).trim()];
    await cli(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
    await cli(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
    const keys = (await cli(from, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100')).split('\n').filter((key) => key !== '');
    expect(keys.length).toBeGreaterThan(0);
    await cli(from, 'MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
    await midway();
    for (const node of cluster.nodes) await cli(node.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
  }

  it('ASK while the slot migrates, MOVED once it has moved: the same client keeps hitting, and its writes land on the new master', async () => {
    const cache = new RedisCache(cluster.url, undefined, { cluster: true });
    try {
      const ref = { scope, table: names.orders, id: 'o-moving' };
      const { entry } = cacheKeys(ref);
      expect(await cache.put(ref, { version: 1, item: { orderId: ref.id } }, 60, 30)).toBe(true);
      await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true, entry: { version: 1 } });
      const from = (await cluster.nodeOf(entry)).port;
      const to = cluster.nodes.find((node) => node.port !== from)!.port;
      await moveSlot(await cluster.slotOf(entry), from, to, async () => {
        // The old master no longer has the keys and answers ASK: the client asks the importing one.
        expect(await cli(from, 'EXISTS', entry)).toMatch(/^ASK \d+ 127\.0\.0\.1:/);
        await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true, entry: { version: 1 } });
      });
      expect((await cluster.nodeOf(entry)).port).toBe(to);
      // The client's map still says `from`, which now answers MOVED: followed.
      expect(await cli(from, 'EXISTS', entry)).toMatch(/^MOVED \d+ 127\.0\.0\.1:/);
      await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true, entry: { version: 1 } });
      expect(await cache.put(ref, { version: 2, item: { orderId: ref.id } }, 60, 30)).toBe(true);
      expect(JSON.parse(await cli(to, 'GET', entry))).toMatchObject({ v: '2' });
      await expect(cache.read(ref, 30)).resolves.toMatchObject({ hit: true, entry: { version: 2 } });
    } finally {
      await cache.close();
    }
  });
});

describe('cache flush with a master down', () => {
  it('fails with exit 5 naming the master, before removing anything', async () => {
    const byMaster = await idsOnEveryMaster('o-flushdown', 1);
    const ids = [...byMaster.values()].flat();
    for (const id of ids) expect((await onCluster(['order', 'create', id, '--user', 'u1', '--amount', '1'])).exitCode).toBe(0);
    for (const id of ids) expect(source((await onCluster(['order', 'get', id, '--cache', '--verbose'])).stderr)).toBe('cache hit');
    const victim = cluster.nodes[2]!;
    victim.kill();
    onTestFinished(() => cluster.restart(victim.port));
    const run = await onCluster(['cache', 'flush', '--yes']);
    expect(run.exitCode).toBe(5);
    expect(jsonError(run).message).toContain(`the master 127.0.0.1:${victim.port}`);
    for (const [port, onIt] of byMaster) {
      if (port === victim.port) continue;
      for (const id of onIt) expect(await cli(port, 'EXISTS', cacheKeys({ scope, table: names.orders, id }).entry)).toBe('1');
    }
  });
});

describe('a cluster over TLS with a password (rediss://, as ElastiCache with in-transit encryption and AUTH)', () => {
  const PASSWORD = 'cluster-tls-7c1e';
  const certDir = mkdtempSync(join(tmpdir(), 'shopdb-cluster-tls-'));
  const cert = join(certDir, 'cert.pem');
  let tlsCluster: RunningCluster | undefined;

  beforeAll(async () => {
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certDir, 'key.pem'), '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    tlsCluster = await startCluster({ password: PASSWORD, tls: { cert, key: join(certDir, 'key.pem') } });
  });

  afterAll(async () => {
    await tlsCluster?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('the seed URL\'s password and TLS apply to every node: items on all three masters miss, then hit; flush removes them; never the password', async () => {
    const url = tlsCluster!.url;
    expect(url).toMatch(/^rediss:\/\//);
    const env = { NODE_EXTRA_CA_CERTS: cert };
    // redis-cli --cluster create splits the slots alike on both clusters: ids on every master of one are on every master of the other.
    const ids = [...(await idsOnEveryMaster('o-tls', 1)).values()].flat();
    const runs = [];
    for (const id of ids) {
      await shopdb(['order', 'create', id, '--user', 'u1', '--amount', '1'], { prefix });
      const first = await shopdb(['--redis-cluster', '--redis-url', url, 'order', 'get', id, '--cache', '--verbose'], { prefix, env });
      const second = await shopdb(['--redis-cluster', '--redis-url', url, 'order', 'get', id, '--cache', '--verbose'], { prefix, env });
      expect(source(first.stderr), first.stderr).toBe('cache miss');
      expect(source(second.stderr), second.stderr).toBe('cache hit');
      runs.push(first, second);
    }
    const flush = await shopdb(['--redis-cluster', '--redis-url', url, 'cache', 'flush', '--yes'], { prefix, env });
    expect(flush.exitCode, flush.stderr).toBe(0);
    expect(flush.json()).toMatchObject({ keys: ids.length * 2 });
    for (const run of [...runs, flush]) {
      expect(run.stderr).not.toContain('warning');
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    }
  });

  it('an untrusted certificate: the read answers from DynamoDB with one warning, no password', async () => {
    await shopdb(['order', 'create', 'o-tls-untrusted', '--user', 'u1', '--amount', '1'], { prefix });
    const run = await shopdb(['--redis-cluster', '--redis-url', tlsCluster!.url, 'order', 'get', 'o-tls-untrusted', '--cache'], { prefix });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ orderId: 'o-tls-untrusted' });
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^shopdb: warning: /);
    expect(run.stderr).not.toContain(PASSWORD);
  });
});
