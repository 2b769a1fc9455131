import { Cluster, Redis, type RedisCommander, type RedisOptions } from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import type { CachedEntry, CacheLookup, CacheRef, ChangeOutcome, EntrySource, StreamChange, Version, VersionedCache } from '../core/cache.js';
import { ShopError } from '../core/errors.js';

/*
 * Key layout (v2). Every key of one item carries the same Redis Cluster hash
 * tag, so each script below touches one hash slot:
 *   shopdb:v2:{<scope>:<table>:<id>}         the entry: {"v":"<version>","item":<item>|null}
 *   shopdb:v2:{<scope>:<table>:<id>}:lease   a hash: token (readers' lease), floor (highest version written),
 *                                            mixed (set: a write below the floor or the entry was seen)
 *                                            shard, seq (the last stream record applied to the item),
 *                                            sver (the highest item version the stream has shown)
 * A delete leaves a tombstone entry {"v":"<last version + 1>","item":null}.
 * An entry may end with ,"by":"write|delete|stream|fill" (who stored it, for
 * --verbose reads); entries without it (older shopdb) are read alike.
 * In scope and table '%', '{', '}' and ':' are written %XX, in the id '%', '{'
 * and '}': the tag ends at the only '}' and two items never share a key.
 * Versions travel as decimal digit strings and are compared as such, because
 * Lua's cjson (and Lua numbers) would round them past 2^53.
 */
const KEY_FORMAT = 'shopdb:v2';

/*
 * readable(v): a canonical non-negative decimal digit string ('0', or digits
 * without a leading zero), the only form shopdb writes. Anything else found in
 * a floor or an entry's version (another program's, or an attacker's) is
 * unreadable and counts as absent: writers overwrite it, readers drop it.
 * newer(a, b): a > b for readable versions of any length.
 * cached_version: the version of a well-formed entry (what decode() below
 * accepts: an object or null as item), else nil, so that garbage is replaced.
 * is_tombstone(key): the entry is a delete's tombstone ({"v":"<n>","item":null}).
 * lease_token: the item's token, or a fresh one when there is none or it is
 * not one of ours; a lease key of another type, or whose floor is unreadable,
 * is deleted first (the floor cannot order anything, and the next writer
 * would only overwrite it).
 */
const LUA_HELPERS = `
local function readable(v)
  return type(v) == 'string' and (v == '0' or string.match(v, '^[1-9]%d*$') ~= nil)
end
local function newer(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function cached_version(key)
  local raw = redis.pcall('GET', key)
  if type(raw) ~= 'string' then return nil end
  local version = string.match(raw, '^{"v":"(%d+)","item":[{n]')
  if readable(version) and pcall(cjson.decode, raw) then return version end
  return nil
end
local function tombstone_version(raw)
  return string.match(raw, '^{"v":"(%d+)","item":null}$') or string.match(raw, '^{"v":"(%d+)","item":null,"by":"%l+"}$')
end
local function is_tombstone(key)
  local raw = redis.pcall('GET', key)
  return type(raw) == 'string' and tombstone_version(raw) ~= nil
end
local function extend(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local function usable_lease(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', key) end
end
local function lease_token(key, candidate, ms)
  usable_lease(key)
  local floor = redis.call('HGET', key, 'floor')
  if floor and not readable(floor) then redis.call('DEL', key) end
  local token = redis.call('HGET', key, 'token')
  if not (token and #token <= 64 and string.match(token, '^[%w_-]+$')) then
    token = candidate
    redis.call('HSET', key, 'token', token)
  end
  extend(key, ms)
  return token
end
`;

/**
 * A hit returns the value (checked by the caller); a miss hands out the item's
 * current lease token, creating one if there is none. A value that cannot be
 * an entry (another type, over the size cap, not our envelope) is deleted and
 * reported as such (2), without sending it. So is a tombstone (a not-found of
 * a version above 0) without a floor at or above its version: a delete always
 * leaves both, and the lease key outlives the tombstone, so a lone one was
 * planted (or its floor evicted, and DynamoDB answers just as well).
 * KEYS: entry, lease. ARGV: candidate token, lease ms, size cap.
 */
const READ_SCRIPT = `${LUA_HELPERS}
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return {0, lease_token(KEYS[2], ARGV[1], tonumber(ARGV[2]))} end
if kind == 'string' and redis.call('STRLEN', KEYS[1]) <= tonumber(ARGV[3]) then
  local raw = redis.call('GET', KEYS[1])
  if string.sub(raw, 1, 6) == '{"v":"' then
    local dead = tombstone_version(raw)
    if dead == nil or dead == '0' then return {1, raw} end
    local floor = redis.pcall('HGET', KEYS[2], 'floor')
    if readable(dead) and readable(floor) and not newer(dead, floor) then return {1, raw} end
  end
end
redis.call('DEL', KEYS[1])
return {2, lease_token(KEYS[2], ARGV[1], tonumber(ARGV[2]))}
`;

/**
 * Drops a value the caller found unusable and hands out a lease, so that the
 * reader's fill replaces it. Deleting an entry never makes the cache staler:
 * the floor and the tokens live in the lease key.
 * KEYS: entry, lease. ARGV: candidate token, lease ms.
 */
const DISCARD_SCRIPT = `${LUA_HELPERS}
redis.call('DEL', KEYS[1])
return lease_token(KEYS[2], ARGV[1], tonumber(ARGV[2]))
`;

/** KEYS: lease. ARGV: candidate token, lease ms. */
const LEASE_SCRIPT = `${LUA_HELPERS}
return lease_token(KEYS[1], ARGV[1], tonumber(ARGV[2]))
`;

/**
 * A reader's fill: only with a token still in place (no write since it was
 * taken, and the lease was not expired, evicted or flushed), at or above the
 * floor, and when no entry of this version or newer is cached. A value that
 * does not decode counts as absent and is replaced.
 * KEYS: entry, lease. ARGV: token, version, payload, ttl s.
 */
const FILL_SCRIPT = `${LUA_HELPERS}
if redis.pcall('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
local floor = redis.call('HGET', KEYS[2], 'floor')
if floor and (not readable(floor) or newer(floor, ARGV[2])) then return 0 end
local current = cached_version(KEYS[1])
if current and not newer(ARGV[2], current) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
extend(KEYS[2], tonumber(ARGV[4]) * 1000)
return 1
`;

/**
 * A writer's refresh after DynamoDB committed: revoke every reader's token,
 * raise the floor (an unreadable one is overwritten), and store the entry
 * unless a newer one is cached. An older entry never survives a write: when
 * the floor is above this version (a newer write's entry was not stored, or
 * the floor is garbage), or the payload is empty (an entry over the size
 * cap), it is deleted instead. An entry of this very version is overwritten:
 * it can only hold this item, unless it is not ours. The lease key outlives
 * the entry (and at least a reader's lease), so the floor holds after the
 * entry is gone. A write below the floor or the cached entry is either late
 * or from a new life of a deleted id (versions restart at 1): it marks the
 * item mixed, which keeps a delete from storing a tombstone that could
 * outrank a newer life (see REMOVE_SCRIPT); a write that is stored clears it.
 * A newer item entry stays (a late write of the same life loses to it), but a
 * newer tombstone is dropped: a write after a delete is a create again, and
 * not-found must never outlive it (the floor still refuses older fills).
 * A write at or below the version the stream follower has already applied
 * (`sver`, see STREAM_SCRIPT) stores nothing: the stream's entry holds this
 * write or a later change of the same version (foreign writes keep it), and
 * only an entry older than the write is dropped.
 * KEYS: entry, lease. ARGV: version, payload, ttl s, lease ms.
 */
const PUT_SCRIPT = `${LUA_HELPERS}
usable_lease(KEYS[2])
redis.call('HDEL', KEYS[2], 'token')
local floor = redis.call('HGET', KEYS[2], 'floor')
if not readable(floor) then floor = nil end
if not floor or newer(ARGV[1], floor) then redis.call('HSET', KEYS[2], 'floor', ARGV[1]) end
extend(KEYS[2], math.max(tonumber(ARGV[3]) * 1000, tonumber(ARGV[4])))
local current = cached_version(KEYS[1])
local streamed = redis.call('HGET', KEYS[2], 'sver')
if readable(streamed) and not newer(ARGV[1], streamed) then
  if current and newer(ARGV[1], current) then redis.call('DEL', KEYS[1]) end
  return 0
end
if current and newer(current, ARGV[1]) then
  redis.call('HSET', KEYS[2], 'mixed', '1')
  if is_tombstone(KEYS[1]) then redis.call('DEL', KEYS[1]) end
  return 0
end
local below = floor and newer(floor, ARGV[1])
if below then redis.call('HSET', KEYS[2], 'mixed', '1') end
if below or ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HDEL', KEYS[2], 'mixed')
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

/**
 * A writer whose item has no usable version: revoke every reader's token and
 * drop the entry, in one step, so that neither the old entry nor a fill read
 * before the write can answer afterwards. The floor stays.
 * KEYS: entry, lease. ARGV: lease ms.
 */
const FORGET_SCRIPT = `${LUA_HELPERS}
usable_lease(KEYS[2])
redis.call('HDEL', KEYS[2], 'token')
if not readable(redis.call('HGET', KEYS[2], 'floor')) then redis.call('HDEL', KEYS[2], 'floor') end
if redis.call('EXISTS', KEYS[2]) == 1 then extend(KEYS[2], tonumber(ARGV[1])) end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * A deleter after DynamoDB committed the delete of an item whose last version
 * was V (ARGV[1] = V + 1, or '' when the item had no usable version): revoke
 * every reader's token, raise the floor to V + 1 (so that no fill of what was
 * read before the delete lands, even once the tombstone is gone) and store the
 * tombstone {"v":"V+1","item":null}, which answers not-found. Left alone: an
 * entry of version V + 1 or newer (the same tombstone resent, or a newer life
 * of the id already cached). Only dropped, not replaced by the tombstone, when
 * the floor was already above V + 1 or the item is mixed: a write below the
 * floor was seen, which may be a new life of the id (created again after the
 * delete committed, and cached before this script ran), and a tombstone must
 * never hide it. Without a version: drop the entry and raise the floor to at
 * least 1 (no not-found or unversioned fill, which is version 0), no tombstone.
 * The lease key lives max(TTL, lease) from now, at least as long as the tombstone.
 * KEYS: entry, lease. ARGV: tombstone version, tombstone payload, ttl s, lease ms.
 */
const REMOVE_SCRIPT = `${LUA_HELPERS}
usable_lease(KEYS[2])
redis.call('HDEL', KEYS[2], 'token')
local floor = redis.call('HGET', KEYS[2], 'floor')
if not readable(floor) then floor = nil end
local tombstone = ARGV[1]
if tombstone == '' then tombstone = '1' end
if not floor or newer(tombstone, floor) then redis.call('HSET', KEYS[2], 'floor', tombstone) end
extend(KEYS[2], math.max(tonumber(ARGV[3]) * 1000, tonumber(ARGV[4])))
local current = cached_version(KEYS[1])
if ARGV[1] ~= '' and current and not newer(ARGV[1], current) then return 0 end
if ARGV[1] == '' or (floor and newer(floor, ARGV[1])) or redis.call('HEXISTS', KEYS[2], 'mixed') == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

/**
 * The stream follower's change (see VersionedCache.applyChange): applied only
 * when newer than the item's last applied record (same shard and a higher
 * sequence number; another shard's record comes after its parent's, which the
 * follower finishes first), so a replay is a no-op. It revokes every reader's
 * token and records the sequence number, then stores the image, or drops the
 * entry: for a REMOVE, an image shopdb cannot cache (ARGV[5] empty), or an
 * image whose version is below the floor or the cached entry (an older record
 * than a shopdb write already cached, or a foreign write that moved the
 * version back: versions cannot tell, so neither is kept; the item is marked
 * mixed, as a write below the floor does) — unless the stream itself had
 * already shown versions up to the floor and the entry (`sver`, before this
 * record): then this later record moved the version back, and it is stored,
 * the floor lowered to it. A stored image raises the floor to its version.
 * The lease key lives at least ARGV[7] ms, the follower's horizon.
 * It keeps the highest item version the stream has shown (ARGV[8]: the new
 * image's, or a REMOVE's old image's; '' when unknown) in the lease hash as
 * `sver`, for PUT_SCRIPT.
 * Returns 1 stored, 2 dropped, 0 already applied.
 * KEYS: entry, lease. ARGV: shard, sequence, action, version, payload, ttl s, guard ms, record version.
 */
const STREAM_SCRIPT = `${LUA_HELPERS}
usable_lease(KEYS[2])
local floor = redis.call('HGET', KEYS[2], 'floor')
if floor and not readable(floor) then
  redis.call('HDEL', KEYS[2], 'floor')
  floor = nil
end
local seen = redis.call('HGET', KEYS[2], 'seq')
if redis.call('HGET', KEYS[2], 'shard') == ARGV[1] and readable(seen) and not newer(ARGV[2], seen) then return 0 end
redis.call('HDEL', KEYS[2], 'token')
redis.call('HSET', KEYS[2], 'shard', ARGV[1], 'seq', ARGV[2])
local streamed = redis.call('HGET', KEYS[2], 'sver')
if ARGV[8] ~= '' and (not readable(streamed) or newer(ARGV[8], streamed)) then redis.call('HSET', KEYS[2], 'sver', ARGV[8]) end
extend(KEYS[2], tonumber(ARGV[7]))
if ARGV[3] == 'store' and ARGV[5] ~= '' then
  local current = cached_version(KEYS[1])
  if not ((floor and newer(floor, ARGV[4])) or (current and newer(current, ARGV[4]))) then
    if not floor or newer(ARGV[4], floor) then redis.call('HSET', KEYS[2], 'floor', ARGV[4]) end
    redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[6])
    return 1
  end
  redis.call('HSET', KEYS[2], 'mixed', '1')
  -- Below the floor or the entry, but the stream had already shown those versions (an earlier record of
  -- it reached them): this later record moved the version back (a replace without it, a restore). Store
  -- it and lower the floor to it.
  if readable(streamed) and not (floor and newer(floor, streamed)) and not (current and newer(current, streamed)) then
    redis.call('HSET', KEYS[2], 'floor', ARGV[4])
    redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[6])
    return 1
  end
elseif ARGV[3] == 'drop' and ARGV[8] ~= '' and is_tombstone(KEYS[1]) then
  -- A shopdb delete's tombstone above the removed version already says not-found: keep it.
  local current = cached_version(KEYS[1])
  if current and newer(current, ARGV[8]) then return 2 end
end
redis.call('DEL', KEYS[1])
return 2
`;

/** SCAN's batch size for `flush`, and so the most keys one UNLINK removes. */
const FLUSH_BATCH = 500;

/** The least time between two new cluster clients made after failures. */
const CLUSTER_RENEW_MS = 1000;

/** Redis trouble may add at most about this much to a command before it falls back to DynamoDB. */
const TIMEOUT_MS = 300;

/**
 * The largest entry stored or used: five times DynamoDB's 400 KB item limit,
 * room for JSON's escapes and base64. An item whose entry would be larger is
 * simply not cached (its reads go to DynamoDB); a larger value found in Redis
 * is not ours and is dropped unread.
 */
export const MAX_ENTRY_BYTES = 5 * 400 * 1024;

/** The keys of one item; see the layout above. */
export function cacheKeys(ref: CacheRef): { entry: string; lease: string } {
  const tag = `${tablePrefix(ref.scope, ref.table)}${escape(ref.id, /[%{}]/g)}}`;
  return { entry: `${KEY_FORMAT}:${tag}`, lease: `${KEY_FORMAT}:${tag}:lease` };
}

/** What every key of one table in one scope starts with, after `shopdb:v2:`: `{<scope>:<table>:`, unambiguous since ':' is escaped in both. */
function tablePrefix(scope: string, table: string): string {
  return `{${escape(scope, /[%{}:]/g)}:${escape(table, /[%{}:]/g)}:`;
}

/**
 * The SCAN MATCH pattern of every key of one table in one scope: the literal
 * prefix, with the glob's special characters (`*`, `?`, `[`, `]`, `\`)
 * escaped by a backslash, then `*`.
 */
export function flushPattern(scope: string, table: string): string {
  return `${`${KEY_FORMAT}:${tablePrefix(scope, table)}`.replace(/[*?[\]\\]/g, (char) => `\\${char}`)}*`;
}

function escape(text: string, special: RegExp): string {
  return text.replace(special, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** What the commands below need, common to one Redis and a cluster client (which routes each command by its key's slot). */
type Commands = RedisCommander<{ type: 'default'; mapping: 'resp2' }>;

export interface RedisCacheOptions {
  /** The URL names one seed node of a Redis Cluster: the client learns the others from it, and its credentials and TLS apply to each. */
  cluster?: boolean;
}

export class RedisCache implements VersionedCache {
  private client: Redis | Cluster | undefined;
  /** When the cluster client was last given up after a failure (see run()). */
  private droppedAt = 0;
  private connecting: Promise<Redis | Cluster> | undefined;
  private readonly cluster: boolean;

  /** `location` is the URL without credentials: the only form that ever appears in messages. */
  readonly location: string;

  /** The database the URL names (config checked that it is a whole number). */
  private readonly database: number;

  /**
   * `commandTimeoutMs`: how long one command may take (default 300 ms, so that
   * Redis trouble costs a read little); an instance for `flush` on a large or
   * busy Redis is given more.
   */
  constructor(
    private readonly url: string,
    private readonly commandTimeoutMs = TIMEOUT_MS,
    options: RedisCacheOptions = {},
  ) {
    this.location = redact(url);
    this.database = databaseOf(url);
    this.cluster = options.cluster === true;
  }

  async read(ref: CacheRef, leaseSeconds: number, usable: (entry: CachedEntry) => boolean = () => true): Promise<CacheLookup> {
    const keys = cacheKeys(ref);
    const [found, value] = await this.run((redis) =>
      evalScript(redis, READ_SCRIPT, 2, keys.entry, keys.lease, newToken(), String(leaseSeconds * 1000), String(MAX_ENTRY_BYTES)),
    ) as [number, string];
    if (found === 0) return { hit: false, token: value };
    if (found === 2) return { hit: false, token: value, unusable: true };
    const entry = decode(value);
    if (entry && usable(entry)) return { hit: true, entry };
    // Not a shopdb entry: a miss, and the reader's fill (with a fresh lease) replaces it.
    const token = await this.run((redis) => evalScript(redis, DISCARD_SCRIPT, 2, keys.entry, keys.lease, newToken(), String(leaseSeconds * 1000)));
    return { hit: false, token: String(token), unusable: true };
  }

  async lease(ref: CacheRef, leaseSeconds: number): Promise<string> {
    return String(await this.run((redis) => evalScript(redis, LEASE_SCRIPT, 1, cacheKeys(ref).lease, newToken(), String(leaseSeconds * 1000))));
  }

  async fill(ref: CacheRef, entry: CachedEntry, token: string, ttlSeconds: number): Promise<boolean> {
    const keys = cacheKeys(ref);
    const payload = encode(entry);
    if (payload === '') return false;
    const stored = await this.run((redis) => evalScript(redis, FILL_SCRIPT, 2, keys.entry, keys.lease, token, versionText(entry.version), payload, String(ttlSeconds)));
    return stored === 1;
  }

  async put(ref: CacheRef, entry: CachedEntry, ttlSeconds: number, leaseSeconds: number): Promise<boolean> {
    const keys = cacheKeys(ref);
    const stored = await this.run((redis) =>
      evalScript(redis, PUT_SCRIPT, 2, keys.entry, keys.lease, versionText(entry.version), encode(entry), String(ttlSeconds), String(leaseSeconds * 1000)),
    );
    return stored === 1;
  }

  async forget(ref: CacheRef, leaseSeconds: number): Promise<void> {
    const keys = cacheKeys(ref);
    await this.run((redis) => evalScript(redis, FORGET_SCRIPT, 2, keys.entry, keys.lease, String(leaseSeconds * 1000)));
  }

  async remove(ref: CacheRef, deletedVersion: Version | null, ttlSeconds: number, leaseSeconds: number): Promise<boolean> {
    const keys = cacheKeys(ref);
    const tombstone = deletedVersion === null ? '' : (BigInt(versionText(deletedVersion)) + 1n).toString();
    const payload = tombstone === '' ? '' : encode({ version: BigInt(tombstone), item: null, by: 'delete' });
    const stored = await this.run((redis) =>
      evalScript(redis, REMOVE_SCRIPT, 2, keys.entry, keys.lease, tombstone, payload, String(ttlSeconds), String(leaseSeconds * 1000)),
    );
    return stored === 1;
  }

  async applyChange(ref: CacheRef, change: StreamChange, ttlSeconds: number, guardSeconds: number): Promise<ChangeOutcome> {
    const keys = cacheKeys(ref);
    const sequence = canonicalDigits(change.sequence, 'sequence number');
    const store = change.action === 'store' && change.entry !== undefined;
    const version = store && change.entry ? versionText(change.entry.version) : '0';
    const payload = store && change.entry ? encode({ ...change.entry, by: 'stream' }) : '';
    const outcome = await this.run((redis) =>
      evalScript(
        redis,
        STREAM_SCRIPT,
        2,
        keys.entry,
        keys.lease,
        change.shard,
        sequence,
        store ? 'store' : 'drop',
        version,
        payload,
        String(ttlSeconds),
        String(guardSeconds * 1000),
        change.version === undefined ? '' : versionText(change.version),
      ),
    );
    return outcome === 1 ? 'stored' : outcome === 2 ? 'dropped' : 'seen';
  }

  /**
   * SCAN with a MATCH of each table's literal key prefix, UNLINK of what it
   * returns (each key checked against the prefix once more), in batches of
   * FLUSH_BATCH; never FLUSHDB. On a cluster SCAN walks one node: every
   * master of the slot map is scanned on a connection of its own, and the
   * keys are unlinked one by one through the cluster client (a multi-key
   * UNLINK across slots is refused, and a key moved meanwhile is followed).
   * A master that cannot be reached fails the flush: its keys were not removed.
   */
  async flush(scope: string, tables: readonly string[]): Promise<number> {
    let removed = 0;
    const nodes = await this.flushTargets();
    try {
      // Every master first: a master that is down fails the flush before anything is removed.
      await Promise.all(nodes.map((node) => this.run(() => node.open(), node.location)));
      for (const node of nodes) {
        for (const table of tables) {
          const prefix = `${KEY_FORMAT}:${tablePrefix(scope, table)}`;
          const match = flushPattern(scope, table);
          let cursor = '0';
          do {
            const [next, found] = await this.run(() => node.client.scan(cursor, 'MATCH', match, 'COUNT', FLUSH_BATCH), node.location);
            cursor = next;
            const ours = found.filter((key) => key.startsWith(prefix));
            if (ours.length > 0) removed += await this.run((redis) => unlinkAll(redis, ours, this.cluster));
          } while (cursor !== '0');
        }
      }
    } finally {
      for (const node of nodes) node.close();
    }
    return removed;
  }

  /** One Redis: its client. A cluster: a connection to each master of the slot map (which the caller closes). */
  private async flushTargets(): Promise<Array<{ client: Commands; location: string; open(): Promise<void>; close(): void }>> {
    const client = await this.run(async (redis) => redis);
    if (!(client instanceof Cluster)) return [{ client: client as Commands, location: this.location, open: async () => {}, close: () => {} }];
    return masterKeys(client).map((key) => {
      const [host, port] = splitNodeKey(key);
      const node = new Redis({ ...this.nodeOptions(), host, port, lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
      let firstError: unknown;
      node.on('error', (error: unknown) => {
        firstError ??= error;
      });
      return {
        client: node,
        location: `the master ${key} of ${this.location}`,
        open: () => node.connect().catch((error: unknown) => Promise.reject(firstError ?? error)),
        close: () => node.disconnect(),
      };
    });
  }

  /** One Redis: PING. A cluster: PING on every master of the slot map, so that a master that is down shows. */
  async ping(): Promise<void> {
    const client = await this.run(async (redis) => redis);
    if (!(client instanceof Cluster)) {
      await this.run((redis) => redis.ping());
      return;
    }
    const connected = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    await Promise.all(
      masterKeys(client).map((key) => {
        const node = connected.get(key);
        if (!node) throw new ShopError('UNAVAILABLE', `Redis at ${this.location}: the master ${key} is not connected`);
        return this.run(() => node.ping(), `the master ${key} of ${this.location}`);
      }),
    );
  }

  /** Lets the process exit at once: no socket or reconnect timer is left behind. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    if (!client) return;
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  private async run<R>(command: (redis: Commands) => Promise<R>, location = this.location): Promise<R> {
    try {
      return await command((await this.connect()) as Commands);
    } catch (error) {
      // A cluster client can be left with a slot map or node connections that no longer work once a master
      // came back (a MOVED to it then fails for ever): after a failure the next command, at most once a
      // second, starts over with a new client, which asks for the slot map again.
      if (this.cluster && Date.now() - this.droppedAt >= CLUSTER_RENEW_MS) {
        this.droppedAt = Date.now();
        this.drop(this.client);
      }
      if (error instanceof ShopError) throw error;
      throw new ShopError('UNAVAILABLE', `Redis at ${location}: ${describe(error, this.cluster)}`, { cause: error });
    }
  }

  /**
   * One connection, opened on first use. ioredis is told never to reconnect
   * (a command must fail fast, not wait), so a connection that failed or died
   * is dropped here and the next command opens a new one: a long-lived
   * process gets its cache back once Redis does.
   */
  private connect(): Promise<Redis | Cluster> {
    const status = this.client?.status;
    if (status === 'end' || status === 'close') this.drop(this.client);
    if (this.connecting) return this.connecting;
    if (this.cluster) return this.connectCluster();

    // ioredis's defaults retry for over a minute and keep the process alive; fail fast instead.
    const client = new Redis(this.url, {
      // The URL's database is selected below, where a failure fails the connect: ioredis itself would
      // only emit an error and go on in database 0, another account's cache.
      db: 0,
      lazyConnect: true,
      connectTimeout: TIMEOUT_MS,
      commandTimeout: this.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      // Otherwise a socket that never connected holds the process open for 2 s after disconnect().
      disconnectTimeout: 50,
      // Commands issued in one tick (concurrent requests of a server) leave in one write: ~20% more cached reads/s in serve's bench.
      enableAutoPipelining: true,
    });
    // Without a listener ioredis would crash the process; the first error explains a failed connect better than "Connection is closed".
    let firstError: unknown;
    client.on('error', (error: unknown) => {
      firstError ??= error;
    });
    this.client = client;
    const connecting = client.connect().then(
      async () => {
        if (Number.isNaN(this.database)) throw new Error('the database in the URL is not a whole number');
        if (this.database !== 0) await client.select(this.database);
        await refuseClusterNode(client);
        return client;
      },
      async (error: unknown) => {
        this.drop(client);
        const cause = firstError ?? error;
        // A TLS hello to a plain Redis gets no answer at all: tell that from a host that is not there.
        if ((cause as { code?: unknown }).code === 'ETIMEDOUT' && this.url.startsWith('rediss:') && (await answersPlainRedis(this.url))) {
          throw new Error('does not speak TLS (it answers plain Redis; use redis://)', { cause });
        }
        throw cause;
      },
    );
    this.connecting = connecting;
    return connecting;
  }

  /**
   * A cluster client, as fail-fast as the single connection above: no
   * offline queue, no reconnect of the cluster or of a node (a node whose
   * connection died is dropped, and a MOVED to it, or the next refresh of
   * the slot map, opens a new one), a connection closed under a command or
   * a CLUSTERDOWN fails the command at once rather than after retries, and
   * few redirections. MOVED and ASK are followed by ioredis. A dropped
   * cluster client is replaced on the next command, as a single one is.
   * Resolves once the slot map is known and every master's connection is
   * open (a master that is down does not hold the others up: its commands
   * fail), so that a burst of commands does not find a node connecting.
   */
  private connectCluster(): Promise<Cluster> {
    if (this.database !== 0) return Promise.reject(new Error('a Redis Cluster has only database 0'));
    const seed = new URL(this.url);
    const [host, port] = [seed.hostname.replace(/^\[|\]$/g, ''), Number(seed.port || 6379)];
    const client = new Cluster([{ host, port }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      // ioredis's ready check asks CLUSTER INFO of a random node, maybe the one master that is down, and then
      // gives up the whole client: a cluster whose state is fail answers CLUSTERDOWN to each command instead.
      enableReadyCheck: false,
      clusterRetryStrategy: () => null,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 20,
      maxRedirections: 5,
      slotsRefreshTimeout: Math.max(TIMEOUT_MS, this.commandTimeoutMs),
      enableAutoPipelining: true,
      // Nodes keep the names the seed and CLUSTER SLOTS give: a TLS certificate names the host (ElastiCache
      // announces hostnames with TLS), and ioredis would otherwise connect to the address it resolved.
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: this.nodeOptions(),
    });
    let firstError: unknown;
    const remember = (error: unknown) => {
      firstError ??= error;
    };
    client.on('error', remember);
    client.on('node error', remember);
    this.client = client;
    // ioredis waits for ever on a slot map that names no usable node (a lone node that never learnt its own
    // address announces none): the connect, slot map included, gets the time of two round trips of commands.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the cluster gave no usable slot map in time (does every node announce its address?)')), 2 * Math.max(TIMEOUT_MS, this.commandTimeoutMs));
    });
    const connecting = Promise.race([client.connect(), deadline]).finally(() => clearTimeout(timer)).then(
      async () => {
        await Promise.allSettled(client.nodes('master').map((node) => (node.status === 'wait' ? node.connect() : undefined)));
        return client;
      },
      async (error: unknown) => {
        this.drop(client);
        throw await this.clusterConnectError(firstError ?? error);
      },
    );
    this.connecting = connecting;
    return connecting;
  }

  /**
   * Why a cluster client could not start. ioredis reports a seed it could
   * not ask for the slot map as "Connection is closed." or "None of startup
   * nodes is available": the seed is then asked again on a single
   * connection, whose error says why (connection refused, authentication,
   * TLS), as it does without cluster mode.
   */
  private async clusterConnectError(error: unknown): Promise<unknown> {
    const cause = (error as { lastNodeError?: unknown }).lastNodeError ?? error;
    const message = cause instanceof Error ? cause.message : String(cause);
    if (/cluster support disabled/i.test(message)) {
      return new Error('is not a Redis Cluster (cluster support is disabled there); turn cluster mode off to use it as one Redis', { cause });
    }
    const seed = new URL(this.url);
    const probe = new Redis({
      ...this.nodeOptions(),
      host: seed.hostname.replace(/^\[|\]$/g, ''),
      port: Number(seed.port || 6379),
      lazyConnect: true,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    let probeError: unknown;
    probe.on('error', (failure: unknown) => {
      probeError ??= failure;
    });
    try {
      await probe.connect();
      await probe.ping();
      return cause;
    } catch (failure) {
      const reason = probeError ?? failure;
      if ((reason as { code?: unknown }).code === 'ETIMEDOUT' && this.url.startsWith('rediss:') && (await answersPlainRedis(this.url))) {
        return new Error('does not speak TLS (it answers plain Redis; use redis://)', { cause: reason });
      }
      return reason;
    } finally {
      probe.disconnect();
    }
  }

  /** Each cluster node's connection options: the URL's credentials and TLS, and the single connection's timeouts. */
  private nodeOptions(): RedisOptions {
    const seed = new URL(this.url);
    return {
      username: seed.username === '' ? undefined : decodeURIComponent(seed.username),
      password: seed.password === '' ? undefined : decodeURIComponent(seed.password),
      tls: seed.protocol === 'rediss:' ? {} : undefined,
      connectTimeout: TIMEOUT_MS,
      commandTimeout: this.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      disconnectTimeout: 50,
      enableAutoPipelining: true,
    };
  }

  private drop(client: Redis | Cluster | undefined): void {
    if (!client || client !== this.client) return;
    this.client = undefined;
    this.connecting = undefined;
    client.disconnect();
  }
}

/** NaN when the URL names something else: the connect then fails (ioredis would SELECT NaN after the fact). */
function databaseOf(url: string): number {
  try {
    const path = new URL(url).pathname.replace(/^\//, '');
    return path === '' ? 0 : /^\d+$/.test(path) ? Number(path) : Number.NaN;
  } catch {
    return 0;
  }
}

/** Each script's SHA-1, for EVALSHA. */
const SCRIPT_SHAS = new Map<string, string>();

/**
 * Runs a script by its SHA-1 (EVALSHA), sending its text (EVAL) only when
 * Redis does not know it yet (NOSCRIPT: first use, a restart, SCRIPT FLUSH):
 * a read then sends ~100 bytes rather than the script's few KB, and Redis does
 * not hash the script again on every call.
 */
async function evalScript(redis: Commands, script: string, keys: number, ...args: string[]): Promise<unknown> {
  let sha = SCRIPT_SHAS.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    SCRIPT_SHAS.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, keys, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return redis.eval(script, keys, ...args);
  }
}

/** One UNLINK of every key on one Redis; on a cluster one per key (keys of several slots), sent together. */
async function unlinkAll(redis: Commands, keys: string[], cluster: boolean): Promise<number> {
  if (!cluster) return redis.unlink(...keys);
  const counts = await Promise.all(keys.map((key) => redis.unlink(key)));
  return counts.reduce((sum, count) => sum + count, 0);
}

/** "host:port" of each master that the cluster client's slot map names, each once. */
function masterKeys(cluster: Cluster): string[] {
  return [...new Set(cluster.slots.map((owners) => owners[0]).filter((key): key is string => key !== undefined))];
}

function splitNodeKey(key: string): [string, number] {
  const colon = key.lastIndexOf(':');
  return [key.slice(0, colon), Number(key.slice(colon + 1))];
}

/**
 * A node of a Redis Cluster given as one Redis: commands for the slots of the
 * other nodes would be refused (MOVED) and, worse, writes that the cluster's
 * other clients rely on would not reach the item's node. Refused at connect,
 * with one clear message. A server that does not answer INFO (a proxy) is
 * taken as it is.
 */
async function refuseClusterNode(client: Redis): Promise<void> {
  const info = await client.info('cluster').catch(() => '');
  if (/^cluster_enabled:1\s*$/m.test(info)) throw new Error('is a Redis Cluster node; turn cluster mode on to use it');
}

function newToken(): string {
  return randomBytes(12).toString('base64url');
}

/** A stream sequence number without its leading zeros (DynamoDB Local pads them to 21 digits), as the scripts compare them. */
function canonicalDigits(text: string, what: string): string {
  if (!/^\d{1,64}$/.test(text)) throw new ShopError('INTERNAL', `a stream record's ${what} is not a decimal number: ${text.slice(0, 70)}`);
  return BigInt(text).toString();
}

function versionText(version: Version): string {
  return typeof version === 'bigint' ? version.toString() : BigInt(Math.trunc(version)).toString();
}

function parseVersion(text: string): Version {
  const version = BigInt(text);
  return version <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(version) : version;
}

/*
 * JSON has no bigint. A bigint is written as {"$bigint":"<digits>"}, and a key
 * that starts with '$' gets one more '$' in front, so that no item's own data
 * can pass for a bigint: the round trip is exact for any item.
 */
const BIGINT = '$bigint';

function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return { [BIGINT]: value.toString() };
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.startsWith('$') ? `$${key}` : key, toJson(inner)]));
  }
  return value;
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    const [only] = entries;
    if (entries.length === 1 && only?.[0] === BIGINT && typeof only[1] === 'string' && /^-?\d+$/.test(only[1])) return BigInt(only[1]);
    return Object.fromEntries(entries.map(([key, inner]) => [key.startsWith('$') ? key.slice(1) : key, fromJson(inner)]));
  }
  return value;
}

/** The stored form; empty when over MAX_ENTRY_BYTES (such an entry is not cached). */
function encode(entry: CachedEntry): string {
  const text = JSON.stringify({ v: versionText(entry.version), item: toJson(entry.item), ...(entry.by ? { by: entry.by } : {}) });
  return Buffer.byteLength(text) > MAX_ENTRY_BYTES ? '' : text;
}

const ENTRY_SOURCES: readonly unknown[] = ['write', 'delete', 'stream', 'fill'] satisfies EntrySource[];

function isEntrySource(value: unknown): value is EntrySource {
  return ENTRY_SOURCES.includes(value);
}

function decode(raw: string): CachedEntry | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { v, item, by } = value as { v?: unknown; item?: unknown; by?: unknown };
    if (typeof v !== 'string' || !/^(0|[1-9]\d*)$/.test(v) || typeof item !== 'object' || Array.isArray(item)) return undefined;
    return { version: parseVersion(v), item: fromJson(item), ...(isEntrySource(by) ? { by } : {}) };
  } catch {
    return undefined;
  }
}

/** Whether host:port of the URL answers a plain-text PING as Redis does (+PONG, or -NOAUTH and the like), within the timeout. */
function answersPlainRedis(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const socket = createConnection({ host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379) });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(/^[+-]/.test(data.toString('latin1', 0, 1))));
  });
}

function describe(error: unknown, cluster = false): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) return 'authentication failed (check the password in the URL)';
  if (/DB index is out of range|invalid DB index/i.test(message)) return 'the database in the URL does not exist there (the server has fewer; see its "databases" setting)';
  if (/Unknown RESP type|Protocol error/i.test(message)) return 'is not a Redis server (it answered in another protocol)';
  if (/^(MOVED|ASK) \d+ /.test(message) && cluster) return `a key's slot is served elsewhere, and that node could not be reached (${message.slice(0, 60)})`;
  if (/^(MOVED|ASK) \d+ /.test(message)) return 'is a Redis Cluster node (it redirected a key to another node); turn cluster mode on to use it';
  if (/^CLUSTERDOWN/.test(message)) return 'the Redis Cluster is down (CLUSTERDOWN)';
  if (message === 'Connection is closed.') return 'the connection is closed (the node is down, or was reached and then lost)';
  if (/wrong version number|ERR_SSL_|packet length too long|unknown protocol/i.test(message) || String(code).startsWith('ERR_SSL_')) {
    return 'does not speak TLS (use redis:// for a plain-text Redis)';
  }
  return message.split('\n')[0] ?? message;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'the configured Redis URL';
  }
}
