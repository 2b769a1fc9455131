/**
 * A read-through cache that is never staler than shopdb's own last write.
 *
 * Every item carries a version that each write increments atomically in
 * DynamoDB. The cache only ever moves forward: an entry is stored only if the
 * cache holds no newer version of it, so a slow reader that missed, read an
 * old item and fills late cannot overwrite what a writer has put there since
 * (the race that memcache leases close at Facebook). Writers put the new
 * item, with its version, once DynamoDB has committed it.
 */

/** `item: null` records that the item did not exist. */
export interface CachedEntry {
  version: number;
  item: unknown;
}

export interface VersionedCache {
  /** Resolves undefined on a miss or an unreadable value; rejects when the cache cannot be reached. */
  read(key: string): Promise<CachedEntry | undefined>;
  /** Stores the entry unless the cache already holds this version or a newer one; atomic. */
  offer(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void>;
}

export interface CacheSettings {
  cache: VersionedCache;
  /** Lifetime of a cached item (the original design's 300 s by default). */
  ttlSeconds: number;
  /** Use the cache for reads; writes refresh it whenever a cache is configured. */
  readThrough: boolean;
}

export type ReadSource = 'cache hit' | 'cache miss' | 'cache bypass (--strong)' | 'no cache';

export interface ReadReport {
  table: string;
  id: string;
  source: ReadSource;
  /** Absent when DynamoDB was not read. */
  consistency?: 'eventual' | 'strong';
  /** Read capacity DynamoDB reported for this read; 0 for a cache hit. */
  capacityUnits: number | undefined;
}

/** How the core tells its front end what happened, without printing. */
export interface ServiceEvents {
  read?(report: ReadReport): void;
  warn?(message: string): void;
}

export interface StoredRead<T> {
  item: T | undefined;
  capacityUnits: number | undefined;
}

/** A not-found answer is cached this briefly; creates overwrite it at once (version 1 beats 0). */
const NOT_FOUND_TTL_SECONDS = 5;
const KEY_FORMAT = 'shopdb:v1';

export class ReadThrough<T extends { version: number | null }> {
  /** After one failure the cache is left alone for the rest of the process: one warning, no added delay. */
  private cacheFailed = false;
  private warned = false;

  constructor(
    private readonly table: string,
    /** The key attribute, e.g. orderId: a cached item must carry the id it is cached under. */
    private readonly idField: string,
    private readonly load: (id: string, consistent: boolean) => Promise<StoredRead<T>>,
    private readonly settings: CacheSettings | undefined,
    private readonly events: ServiceEvents,
  ) {}

  async get(id: string, strong: boolean): Promise<T | undefined> {
    const cache = this.settings?.readThrough && !this.cacheFailed ? this.settings : undefined;
    if (!cache) return (await this.loadAndReport(id, strong, this.settings?.readThrough ? 'cache miss' : 'no cache')).item;

    if (!strong) {
      const entry = await this.attempt(() => cache.cache.read(this.key(id)), (reason) => `cache could not be read (${reason}); using DynamoDB directly`);
      if (entry && this.belongsTo(entry, id)) {
        this.events.read?.({ table: this.table, id, source: 'cache hit', capacityUnits: 0 });
        return (entry.item ?? undefined) as T | undefined;
      }
    }
    const read = await this.loadAndReport(id, strong, strong ? 'cache bypass (--strong)' : 'cache miss');
    if (!this.cacheFailed) await this.store(id, read.item);
    return read.item;
  }

  /** Call after DynamoDB committed a write that produced `item`. */
  async written(id: string, item: T): Promise<void> {
    const ttl = this.settings?.ttlSeconds;
    await this.store(
      id,
      item,
      (reason) => `the write stands, but the cached copy was not refreshed (${reason}): cached readers may see the old value for up to ${ttl} s`,
    );
  }

  private async store(id: string, item: T | undefined, warning = (reason: string) => `cache could not be updated (${reason})`): Promise<void> {
    if (!this.settings) return;
    if (this.cacheFailed) {
      this.warnOnce(warning('Redis failed earlier in this command'));
      return;
    }
    const { cache, ttlSeconds } = this.settings;
    const entry: CachedEntry = { version: item?.version ?? 0, item: item ?? null };
    const ttl = item ? ttlSeconds : Math.min(NOT_FOUND_TTL_SECONDS, ttlSeconds);
    await this.attempt(() => cache.offer(this.key(id), entry, ttl), warning);
  }

  private belongsTo(entry: CachedEntry, id: string): boolean {
    return entry.item === null || (entry.item as Record<string, unknown>)[this.idField] === id;
  }

  private async loadAndReport(id: string, strong: boolean, source: ReadSource): Promise<StoredRead<T>> {
    const read = await this.load(id, strong);
    this.events.read?.({ table: this.table, id, source, consistency: strong ? 'strong' : 'eventual', capacityUnits: read.capacityUnits });
    return read;
  }

  /** Runs a cache operation; on failure warns once, in the caller's words, and leaves the cache alone from then on. */
  private async attempt<R>(operation: () => Promise<R>, warning: (reason: string) => string): Promise<R | undefined> {
    try {
      return await operation();
    } catch (error) {
      this.cacheFailed = true;
      this.warnOnce(warning(error instanceof Error ? error.message : String(error)));
      return undefined;
    }
  }

  private warnOnce(message: string): void {
    if (!this.warned) this.events.warn?.(message);
    this.warned = true;
  }

  private key(id: string): string {
    // Table names cannot contain ':', so the id after it is unambiguous.
    return `${KEY_FORMAT}:${this.table}:${id}`;
  }
}
