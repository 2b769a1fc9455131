import { Redis } from 'ioredis';
import type { CachedEntry, VersionedCache } from '../core/cache.js';
import { ShopError } from '../core/errors.js';

/**
 * Stores the entry unless the key already holds this version or a newer one.
 * A value that does not decode (garbage, another program's data) counts as
 * absent and is replaced. Runs atomically inside Redis.
 */
const OFFER_SCRIPT = `
local current = redis.pcall('GET', KEYS[1])
if type(current) == 'string' then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and type(decoded.v) == 'number'
    and (type(decoded.item) == 'table' or decoded.item == cjson.null)
    and decoded.v >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

/** Redis trouble may add at most about this much to a command before it falls back to DynamoDB. */
const TIMEOUT_MS = 300;

export class RedisCache implements VersionedCache {
  private client: Redis | undefined;
  private connecting: Promise<Redis> | undefined;

  /** `location` is the URL without credentials: the only form that ever appears in messages. */
  readonly location: string;

  constructor(private readonly url: string) {
    this.location = redact(url);
  }

  async read(key: string): Promise<CachedEntry | undefined> {
    // A key of another type (another program's data) is a miss; the next offer replaces it.
    const raw = await this.run((redis) => redis.get(key).catch((error: unknown) => (isWrongType(error) ? null : Promise.reject(error))));
    return raw === null ? undefined : decode(raw);
  }

  async offer(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void> {
    const payload = JSON.stringify({ v: entry.version, item: entry.item });
    await this.run((redis) => redis.eval(OFFER_SCRIPT, 1, key, String(entry.version), payload, String(ttlSeconds)));
  }

  /** Lets the process exit at once: no socket or reconnect timer is left behind. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  private async run<R>(command: (redis: Redis) => Promise<R>): Promise<R> {
    try {
      return await command(await this.connect());
    } catch (error) {
      throw new ShopError('UNAVAILABLE', `Redis at ${this.location}: ${describe(error)}`, { cause: error });
    }
  }

  private connect(): Promise<Redis> {
    this.connecting ??= (async () => {
      // ioredis's defaults retry for over a minute and keep the process alive; fail fast instead.
      const client = new Redis(this.url, {
        lazyConnect: true,
        connectTimeout: TIMEOUT_MS,
        commandTimeout: TIMEOUT_MS,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        // Otherwise a socket that never connected holds the process open for 2 s after disconnect().
        disconnectTimeout: 50,
      });
      // Without a listener ioredis would crash the process; the first error explains a failed connect better than "Connection is closed".
      let firstError: unknown;
      client.on('error', (error: unknown) => {
        firstError ??= error;
      });
      this.client = client;
      try {
        await client.connect();
      } catch (error) {
        throw firstError ?? error;
      }
      return client;
    })();
    return this.connecting;
  }
}

function decode(raw: string): CachedEntry | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { v, item } = value as { v?: unknown; item?: unknown };
    if (typeof v !== 'number' || typeof item !== 'object' || Array.isArray(item)) return undefined;
    return { version: v, item };
  } catch {
    return undefined;
  }
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) return 'authentication failed (check the password in the URL)';
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
