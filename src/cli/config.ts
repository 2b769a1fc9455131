import { badInput } from '../core/errors.js';

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
}

export type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_TIMEOUT_SECONDS = 10;
const LOCAL_CREDENTIALS = { accessKeyId: 'shopdblocal', secretAccessKey: 'shopdblocal' };

/**
 * One precedence for every setting: command-line flag, then SHOPDB_* variable,
 * then the AWS SDK's standard configuration (which it reads itself), then a
 * default. `hasAwsFile` tells whether ~/.aws/credentials or config exists.
 */
export function resolveConfig(flags: GlobalOptions, env: Env, stdoutIsTty: boolean, hasAwsFile: boolean): Config {
  const endpoint = flags.endpoint ?? env.SHOPDB_ENDPOINT ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const loopback = endpoint !== undefined && isLoopback(endpoint);
  const region = flags.region ?? env.SHOPDB_REGION ?? env.AWS_REGION ?? (loopback ? 'us-east-1' : undefined);
  if (region !== undefined && !/^[a-z0-9-]{1,50}$/.test(region)) throw badInput('region', `${JSON.stringify(region)} is not a region name, e.g. us-east-1`);
  const credentialsConfigured =
    env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined || env.AWS_WEB_IDENTITY_TOKEN_FILE !== undefined || env.AWS_CONTAINER_CREDENTIALS_FULL_URI !== undefined || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI !== undefined || hasAwsFile;

  return {
    endpoint,
    region,
    tablePrefix: flags.tablePrefix ?? env.SHOPDB_TABLE_PREFIX ?? '',
    output: outputMode(flags, env, stdoutIsTty),
    color: flags.color !== false && env.NO_COLOR === undefined && env.SHOPDB_NO_COLOR === undefined && stdoutIsTty,
    verbose: flags.verbose === true || isTruthy(env.SHOPDB_VERBOSE),
    timeoutMs: parseTimeout(flags.timeout ?? env.SHOPDB_TIMEOUT),
    staticCredentials: loopback && !credentialsConfigured ? LOCAL_CREDENTIALS : undefined,
    location: endpoint ?? `DynamoDB in ${region ?? 'the configured region'}`,
  };
}

function outputMode(flags: GlobalOptions, env: Env, stdoutIsTty: boolean): 'json' | 'table' {
  const requested = flags.output ?? env.SHOPDB_OUTPUT;
  if (requested !== undefined && requested !== 'json' && requested !== 'table') throw badInput('output', 'use json or table');
  if (flags.json && flags.output === 'table') throw badInput('output', '--json and --output table contradict each other');
  if (flags.json) return 'json';
  return requested ?? (stdoutIsTty ? 'table' : 'json');
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw badInput('endpoint', `${JSON.stringify(endpoint.slice(0, 80))} is not a URL; use e.g. http://127.0.0.1:8000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badInput('endpoint', 'use an http:// or https:// URL');
  if (url.username || url.password) throw badInput('endpoint', 'must not hold credentials; use the AWS credential chain');
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
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
