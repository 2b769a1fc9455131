import type { CacheSettings, ReadReport, ServiceEvents } from '../core/cache.js';
import { CartService } from '../core/carts.js';
import { OrderService } from '../core/orders.js';
import { TableService, tableNames } from '../core/tables.js';
import { openDynamoStore } from '../store/index.js';
import type { Config } from './config.js';
import type { Services } from './context.js';
import type { Output } from './output.js';

/** Wires the core to DynamoDB (and Redis when a cache is configured); loaded only by commands that need them. */
export async function openServices(config: Config, out: Output): Promise<{ services: Services; close: () => Promise<void> }> {
  const names = tableNames(config.tablePrefix);
  const store = openDynamoStore(
    {
      endpoint: config.endpoint,
      region: config.region,
      staticCredentials: config.staticCredentials,
      timeoutMs: config.timeoutMs,
      location: config.location,
    },
    names,
  );
  // ioredis is loaded only when a cache is configured.
  const redis = config.cache ? new (await import('../store/redis-cache.js')).RedisCache(config.cache.url) : undefined;
  const cache: CacheSettings | undefined =
    redis && config.cache ? { cache: redis, ttlSeconds: config.cache.ttlSeconds, readThrough: config.cache.readThrough } : undefined;
  if (redis) out.debug(`cache: Redis at ${redis.location}, ttl ${config.cache?.ttlSeconds} s${cache?.readThrough ? '' : ' (refreshed on writes only)'}`);

  const events: ServiceEvents = {
    read: (report) => out.debug(describeRead(report)),
    warn: (message) => out.warn(message),
  };
  return {
    services: {
      orders: new OrderService(store.orders, { cache, events, bulk: store.bulkOrders }),
      carts: new CartService(store.carts, { cache, events, bulk: store.bulkCarts }),
      tables: new TableService(store.tables, names),
    },
    close: async () => {
      store.close();
      await redis?.close();
    },
  };
}

function describeRead({ table, id, source, consistency, capacityUnits }: ReadReport): string {
  const from = consistency === undefined ? 'answered from Redis' : `DynamoDB ${consistency} read`;
  return `read ${table} ${id}: ${source}, ${from}, ${capacityUnits ?? 'unknown'} capacity units`;
}
