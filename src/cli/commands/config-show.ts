import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { tableNames } from '../../core/tables.js';
import { describeCredentials, redactedRedisUrl, type Env } from '../config.js';
import type { CommandContext } from '../context.js';

interface Setting<T> {
  value: T;
  source: string;
}

/** The printed shape: every setting with where it came from; never a secret. */
export interface ConfigReport {
  endpoint: Setting<string | null>;
  region: Setting<string | null>;
  credentials: Setting<string | null>;
  tablePrefix: Setting<string>;
  ordersTable: Setting<string>;
  cartsTable: Setting<string>;
  idempotencyTable: Setting<string>;
  output: Setting<'json' | 'table'>;
  color: Setting<boolean>;
  verbose: Setting<boolean>;
  timeoutSeconds: Setting<number>;
  cacheUrl: Setting<string | null>;
  cacheTtlSeconds: Setting<number>;
  cacheReads: Setting<boolean>;
  cacheCluster: Setting<boolean>;
}

/**
 * `config show`: the settings every other command would use, as resolveConfig
 * resolved them, each with its source, like `aws configure list`. Reads the
 * AWS shared files (which exist, a profile's region) and nothing else: it
 * contacts neither DynamoDB nor Redis.
 */
export async function configShow(ctx: CommandContext): Promise<void> {
  const { config } = ctx;
  const { sources } = config;
  const env = withoutEmpty(ctx.env);
  const home = homedir();
  const files = awsFiles(env, home);
  const tables = tableNames(config.tablePrefix);

  const region: Setting<string | null> = { value: config.region ?? null, source: sources.region };
  if (config.region === undefined) {
    const profile = env.AWS_PROFILE ?? 'default';
    const fromFile = files.config === undefined ? undefined : profileRegion(files.config, profile);
    region.value = fromFile ?? null;
    region.source = fromFile !== undefined ? `profile ${profile} (${tilde(files.config ?? '', home)})` : 'not set (commands that need DynamoDB will say so)';
  }

  const tableSource = config.tablePrefix === '' ? 'default (no prefix)' : `prefix from ${sources.tablePrefix}`;
  const report: ConfigReport = {
    endpoint: { value: config.endpoint ?? null, source: sources.endpoint },
    region,
    credentials: {
      value: credentialsValue(env, config.staticCredentials !== undefined),
      source: describeCredentials(env, config.staticCredentials !== undefined, files.found === undefined ? undefined : tilde(files.found, home)),
    },
    tablePrefix: { value: config.tablePrefix, source: sources.tablePrefix },
    ordersTable: { value: tables.orders, source: tableSource },
    cartsTable: { value: tables.carts, source: tableSource },
    idempotencyTable: { value: tables.idempotency, source: tableSource },
    output: { value: config.output, source: sources.output },
    color: { value: config.color, source: sources.color },
    verbose: { value: config.verbose, source: sources.verbose },
    timeoutSeconds: { value: config.timeoutMs / 1000, source: sources.timeout },
    cacheUrl: { value: config.cache === undefined ? null : redactedRedisUrl(config.cache.url), source: sources.cacheUrl },
    cacheTtlSeconds: { value: config.cacheTtlSeconds, source: sources.cacheTtl },
    cacheReads: { value: config.cache?.readThrough === true, source: sources.cacheReads },
    cacheCluster: { value: config.redisCluster, source: sources.cacheCluster },
  };

  await ctx.out.result(report, (render) =>
    render.settings([
      ['Endpoint', report.endpoint.value, report.endpoint.source],
      ['Region', report.region.value, report.region.source],
      ['Credentials', report.credentials.value, report.credentials.source],
      ['Table prefix', report.tablePrefix.value === '' ? '(none)' : report.tablePrefix.value, report.tablePrefix.source],
      ['Orders table', report.ordersTable.value, report.ordersTable.source],
      ['Carts table', report.cartsTable.value, report.cartsTable.source],
      ['Idempotency table', report.idempotencyTable.value, report.idempotencyTable.source],
      ['Output', report.output.value, report.output.source],
      ['Colour', report.color.value ? 'on' : 'off', report.color.source],
      ['Verbose', report.verbose.value ? 'on' : 'off', report.verbose.source],
      ['Timeout', `${report.timeoutSeconds.value}s`, report.timeoutSeconds.source],
      ['Cache URL', report.cacheUrl.value, report.cacheUrl.source],
      ['Cache TTL', `${report.cacheTtlSeconds.value}s`, report.cacheTtlSeconds.source],
      ['Cache reads', report.cacheReads.value ? 'on' : 'off', report.cacheReads.source],
      ['Redis Cluster', report.cacheCluster.value ? 'on' : 'off', report.cacheCluster.source],
    ]),
  );
}

/** Something to recognise the credentials by, never the secret: the access key id's last four characters, or the local dummy's name. */
function credentialsValue(env: Env, localDefaults: boolean): string | null {
  if (env.AWS_PROFILE !== undefined) return env.AWS_PROFILE;
  const keyId = env.AWS_ACCESS_KEY_ID;
  if (keyId !== undefined) return `****${keyId.slice(-4)}`;
  return localDefaults ? 'shopdblocal' : null;
}

/** The AWS shared files as the SDK finds them: which exist, and the one the credentials would come from. */
function awsFiles(env: Env, home: string): { config: string | undefined; found: string | undefined } {
  const credentials = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials');
  const config = env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config');
  const credentialsExists = existsSync(credentials);
  const configExists = existsSync(config);
  return { config: configExists ? config : undefined, found: credentialsExists ? credentials : configExists ? config : undefined };
}

/** The region a profile sets in the AWS config file ([default] or [profile name]); undefined if unreadable or unset. */
function profileRegion(file: string, profile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const wanted = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let inSection = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      inSection = wanted.includes(section[1] ?? '');
      continue;
    }
    const entry = /^region\s*=\s*([a-z0-9-]{1,50})\s*$/.exec(line);
    if (inSection && entry) return entry[1];
  }
  return undefined;
}

function tilde(path: string, home: string): string {
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

function withoutEmpty(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}
