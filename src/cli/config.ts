import { isLoopbackHost } from '../core/endpoints.js';
import { badInput } from '../core/errors.js';
import { tableNames } from '../core/tables.js';
import { quote } from '../core/validate.js';

/** Options every command accepts, as commander hands them over (strings, unvalidated). */
export interface GlobalOptions {
  endpoint?: string;
  region?: string;
  tablePrefix?: string;
  json?: boolean;
  output?: string;
  verbose?: boolean;
  color?: boolean;
  timeout?: string;
  cache?: boolean;
  cacheTtl?: string;
  redisUrl?: string;
}

export interface CacheConfig {
  /** May hold a password: never print it; RedisCache.location is the printable form. */
  url: string;
  ttlSeconds: number;
  /** `--cache`: answer reads from Redis. Writes refresh it whenever a URL is configured. */
  readThrough: boolean;
}

export interface Config {
  /** Absent: the AWS SDK resolves the endpoint itself. */
  endpoint: string | undefined;
  region: string | undefined;
  tablePrefix: string;
  output: 'json' | 'table';
  color: boolean;
  verbose: boolean;
  timeoutMs: number;
  /** Dummy keys for a loopback endpoint when nothing else is configured. */
  staticCredentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Where DynamoDB is, for messages. */
  location: string;
  cache: CacheConfig | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_TIMEOUT_SECONDS = 10;
const LOCAL_CREDENTIALS = { accessKeyId: 'shopdblocal', secretAccessKey: 'shopdblocal' };

/**
 * One precedence for every setting: command-line flag, then SHOPDB_* variable,
 * then the AWS SDK's standard configuration (which it reads itself), then a
 * default. `hasAwsFile` tells whether ~/.aws/credentials or config exists.
 */
export function resolveConfig(flags: GlobalOptions, rawEnv: Env, stdoutIsTty: boolean, hasAwsFile: boolean): Config {
  // A variable set to the empty string counts as unset, as most shells' users expect.
  const env: Env = Object.fromEntries(Object.entries(rawEnv).filter(([, value]) => value !== ''));
  const endpoint = flags.endpoint ?? env.SHOPDB_ENDPOINT ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const loopback = endpoint !== undefined && isLoopback(endpoint);
  const region = flags.region ?? env.SHOPDB_REGION ?? env.AWS_REGION ?? (loopback ? 'us-east-1' : undefined);
  if (region !== undefined && !/^[a-z0-9-]{1,50}$/.test(region)) throw badInput('region', `${quote(region)} is not a region name, e.g. us-east-1`);
  const credentialsConfigured =
    env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined || env.AWS_WEB_IDENTITY_TOKEN_FILE !== undefined || env.AWS_CONTAINER_CREDENTIALS_FULL_URI !== undefined || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI !== undefined || hasAwsFile;

  return {
    endpoint,
    region,
    tablePrefix: checkedPrefix(flags.tablePrefix ?? env.SHOPDB_TABLE_PREFIX ?? ''),
    output: outputMode(flags, env, stdoutIsTty),
    color: useColour(flags, env, stdoutIsTty),
    verbose: flags.verbose === true || isTruthy(env.SHOPDB_VERBOSE),
    timeoutMs: parseTimeout(flags.timeout ?? env.SHOPDB_TIMEOUT),
    staticCredentials: loopback && !credentialsConfigured ? LOCAL_CREDENTIALS : undefined,
    location: endpoint ?? `DynamoDB in ${region ?? 'the configured region'}`,
    cache: resolveCache(flags, env),
  };
}

/**
 * Colour only for a person at a terminal that can show it: not with
 * --no-color, NO_COLOR or SHOPDB_NO_COLOR (any non-empty value), not when
 * stdout is piped, and not on TERM=dumb, which understands no escape codes.
 */
function useColour(flags: GlobalOptions, env: Env, stdoutIsTty: boolean): boolean {
  if (flags.color === false || env.NO_COLOR !== undefined || env.SHOPDB_NO_COLOR !== undefined) return false;
  return stdoutIsTty && env.TERM !== 'dumb';
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const DEFAULT_CACHE_TTL_SECONDS = 300;

function resolveCache(flags: GlobalOptions, env: Env): CacheConfig | undefined {
  const url = flags.redisUrl ?? env.SHOPDB_REDIS_URL ?? env.REDIS_URL ?? (flags.cache ? DEFAULT_REDIS_URL : undefined);
  const ttlText = flags.cacheTtl ?? env.SHOPDB_CACHE_TTL;
  const ttlSeconds = ttlText === undefined ? DEFAULT_CACHE_TTL_SECONDS : Number(ttlText);
  if (ttlText !== undefined && (!/^\d+$/.test(ttlText) || ttlSeconds < 1 || ttlSeconds > 2_592_000)) {
    throw badInput('cache-ttl', 'use a whole number of seconds from 1 to 2592000 (30 days)');
  }
  if (url === undefined) return undefined;
  checkRedisUrl(url, flags.redisUrl !== undefined ? '--redis-url' : env.SHOPDB_REDIS_URL !== undefined ? 'SHOPDB_REDIS_URL' : 'REDIS_URL');
  return { url, ttlSeconds, readThrough: flags.cache === true };
}

/**
 * Refuses what ioredis would misread rather than reject: a db path that is
 * not a number (it sends SELECT NaN after the command succeeded), query
 * parameters (ioredis takes them as client options; `?password=` among them
 * is not the password), a URL without a host. The URL is never echoed: it may
 * carry a password.
 */
function checkRedisUrl(url: string, source: string): void {
  const usage = 'use redis://[[user]:password@]host[:port][/db] or rediss:// for TLS';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badInput(source, `is not a URL; ${usage}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw badInput(source, `has the scheme ${parsed.protocol.slice(0, 20)}; ${usage}`);
  if (parsed.hostname === '') throw badInput(source, `names no host; ${usage}`);
  if (parsed.search !== '' || parsed.hash !== '') throw badInput(source, `must not have a ?query or #fragment (a password goes before the host); ${usage}`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,9}$/.test(db)) throw badInput(source, `the database after the port must be a whole number from 0 (the path is ${quote(db, 20)}); ${usage}`);
}

function checkedPrefix(prefix: string): string {
  tableNames(prefix);
  return prefix;
}

function outputMode(flags: GlobalOptions, env: Env, stdoutIsTty: boolean): 'json' | 'table' {
  if (flags.json && flags.output !== undefined && flags.output !== 'json') throw badInput('output', '--json and --output table contradict each other');
  if (flags.json) return 'json';
  const requested = flags.output ?? env.SHOPDB_OUTPUT;
  if (requested !== undefined && requested !== 'json' && requested !== 'table') throw badInput('output', 'use json or table');
  return requested ?? (stdoutIsTty ? 'table' : 'json');
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    // Not echoed: a mistyped URL may still carry credentials.
    throw badInput('endpoint', 'is not a URL; use e.g. http://127.0.0.1:8000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badInput('endpoint', 'use an http:// or https:// URL');
  if (url.username || url.password) throw badInput('endpoint', 'must not hold credentials; use the AWS credential chain');
}

function isLoopback(endpoint: string): boolean {
  return isLoopbackHost(new URL(endpoint).hostname);
}

function parseTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.5 || seconds > 600) throw badInput('timeout', 'use a number of seconds from 0.5 to 600');
  return Math.round(seconds * 1000);
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
