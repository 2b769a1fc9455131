/**
 * A read-through cache that is never staler than shopdb's own last write.
 *
 * Every item carries a version that each write increments atomically in
 * DynamoDB. The cache only ever moves forward, and it does not rely on the
 * newer entry still being there to do so (it may have expired, been evicted
 * or flushed):
 * - a reader that misses takes a lease token before it reads DynamoDB, and
 *   its fill is stored only while that token is still valid, its version is
 *   not below the item's version floor and no newer entry is cached;
 * - a writer, once DynamoDB has committed, raises the floor to its version,
 *   revokes every outstanding token and stores its entry (unless a newer one
 *   is there); a write whose item has no usable version (shopdb reads a
 *   fractional, zero or negative stored version as null) cannot be ordered,
 *   so it drops the entry and revokes the tokens instead.
 * - a deleter, once DynamoDB has committed the delete of an item whose last
 *   version was V, raises the floor to V + 1, revokes every token and stores
 *   a tombstone {version: V + 1, item: null}: every later cached read answers
 *   not-found, and no fill of version <= V (read before the delete) can land.
 * A token that vanished (lease expired, evicted, flushed) refuses the fill, so
 * a late fill can only be lost (a later miss), never pin an old item. This is
 * the lease of memcache at Facebook (NSDI 2013), with the floor added for
 * readers that start after the writer's entry is gone.
 *
 * Generations. An id deleted and created again starts over at version 1,
 * below the floor its previous life left: versions then no longer order the
 * two lives. The cache stays correct by refusing to cache what it cannot
 * order: a write below the floor drops the entry (the tombstone included) and
 * fills below it are refused, so the new item is read from DynamoDB, uncached,
 * until the floor's key expires (max(TTL, lease) after the item's last write)
 * or its versions pass the floor. A write below the floor (or below the cached
 * entry) also marks the item as "mixed"; a delete whose tombstone could
 * outrank a newer life (the floor is already above V + 1, or the item is mixed)
 * only drops the entry instead of storing the tombstone. See
 * docs/RELIABILITY.md, "Deletes and tombstones".
 *
 * Foreign writes. Other programs change items without bumping `version`; the
 * stream follower (core/follower.ts) applies each change of the tables'
 * streams through applyChange, ordered by the item's stream sequence numbers
 * rather than by version (see applyChange below and docs/RELIABILITY.md, "The
 * stream follower").
 *
 * Entries belong to one scope (DynamoDB endpoint + region, see app/shop.ts),
 * one table and one id: two environments sharing one Redis never meet.
 */

export type Version = number | bigint;

/**
 * Who stored a cache entry, for `--verbose` reads: a shopdb write (`write`),
 * a shopdb delete's tombstone (`delete`), the stream follower (`stream`) or a
 * reader after a miss (`fill`).
 */
export type EntrySource = 'write' | 'delete' | 'stream' | 'fill';

/** `item: null` records that the item did not exist (version 0). */
export interface CachedEntry {
  version: Version;
  item: unknown;
  /** Absent on entries written before shopdb recorded it. */
  by?: EntrySource;
}

/**
 * One change read from a table's stream, for the cache: `store` an item image
 * (INSERT or MODIFY with a new image shopdb can read), or `drop` the entry
 * (REMOVE, or an image that cannot be cached). `shard` and `sequence` order
 * the changes of one item: see VersionedCache.applyChange.
 */
export interface StreamChange {
  shard: string;
  /** The record's SequenceNumber: decimal digits, increasing within a shard. */
  sequence: string;
  action: 'store' | 'drop';
  /** With `store`: the item at its version (a missing version counts as 0, as for a fill). */
  entry?: CachedEntry;
  /**
   * The item's version in this record: the new image's, or for a REMOVE the
   * old image's; undefined when the record does not say (KEYS_ONLY streams).
   * The cache keeps the highest seen, and a shopdb write's refresh at or below
   * it is not stored: the stream already holds that write or a later change.
   */
  version?: Version;
}

/** What applyChange did: stored the image, dropped the entry, or nothing (a record already applied, or older). */
export type ChangeOutcome = 'stored' | 'dropped' | 'seen';

/** Which item a cache operation is about. */
export interface CacheRef {
  /** Names the DynamoDB environment (endpoint + region); opaque to the cache. */
  scope: string;
  table: string;
  id: string;
}

/**
 * A hit, or a miss with the lease token a later fill must present (absent: no
 * fill will be accepted). `unusable`: a value was there but was not an entry
 * the caller accepts (it was dropped, the fill replaces it).
 */
export type CacheLookup = { hit: true; entry: CachedEntry } | { hit: false; token: string | undefined; unusable?: boolean };

export interface VersionedCache {
  /**
   * The cached entry, or on a miss (absent value, or one that does not decode,
   * is too large or that `usable` refuses) a lease token taken atomically with
   * the lookup; rejects when the cache cannot be reached.
   */
  read(ref: CacheRef, leaseSeconds: number, usable?: (entry: CachedEntry) => boolean): Promise<CacheLookup>;
  /** A lease token without a lookup, for a read that bypasses the cache but fills it afterwards. */
  lease(ref: CacheRef, leaseSeconds: number): Promise<string>;
  /** Stores a reader's entry only while `token` is valid, the version is >= the floor and nothing newer is cached; atomic. */
  fill(ref: CacheRef, entry: CachedEntry, token: string, ttlSeconds: number): Promise<boolean>;
  /** After a committed write: raises the floor, revokes tokens, stores the entry unless a newer one is cached; atomic. */
  put(ref: CacheRef, entry: CachedEntry, ttlSeconds: number, leaseSeconds: number): Promise<boolean>;
  /**
   * After a committed write whose item has no usable version (a stored version
   * of 1.5 stays fractional): drops the entry and revokes tokens, keeping the
   * floor; atomic. Only a later reader's fill caches the item again.
   */
  forget(ref: CacheRef, leaseSeconds: number): Promise<void>;
  /**
   * After a committed delete of an item whose last version was
   * `deletedVersion`: revokes tokens, raises the floor to deletedVersion + 1
   * and stores the tombstone {version: deletedVersion + 1, item: null} for
   * `ttlSeconds`, atomically. The tombstone is not stored (the entry is
   * dropped instead) when the floor is already above it or a write below the
   * floor was seen (another life of the id may be newer); an entry of the
   * tombstone's version or newer is left alone. With `deletedVersion` null
   * (no usable version) it drops the entry and raises the floor to at least 1,
   * storing no tombstone. True when the tombstone was stored.
   */
  remove(ref: CacheRef, deletedVersion: Version | null, ttlSeconds: number, leaseSeconds: number): Promise<boolean>;
  /**
   * Applies one stream record, atomically. The stream orders the changes of
   * an item, whoever wrote them (foreign writes do not bump `version`), so a
   * record is applied only when it is newer than the last one applied to this
   * item (same shard, higher sequence number; a record of another shard comes
   * after its parent's, which the follower finishes first): a replay after a
   * restart changes nothing. Applying revokes every reader's token (no fill
   * of a read made before it can land) and then:
   * - `store`: stores the image unless the floor or the cached entry is at a
   *   higher version: then the record is either older than a shopdb write
   *   already cached, or a foreign write that moved the version backwards;
   *   versions cannot tell which, so the entry is dropped (never replaced by
   *   an older one, never left stale) and the item marked mixed;
   * - `drop`: drops the entry (a REMOVE stores no tombstone: a later life of
   *   the id may already be cached, and a tombstone could hide it).
   * It also keeps the highest `version` the stream has shown for the item:
   * put() then leaves alone an entry of a version the stream has already
   * reached (a shopdb write's refresh that arrives after the follower applied
   * that write, or a later change that kept its version, must not overwrite it).
   * The item's sequence guard lives `guardSeconds` (the follower skips
   * records older than that: no entry in the cache can predate them).
   */
  applyChange(ref: CacheRef, change: StreamChange, ttlSeconds: number, guardSeconds: number): Promise<ChangeOutcome>;
  /**
   * Removes every key of these tables in this scope (entries, tombstones,
   * leases and floors), and nothing else; returns how many keys were removed.
   * Not atomic: keys written meanwhile may survive. Rejects when the cache
   * cannot be reached.
   */
  flush(scope: string, tables: readonly string[]): Promise<number>;
  /** Resolves when the cache answers; rejects when it cannot be reached. */
  ping(): Promise<void>;
}

export interface CacheSettings {
  cache: VersionedCache;
  /** Names the DynamoDB environment the entries belong to; see app/shop.ts cacheScope. */
  scope: string;
  /** Lifetime of a cached item (the original design's 300 s by default). */
  ttlSeconds: number;
  /** Use the cache for reads; writes refresh it whenever a cache is configured. */
  readThrough: boolean;
  /** How long a reader's lease lives: longer than the slowest DynamoDB read (default 60 s). */
  leaseSeconds?: number;
  /** After a Redis failure the cache is skipped for this long, then tried again (default 10 s). */
  retryAfterMs?: number;
  /** Shared by the services of one process so that one outage is noticed (and warned about) once. */
  breaker?: CacheBreaker;
}

export type ReadSource = 'cache hit' | 'cache miss' | 'cache bypass (strong read)' | 'cache bypass' | 'no cache';

/**
 * How a read uses the cache: `cached` answers from it when it can (an
 * eventually consistent read of DynamoDB on a miss); `strong` reads DynamoDB
 * strongly and `bypass` eventually, both without looking in the cache, and
 * both refresh it afterwards (under a lease, as a miss does).
 */
export type ReadMode = 'cached' | 'strong' | 'bypass';

/** What the cache did for one read: answered it, missed, was bypassed, or was not used (none configured, or Redis is out). */
export type CacheOutcome = 'hit' | 'miss' | 'bypass' | 'off';

export interface ReadReport {
  table: string;
  id: string;
  source: ReadSource;
  /** Absent when DynamoDB was not read. */
  consistency?: 'eventual' | 'strong';
  /** Read capacity DynamoDB reported for this read; 0 for a cache hit. */
  capacityUnits: number | undefined;
  /** For a cache hit: who stored the entry (absent: an entry older than this record). */
  entry?: EntrySource;
}

/** How the core tells its front end what happened, without printing. */
export interface ServiceEvents {
  read?(report: ReadReport): void;
  warn?(message: string): void;
  /** A cache operation failed, each time (the warning comes once per outage); the read or write went on without it. */
  cacheError?(): void;
}

export interface StoredRead<T> {
  item: T | undefined;
  capacityUnits: number | undefined;
}

/** A not-found answer is cached this briefly; creates overwrite it at once (version 1 beats 0). */
const NOT_FOUND_TTL_SECONDS = 5;
const DEFAULT_LEASE_SECONDS = 60;
const DEFAULT_RETRY_AFTER_MS = 10_000;
const FIRST_RETRY_MS = 1_000;

/**
 * A small circuit breaker: after a failure the cache is left alone for a
 * cool-down, then tried again (half-open: the next operation is the probe).
 * The cool-down starts short (a blip costs a second of cache) and doubles
 * with each failure in a row, up to `retryAfterMs`; a success closes it and
 * starts over. A one-shot command thus pays for a dead Redis once; a
 * long-lived process gets its cache back soon after an outage ends. One
 * warning per outage: the next one only after the cache has worked again.
 */
export class CacheBreaker {
  private openUntil = 0;
  private warned = false;
  private failures = 0;

  constructor(
    private readonly retryAfterMs = DEFAULT_RETRY_AFTER_MS,
    private readonly now: () => number = () => Date.now(),
    private readonly firstRetryMs = Math.min(FIRST_RETRY_MS, retryAfterMs),
  ) {}

  get closed(): boolean {
    return this.now() >= this.openUntil;
  }

  succeeded(): void {
    this.openUntil = 0;
    this.warned = false;
    this.failures = 0;
  }

  /** Opens the breaker; true when this outage has not been warned about yet. */
  failed(): boolean {
    this.failures += 1;
    const coolDown = Math.min(this.retryAfterMs, this.firstRetryMs * 2 ** Math.min(this.failures - 1, 30));
    this.openUntil = this.now() + coolDown;
    return this.claimWarning();
  }

  /** True once per outage: whoever gets it warns. */
  claimWarning(): boolean {
    if (this.warned) return false;
    this.warned = true;
    return true;
  }
}

export class ReadThrough<T extends { version: number | bigint | null }> {
  private readonly breaker: CacheBreaker;

  constructor(
    private readonly table: string,
    /** The key attribute, e.g. orderId: a cached item must carry the id it is cached under. */
    private readonly idField: string,
    /** Whether a cached value is exactly an item of the JSON contract (see contract.ts); nothing else is ever served. */
    private readonly isItem: (value: unknown) => value is T,
    private readonly load: (id: string, consistent: boolean) => Promise<StoredRead<T>>,
    private readonly settings: CacheSettings | undefined,
    private readonly events: ServiceEvents,
  ) {
    this.breaker = settings?.breaker ?? new CacheBreaker(settings?.retryAfterMs);
  }

  async get(id: string, strong: boolean): Promise<T | undefined> {
    return (await this.read(id, strong ? 'strong' : 'cached')).item;
  }

  /** The item (undefined: not found) and what the cache did for it. */
  async read(id: string, mode: ReadMode): Promise<{ item: T | undefined; cache: CacheOutcome }> {
    const settings = this.settings;
    const strong = mode === 'strong';
    const bypassing: ReadSource = strong ? 'cache bypass (strong read)' : mode === 'bypass' ? 'cache bypass' : 'cache miss';
    if (!settings?.readThrough) return { item: (await this.loadAndReport(id, strong, 'no cache')).item, cache: 'off' };
    if (!this.breaker.closed) return { item: (await this.loadAndReport(id, strong, bypassing)).item, cache: 'off' };

    const ref = this.ref(id);
    const unreadable = (reason: string) => `cache could not be read (${reason}); using DynamoDB directly`;
    let token: string | undefined;
    let outcome: CacheOutcome = mode === 'cached' ? 'miss' : 'bypass';
    if (mode !== 'cached') {
      token = await this.attempt(() => settings.cache.lease(ref, this.leaseSeconds), unreadable);
    } else {
      const lookup = await this.attempt(() => settings.cache.read(ref, this.leaseSeconds, (entry) => this.usable(entry, id)), unreadable);
      if (lookup?.hit) {
        this.events.read?.({ table: this.table, id, source: 'cache hit', capacityUnits: 0, ...(lookup.entry.by ? { entry: lookup.entry.by } : {}) });
        return { item: (lookup.entry.item ?? undefined) as T | undefined, cache: 'hit' };
      }
      if (lookup === undefined) outcome = 'off';
      if (lookup?.unusable) this.events.warn?.(`cache entry for ${this.table} ${id} is not a shopdb item; ignored`);
      token = lookup?.token;
    }
    const read = await this.loadAndReport(id, strong, bypassing);
    if (token !== undefined && this.breaker.closed) {
      const fill = token;
      const { entry, ttl } = this.entry(read.item, 'fill');
      await this.attempt(() => settings.cache.fill(ref, entry, fill, ttl), (reason) => `cache could not be updated (${reason})`);
    }
    return { item: read.item, cache: outcome };
  }

  /**
   * Call after DynamoDB committed the delete of `item` (the item as it was
   * deleted, its version the last one written): later cached reads answer
   * not-found, and no reader that read it before can cache it again.
   */
  async deleted(id: string, item: T): Promise<void> {
    const settings = this.settings;
    if (!settings) return;
    const warning = (reason: string) =>
      `the delete stands, but the cached copy was not removed (${reason}): cached readers may see the deleted item for up to ${settings.ttlSeconds} s`;
    // Tried even during the cool-down: Redis may only have hung and still hold the old entry (see written()).
    await this.attempt(() => settings.cache.remove(this.ref(id), item.version, settings.ttlSeconds, this.leaseSeconds), warning);
  }

  /** Call after DynamoDB committed a write that produced `item`. */
  async written(id: string, item: T): Promise<void> {
    const settings = this.settings;
    if (!settings) return;
    const warning = (reason: string) =>
      `the write stands, but the cached copy was not refreshed (${reason}): cached readers may see the old value for up to ${settings.ttlSeconds} s`;
    /*
     * Tried even during the cool-down, unlike reads: a Redis that only hung (or
     * timed out under load) still holds the old entry, and once the cool-down
     * ends every replica would be answered that older version until its TTL.
     * A refresh that timed out still runs when Redis wakes, and never lowers a
     * newer entry (versions order them). A dead Redis refuses it at once.
     */
    // Without a version the entry cannot be ordered against the cached one (version 0 would lose to it): drop it.
    if (item.version === null) {
      await this.attempt(() => settings.cache.forget(this.ref(id), this.leaseSeconds), warning);
      return;
    }
    const { entry, ttl } = this.entry(item, 'write');
    await this.attempt(() => settings.cache.put(this.ref(id), entry, ttl, this.leaseSeconds), warning);
  }

  private get leaseSeconds(): number {
    return this.settings?.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  }

  private entry(item: T | undefined, by: EntrySource): { entry: CachedEntry; ttl: number } {
    const ttlSeconds = this.settings?.ttlSeconds ?? NOT_FOUND_TTL_SECONDS;
    return {
      entry: { version: item?.version ?? 0, item: item ?? null, by },
      ttl: item ? ttlSeconds : Math.min(NOT_FOUND_TTL_SECONDS, ttlSeconds),
    };
  }

  private ref(id: string): CacheRef {
    return { scope: this.settings?.scope ?? '', table: this.table, id };
  }

  /** A recorded not-found (version 0, or a delete's tombstone), or this id's item of the contract at the entry's version. */
  private usable(entry: CachedEntry, id: string): boolean {
    if (entry.item === null) return true;
    try {
      if (!this.isItem(entry.item) || (entry.item as Record<string, unknown>)[this.idField] !== id) return false;
      return BigInt(entry.item.version ?? 0) === BigInt(entry.version);
    } catch {
      return false;
    }
  }

  private async loadAndReport(id: string, strong: boolean, source: ReadSource): Promise<StoredRead<T>> {
    const read = await this.load(id, strong);
    this.events.read?.({ table: this.table, id, source, consistency: strong ? 'strong' : 'eventual', capacityUnits: read.capacityUnits });
    return read;
  }

  /** Runs a cache operation; on failure opens the breaker and warns once per outage, in the caller's words. */
  private async attempt<R>(operation: () => Promise<R>, warning: (reason: string) => string): Promise<R | undefined> {
    try {
      const result = await operation();
      this.breaker.succeeded();
      return result;
    } catch (error) {
      this.events.cacheError?.();
      if (this.breaker.failed()) this.events.warn?.(warning(error instanceof Error ? error.message : String(error)));
      return undefined;
    }
  }
}


export interface FlushReport {
  /** How many Redis keys were removed (entries, tombstones and lease keys). */
  keys: number;
  scope: string;
  tables: string[];
  /** Where the cache is, without credentials. */
  location: string;
}

/** Operations on the cache as a whole, for the front ends (`cache flush`). */
export class CacheService {
  constructor(
    private readonly cache: VersionedCache,
    /** See CacheSettings.scope. */
    readonly scope: string,
    readonly tables: readonly string[],
    /** Where the cache is, for messages (never a password). */
    readonly location: string,
  ) {}

  /** Whether the cache answers within `withinMs` (a readiness probe; never throws). */
  async ping(withinMs = 1000): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), withinMs);
    });
    try {
      return await Promise.race([this.cache.ping().then(() => true, () => false), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes shopdb's keys of these tables in this scope; fails (UNAVAILABLE) when Redis cannot be reached. */
  async flush(): Promise<FlushReport> {
    const keys = await this.cache.flush(this.scope, this.tables);
    return { keys, scope: this.scope, tables: [...this.tables], location: this.location };
  }
}
