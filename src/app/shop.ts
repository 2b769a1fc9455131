import { createHash } from 'node:crypto';
import { CacheBreaker, CacheService, type CacheSettings, type ReadReport, type ServiceEvents } from '../core/cache.js';
import { CartService } from '../core/carts.js';
import type { IdempotencyStore } from '../core/idempotency.js';
import { ListService } from '../core/listing.js';
import type { Cart, Order } from '../core/model.js';
import { OrderService } from '../core/orders.js';
import { TableService, tableNames } from '../core/tables.js';
import { dynamoIdentity } from '../store/cache-scope.js';
import type { DynamoCall } from '../core/telemetry.js';
import { openDynamoStore } from '../store/index.js';

export type { DynamoCall } from '../core/telemetry.js';

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
  cache: { url: string; ttlSeconds: number; readThrough: boolean; retryAfterMs?: number; cluster: boolean } | undefined;
}

export interface ShopEvents {
  /** A line for a person who asked for details (the CLI's --verbose). */
  debug(message: string): void;
  warn(message: string): void;
  /** Every DynamoDB call once it has ended, retries included (metrics). */
  dynamoCall?(call: DynamoCall): void;
  /** A cache operation failed (the read or write went on without the cache). */
  cacheError?(): void;
}

export interface Shop {
  orders: OrderService;
  carts: CartService;
  tables: TableService;
  /** `order list` and `cart list` (core/listing.ts). */
  listing: { orders: ListService<Order>; carts: ListService<Cart> };
  /** The cache as a whole (`cache flush`); absent when no cache is configured or the DynamoDB region is not known. */
  cache: CacheService | undefined;
  /** Idempotency-Key records of the HTTP API, in DynamoDB (table EcommerceIdempotencyKeys). */
  idempotency: IdempotencyStore;
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
      onCall: sink.dynamoCall && ((call) => sink.dynamoCall?.(call)),
    },
    names,
  );
  const cache = settings.cache ? await openCache(settings, settings.cache, sink) : undefined;
  const redis = cache?.redis;
  // Its own connection (opened only if used), allowed more time per command than a read: a flush SCANs the whole keyspace.
  const admin = cache && settings.cache ? new (await import('../store/redis-cache.js')).RedisCache(settings.cache.url, ADMIN_COMMAND_TIMEOUT_MS, { cluster: settings.cache.cluster }) : undefined;

  const events: ServiceEvents = {
    read: (report) => sink.debug(describeRead(report)),
    warn: (message) => sink.warn(message),
    cacheError: () => sink.cacheError?.(),
  };
  const orders = new OrderService(store.orders, { cache: cache?.settings, events, bulk: store.bulkOrders });
  return {
    orders,
    carts: new CartService(store.carts, { cache: cache?.settings, events, bulk: store.bulkCarts, orders }),
    tables: new TableService(store.tables, names),
    listing: { orders: new ListService('order', store.listOrders), carts: new ListService('cart', store.listCarts) },
    cache: cache && admin ? new CacheService(admin, cache.settings.scope, [names.orders, names.carts], admin.location) : undefined,
    idempotency: store.idempotency,
    close: async () => {
      for (const use of store.capacity()) sink.debug(`capacity: ${use.table} consumed ${units(use.read)} read and ${units(use.write)} write capacity units`);
      store.close();
      await redis?.close();
      await admin?.close();
    },
  };
}

/** The longest one command of `cache flush` (a SCAN or UNLINK batch) may take. */
const ADMIN_COMMAND_TIMEOUT_MS = 10_000;

/** A reader's lease: three times the DynamoDB timeout (which covers a read's retries), and at least this. */
const MIN_LEASE_SECONDS = 30;

async function openCache(settings: ShopSettings, config: NonNullable<ShopSettings['cache']>, sink: ShopEvents) {
  const identity = await dynamoIdentity(settings);
  if (identity === undefined) {
    // Without a region no DynamoDB call can work either; it says so itself.
    sink.debug('cache: not used, the DynamoDB region is not known');
    return undefined;
  }
  // ioredis is loaded only when a cache is configured.
  const redis = new (await import('../store/redis-cache.js')).RedisCache(config.url, undefined, { cluster: config.cluster });
  const scope = cacheScope(identity);
  const cache: CacheSettings = {
    cache: redis,
    scope,
    ttlSeconds: config.ttlSeconds,
    readThrough: config.readThrough,
    leaseSeconds: readerLeaseSeconds(settings.timeoutMs),
    breaker: new CacheBreaker(config.retryAfterMs),
  };
  sink.debug(
    `cache: Redis${config.cluster ? ' Cluster' : ''} at ${redis.location}, scope ${scope} (${identity}), ttl ${config.ttlSeconds} s${config.readThrough ? '' : ' (refreshed on writes only)'}`,
  );
  return { redis, settings: cache };
}

/** How long a reader's lease lives, for the DynamoDB timeout in use (the follower's horizon counts on it too). */
export function readerLeaseSeconds(timeoutMs: number): number {
  return Math.max(MIN_LEASE_SECONDS, Math.ceil((3 * timeoutMs) / 1000));
}

/**
 * Cache entries belong to one DynamoDB: a short hash of its endpoint and
 * region (see store/cache-scope.ts). 64 bits: two environments sharing one
 * Redis collide with odds of about n²/2^65.
 */
export function cacheScope(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

function units(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** Who stored a cached entry, as --verbose names it. */
const ENTRY_WORDS = { write: 'a shopdb write', delete: 'a shopdb delete (tombstone)', stream: 'the stream follower', fill: "a reader's fill after a miss" } as const;

function describeRead({ table, id, source, consistency, capacityUnits, entry }: ReadReport): string {
  const from = consistency !== undefined ? `DynamoDB ${consistency} read` : `answered from Redis${entry ? ` (stored by ${ENTRY_WORDS[entry]})` : ''}`;
  return `read ${table} ${id}: ${source}, ${from}, ${capacityUnits ?? 'unknown'} capacity units`;
}
