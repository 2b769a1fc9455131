import type { CacheSettings, ReadReport, ServiceEvents } from '../core/cache.js';
import { CartService } from '../core/carts.js';
import { OrderService } from '../core/orders.js';
import { TableService, tableNames } from '../core/tables.js';
import { openDynamoStore } from '../store/index.js';

/*
 * The wiring that opens the core on DynamoDB (and Redis when a cache is
 * configured), for any front end: the CLI today, an HTTP server next. It takes
 * neutral settings and an event sink, never a front end's config or output.
 */

export interface ShopSettings {
  /** Absent: the AWS SDK resolves the endpoint itself. */
  endpoint: string | undefined;
  region: string | undefined;
  staticCredentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  timeoutMs: number;
  /** Where DynamoDB is, for messages: the endpoint URL or "DynamoDB in <region>". */
  location: string;
  tablePrefix: string;
  /** Absent: no cache. `url` may hold a password and is never printed. */
  cache: { url: string; ttlSeconds: number; readThrough: boolean } | undefined;
}

export interface ShopEvents {
  /** A line for a person who asked for details (the CLI's --verbose). */
  debug(message: string): void;
  warn(message: string): void;
}

export interface Shop {
  orders: OrderService;
  carts: CartService;
  tables: TableService;
  close(): Promise<void>;
}

export async function openShop(settings: ShopSettings, sink: ShopEvents): Promise<Shop> {
  const names = tableNames(settings.tablePrefix);
  const store = openDynamoStore(
    {
      endpoint: settings.endpoint,
      region: settings.region,
      staticCredentials: settings.staticCredentials,
      timeoutMs: settings.timeoutMs,
      location: settings.location,
    },
    names,
  );
  // ioredis is loaded only when a cache is configured.
  const redis = settings.cache ? new (await import('../store/redis-cache.js')).RedisCache(settings.cache.url) : undefined;
  const cache: CacheSettings | undefined =
    redis && settings.cache ? { cache: redis, ttlSeconds: settings.cache.ttlSeconds, readThrough: settings.cache.readThrough } : undefined;
  if (redis) sink.debug(`cache: Redis at ${redis.location}, ttl ${settings.cache?.ttlSeconds} s${cache?.readThrough ? '' : ' (refreshed on writes only)'}`);

  const events: ServiceEvents = {
    read: (report) => sink.debug(describeRead(report)),
    warn: (message) => sink.warn(message),
  };
  return {
    orders: new OrderService(store.orders, { cache, events, bulk: store.bulkOrders }),
    carts: new CartService(store.carts, { cache, events, bulk: store.bulkCarts }),
    tables: new TableService(store.tables, names),
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
