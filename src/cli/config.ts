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
  redisCluster?: boolean;
}

export interface CacheConfig {
  /** May hold a password: never print it; RedisCache.location is the printable form. */
  url: string;
  ttlSeconds: number;
  /** `--cache`: answer reads from Redis. Writes refresh it whenever a URL is configured. */
  readThrough: boolean;
  /** `--redis-cluster`: the URL names one seed node of a Redis Cluster (its credentials and TLS apply to every node). */
  cluster: boolean;
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
  /** The cache TTL as resolved (and checked) even when no cache is configured: `cache.ttlSeconds` when there is one. */
  cacheTtlSeconds: number;
  /** `--redis-cluster` / SHOPDB_REDIS_CLUSTER as resolved (and checked) even when no cache is configured: `cache.cluster` when there is one. */
  redisCluster: boolean;
  /** Where each setting came from, for `config show`: "flag --endpoint", "env SHOPDB_ENDPOINT", "default", … */
  sources: ConfigSources;
}

export interface ConfigSources {
  endpoint: string;
  region: string;
  credentials: string;
  tablePrefix: string;
  output: string;
  color: string;
  verbose: string;
  timeout: string;
  cacheUrl: string;
  cacheTtl: string;
  cacheReads: string;
  cacheCluster: string;
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
  const { value: endpoint, source: endpointSource } = first(
    [flags.endpoint, 'flag --endpoint'],
    [env.SHOPDB_ENDPOINT, 'env SHOPDB_ENDPOINT'],
    [env.AWS_ENDPOINT_URL_DYNAMODB, 'env AWS_ENDPOINT_URL_DYNAMODB'],
    [env.AWS_ENDPOINT_URL, 'env AWS_ENDPOINT_URL'],
    [undefined, "SDK default (the region's AWS endpoint)"],
  );
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const loopback = endpoint !== undefined && isLoopback(endpoint);
  const { value: region, source: regionSource } = first(
    [flags.region, 'flag --region'],
    [env.SHOPDB_REGION, 'env SHOPDB_REGION'],
    [env.AWS_REGION, 'env AWS_REGION'],
    [loopback ? 'us-east-1' : undefined, 'default for a loopback endpoint'],
    [undefined, "SDK default (the AWS profile's config file)"],
  );
  if (region !== undefined && !/^[a-z0-9-]{1,50}$/.test(region)) throw badInput('region', `${quote(region)} is not a region name, e.g. us-east-1`);
  const credentialsConfigured =
    env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined || env.AWS_WEB_IDENTITY_TOKEN_FILE !== undefined || env.AWS_CONTAINER_CREDENTIALS_FULL_URI !== undefined || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI !== undefined || hasAwsFile;
  const staticCredentials = loopback && !credentialsConfigured ? LOCAL_CREDENTIALS : undefined;
  const prefix = first([flags.tablePrefix, 'flag --table-prefix'], [env.SHOPDB_TABLE_PREFIX, 'env SHOPDB_TABLE_PREFIX'], ['', 'default (no prefix)']);
  const timeout = first([flags.timeout, 'flag --timeout'], [env.SHOPDB_TIMEOUT, 'env SHOPDB_TIMEOUT'], [undefined, 'default']);

  return {
    endpoint,
    region,
    tablePrefix: checkedPrefix(prefix.value ?? ''),
    output: outputMode(flags, env, stdoutIsTty),
    color: useColour(flags, env, stdoutIsTty),
    verbose: flags.verbose === true || isTruthy(env.SHOPDB_VERBOSE),
    timeoutMs: parseTimeout(timeout.value, timeout.source === 'env SHOPDB_TIMEOUT' ? 'SHOPDB_TIMEOUT' : 'timeout'),
    staticCredentials,
    location: endpoint ?? `DynamoDB in ${region ?? 'the configured region'}`,
    cache: resolveCache(flags, env),
    cacheTtlSeconds: cacheTtl(flags, env),
    redisCluster: redisCluster(flags, env),
    sources: {
      endpoint: endpointSource,
      region: regionSource,
      credentials: describeCredentials(env, staticCredentials !== undefined, hasAwsFile ? 'the AWS shared credentials/config file' : undefined),
      tablePrefix: prefix.source,
      output: outputSource(flags, env, stdoutIsTty),
      color: colourSource(flags, env, stdoutIsTty),
      verbose: flags.verbose === true ? 'flag --verbose' : isTruthy(env.SHOPDB_VERBOSE) ? 'env SHOPDB_VERBOSE' : 'default',
      timeout: timeout.source,
      ...cacheSources(flags, env),
    },
  };
}

/** The first candidate that is set, with where it came from; the last one is the fallback. */
function first(...candidates: Array<[string | undefined, string]>): { value: string | undefined; source: string } {
  const found = candidates.find(([value]) => value !== undefined) ?? candidates.at(-1) ?? [undefined, 'default'];
  return { value: found[0], source: found[1] };
}

/**
 * Which credentials the SDK will use, in its own order (never the secret):
 * AWS_PROFILE (it then skips the environment's keys), the environment's
 * keys, shopdb's dummy keys for a loopback endpoint, the default profile of
 * the shared files (`awsFile` names the one that exists), a web identity
 * token, a container's credentials, else the rest of the SDK's chain.
 * `env` has empty values removed, as resolveConfig sees it.
 */
export function describeCredentials(env: Env, localDefaults: boolean, awsFile: string | undefined): string {
  if (env.AWS_PROFILE !== undefined) return `profile ${env.AWS_PROFILE} (env AWS_PROFILE)`;
  if (env.AWS_ACCESS_KEY_ID !== undefined) {
    return env.AWS_SECRET_ACCESS_KEY === undefined ? 'env AWS_ACCESS_KEY_ID, but AWS_SECRET_ACCESS_KEY is not set (the SDK skips them)' : 'env AWS_ACCESS_KEY_ID';
  }
  if (localDefaults) return 'local defaults for a loopback endpoint';
  if (awsFile !== undefined) return `profile default (${awsFile})`;
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE !== undefined) return 'web identity token (env AWS_WEB_IDENTITY_TOKEN_FILE)';
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI !== undefined) return 'container credentials (env AWS_CONTAINER_CREDENTIALS_FULL_URI)';
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI !== undefined) return 'container credentials (env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)';
  return 'SDK default chain (e.g. instance metadata)';
}

/** A Redis URL that can be printed: the password, if any, replaced by ***. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    return `${parsed.protocol}//${parsed.username}:***@${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

function outputSource(flags: GlobalOptions, env: Env, stdoutIsTty: boolean): string {
  if (flags.json) return 'flag --json';
  if (flags.output !== undefined) return 'flag --output';
  if (env.SHOPDB_OUTPUT !== undefined) return 'env SHOPDB_OUTPUT';
  return stdoutIsTty ? 'default (stdout is a terminal)' : 'default (stdout is not a terminal)';
}

function colourSource(flags: GlobalOptions, env: Env, stdoutIsTty: boolean): string {
  if (flags.color === false) return 'flag --no-color';
  if (env.NO_COLOR !== undefined) return 'env NO_COLOR';
  if (env.SHOPDB_NO_COLOR !== undefined) return 'env SHOPDB_NO_COLOR';
  if (!stdoutIsTty) return 'default (stdout is not a terminal)';
  return env.TERM === 'dumb' ? 'env TERM=dumb' : 'default (stdout is a terminal)';
}

function cacheSources(flags: GlobalOptions, env: Env): Pick<ConfigSources, 'cacheUrl' | 'cacheTtl' | 'cacheReads' | 'cacheCluster'> {
  return {
    cacheUrl: first(
      [flags.redisUrl, 'flag --redis-url'],
      [env.SHOPDB_REDIS_URL, 'env SHOPDB_REDIS_URL'],
      [env.REDIS_URL, 'env REDIS_URL'],
      [flags.cache ? DEFAULT_REDIS_URL : undefined, 'default (flag --cache)'],
      [undefined, 'not set: no cache'],
    ).source,
    cacheTtl: first([flags.cacheTtl, 'flag --cache-ttl'], [env.SHOPDB_CACHE_TTL, 'env SHOPDB_CACHE_TTL'], [undefined, 'default']).source,
    cacheReads: flags.cache === true ? 'flag --cache' : 'default (off: reads go to DynamoDB)',
    cacheCluster: flags.redisCluster === true ? 'flag --redis-cluster' : env.SHOPDB_REDIS_CLUSTER !== undefined ? 'env SHOPDB_REDIS_CLUSTER' : 'default (off: one Redis)',
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

function cacheTtl(flags: GlobalOptions, env: Env): number {
  const ttlText = flags.cacheTtl ?? env.SHOPDB_CACHE_TTL;
  const ttlSeconds = ttlText === undefined ? DEFAULT_CACHE_TTL_SECONDS : Number(ttlText);
  if (ttlText !== undefined && (!/^\d+$/.test(ttlText) || ttlSeconds < 1 || ttlSeconds > 2_592_000)) {
    throw badInput('cache-ttl', 'use a whole number of seconds from 1 to 2592000 (30 days)');
  }
  return ttlSeconds;
}

function resolveCache(flags: GlobalOptions, env: Env): CacheConfig | undefined {
  const url = flags.redisUrl ?? env.SHOPDB_REDIS_URL ?? env.REDIS_URL ?? (flags.cache ? DEFAULT_REDIS_URL : undefined);
  const ttlSeconds = cacheTtl(flags, env);
  // Checked even without a URL: a mistyped value is reported wherever it is set.
  const cluster = redisCluster(flags, env);
  if (url === undefined) return undefined;
  const source = flags.redisUrl !== undefined ? '--redis-url' : env.SHOPDB_REDIS_URL !== undefined ? 'SHOPDB_REDIS_URL' : 'REDIS_URL';
  checkRedisUrl(url, source);
  if (cluster && Number(new URL(url).pathname.replace(/^\//, '') || '0') !== 0) {
    throw badInput(source, 'names a database other than 0, and a Redis Cluster has only database 0; drop the /<db> after the port');
  }
  return { url, ttlSeconds, readThrough: flags.cache === true, cluster };
}

/** `--redis-cluster`, else SHOPDB_REDIS_CLUSTER: true/false/1/0 (any case), else off. */
export function redisCluster(flags: GlobalOptions, env: Env): boolean {
  if (flags.redisCluster === true) return true;
  const text = env.SHOPDB_REDIS_CLUSTER;
  if (text === undefined) return false;
  const value = text.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badInput('SHOPDB_REDIS_CLUSTER', `${quote(text, 20)} is not a switch; use true, false, 1 or 0`);
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

/** `field` names where the value came from: the flag (`timeout`) or the variable (`SHOPDB_TIMEOUT`). */
function parseTimeout(text: string | undefined, field: string): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.5 || seconds > 600) throw badInput(field, 'use a number of seconds from 0.5 to 600');
  return Math.round(seconds * 1000);
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
