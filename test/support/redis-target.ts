import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';
import { RedisCache } from '../../src/store/redis-cache.js';

/*
 * The shared test Redis of the running project: one redis-server, or the seed
 * node of a Redis Cluster (project "cluster", see vitest.config.ts). The cache
 * files reach it through these helpers, so that they run unchanged against both.
 */

/** Whether the shared test Redis is a cluster. */
export function sharedIsCluster(): boolean {
  return inject('redisCluster');
}

/** Whether a URL names the shared test Redis when it is a cluster (so shopdb must run with --redis-cluster). */
export function isSharedCluster(url: string | undefined): boolean {
  if (url === undefined || !sharedIsCluster()) return false;
  const shared = inject('redisUrl');
  // The same host and port (another port may start with the same digits), with or without a path.
  return url === shared || url.startsWith(`${shared}/`);
}

/**
 * A client to look at Redis directly: an ioredis Redis, or a Cluster client (which routes each key
 * command to the node holding its slot). Typed as Redis: the tests use single-key commands only,
 * which both answer alike.
 */
export function testRedisClient(url: string, options: RedisOptions = {}): Redis {
  if (!isSharedCluster(url)) return new Redis(url, options);
  const seed = new URL(url);
  const cluster = new Cluster([{ host: seed.hostname, port: Number(seed.port) }], {
    lazyConnect: options.lazyConnect,
    redisOptions: { maxRetriesPerRequest: options.maxRetriesPerRequest },
  });
  return cluster as unknown as Redis;
}

/** shopdb's RedisCache on a URL, in cluster mode when it names the shared cluster. */
export function testRedisCache(url: string): RedisCache {
  return new RedisCache(url, undefined, { cluster: isSharedCluster(url) });
}

/** Every key, on one Redis or on every master of a cluster (SCAN walks one node). */
export async function everyKey(client: Redis): Promise<string[]> {
  const nodes = client instanceof Cluster ? (client as Cluster).nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found;
}
