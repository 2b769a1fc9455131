import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isCart, isOrder } from '../core/contract.js';
import { ShopError } from '../core/errors.js';
import { Follower, type FollowerEvents, type FollowerStats } from '../core/follower.js';
import { tableNames } from '../core/tables.js';
import { dynamoIdentity } from '../store/cache-scope.js';
import { cacheScope, readerLeaseSeconds, type ShopSettings } from './shop.js';

/*
 * The wiring of the cache follower (core/follower.ts) for any front end:
 * `shopdb cache follow` and `shopdb serve --follow`.
 */

export interface FollowOptions {
  /** A lease not renewed for this long is taken over by another follower. */
  leaseSeconds: number;
}

/** A follower startFollower has started (its streams checked, its first leases taken). */
export interface RunningFollower {
  /** Its name in the lease table: the host name and a random suffix. */
  readonly worker: string;
  stats(): FollowerStats;
  /** Records older than this many seconds are skipped (core/follower.ts). */
  horizonSeconds: number;
  /** Stops, checkpoints and releases the leases, closes the clients. */
  stop(): Promise<void>;
}

/** The lease table of the followers of one set of tables. */
export function leaseTableName(prefix: string): string {
  return `${prefix}EcommerceCacheFollowerLeases`;
}

/**
 * Starts the follower of the configured tables into the configured Redis;
 * rejects, with nothing left running, when there is no cache, no region, a
 * table without a stream (SCHEMA_MISMATCH) or no DynamoDB.
 */
export async function startFollower(settings: ShopSettings, options: FollowOptions, events: FollowerEvents): Promise<RunningFollower> {
  const config = settings.cache;
  if (config === undefined) throw new ShopError('BAD_INPUT', 'cache: no Redis is configured, and the follower has no cache to keep up to date');
  const identity = await dynamoIdentity(settings);
  if (identity === undefined) throw new ShopError('BAD_INPUT', 'region: no AWS region is configured', { hint: { kind: 'set-region' } });
  const names = tableNames(settings.tablePrefix);
  const [{ RedisCache }, { openStreamStore }] = await Promise.all([import('../store/redis-cache.js'), import('../store/stream-store.js')]);
  const redis = new RedisCache(config.url, undefined, { cluster: config.cluster });
  const store = openStreamStore(
    { endpoint: settings.endpoint, region: settings.region, staticCredentials: settings.staticCredentials, timeoutMs: settings.timeoutMs, location: settings.location },
    {
      tables: { [names.orders]: { key: 'orderId', kind: 'order' }, [names.carts]: { key: 'cartId', kind: 'cart' } },
      leases: leaseTableName(settings.tablePrefix),
    },
  );
  const worker = `${hostname()}-${randomBytes(4).toString('hex')}`;
  const follower = new Follower(
    {
      cache: redis,
      scope: cacheScope(identity),
      ttlSeconds: config.ttlSeconds,
      cacheLeaseSeconds: readerLeaseSeconds(settings.timeoutMs),
      tables: [
        { name: names.orders, idField: 'orderId', isItem: isOrder },
        { name: names.carts, idField: 'cartId', isItem: isCart },
      ],
      worker,
      leaseMs: options.leaseSeconds * 1000,
    },
    store.reader,
    store.leases,
    events,
  );
  const close = async () => {
    store.close();
    await redis.close();
  };
  try {
    // Redis is not needed to start (the follower retries each batch until it can write), but say at once that it is out.
    await redis.ping().catch((error: unknown) => events.warn(`${error instanceof Error ? error.message : String(error)}; the follower retries each batch until the cache can be updated`));
    await follower.start();
  } catch (error) {
    await follower.stop().catch(() => undefined);
    await close();
    throw error;
  }
  return {
    worker,
    horizonSeconds: follower.horizonSeconds,
    stats: () => follower.stats(),
    stop: async () => {
      await follower.stop();
      await close();
    },
  };
}
