import { execa, type Result } from 'execa';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { dynamoEndpoint } from './endpoint.js';
import { isSharedCluster } from './redis-target.js';

export const BIN = fileURLToPath(new URL('../../bin/shopdb', import.meta.url));

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object shopdb prints when piped. */
  json: <T = Record<string, unknown>>() => T;
}

/** A table prefix no other test file uses, so files never see each other's items. */
export function uniquePrefix(label: string): string {
  return `t${randomBytes(4).toString('hex')}-${label}-`;
}

/**
 * The environment of a shopdb run in the tests: the shared DynamoDB Local, the
 * given table prefix, and none of the developer's own AWS or shopdb settings.
 */
export function testEnv(prefix: string | undefined, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    SHOPDB_ENDPOINT: dynamoEndpoint(),
    ...(prefix === undefined ? {} : { SHOPDB_TABLE_PREFIX: prefix }),
    AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_REGION: undefined,
    SHOPDB_REDIS_URL: undefined,
    REDIS_URL: undefined,
    SHOPDB_REDIS_CLUSTER: undefined,
    HOME: '/nonexistent-shopdb-test-home',
    // The "cluster" project: the shared Redis is a cluster, used with cluster mode.
    ...(isSharedCluster(extra.SHOPDB_REDIS_URL ?? extra.REDIS_URL) ? { SHOPDB_REDIS_CLUSTER: 'true' } : {}),
    ...extra,
  };
}

/**
 * Runs the built binary as a script would: piped, so output is JSON. In the
 * "cluster" project, a run whose Redis URL (--redis-url, SHOPDB_REDIS_URL or
 * REDIS_URL) is the shared cluster's gets SHOPDB_REDIS_CLUSTER=true, unless
 * the test sets that variable itself (testEnv does it for the variables).
 */
export async function shopdb(args: string[], options: { prefix?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  const env = testEnv(options.prefix, options.env);
  const flagged = args.indexOf('--redis-url');
  if (flagged >= 0 && isSharedCluster(args[flagged + 1]) && !(options.env !== undefined && 'SHOPDB_REDIS_CLUSTER' in options.env)) env.SHOPDB_REDIS_CLUSTER = 'true';
  const result: Result = await execa(BIN, args, {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    input: options.input,
    env,
    extendEnv: true,
  });
  const stdout = String(result.stdout ?? '');
  return {
    exitCode: result.exitCode ?? -1,
    stdout,
    stderr: String(result.stderr ?? ''),
    json: <T>() => JSON.parse(stdout) as T,
  };
}

/** Creates the tables under `prefix`, failing loudly if that does not work. */
/**
 * `tables create` under `prefix`, without streams unless asked: DynamoDB Local slows down as stream
 * records pile up (a 3,000-item import went from 7 s to a timeout after one more streamed table's),
 * so only the files that follow a stream have one.
 */
export async function createTables(prefix: string, options: { streams?: boolean } = {}): Promise<void> {
  const run = await shopdb(['tables', 'create', ...(options.streams ? [] : ['--no-stream'])], { prefix });
  if (run.exitCode !== 0) throw new Error(`tables create failed (${run.exitCode}): ${run.stderr}`);
}

type Env = Record<string, string | undefined>;

/** shopdb on one table prefix: `run` as is, `ok` expecting exit 0 (the command and its stderr in the failure). */
export function withPrefix(prefix: string): { run(args: string[], env?: Env): Promise<Run>; ok(args: string[], env?: Env): Promise<Run> } {
  const run = (args: string[], env: Env = {}) => shopdb(args, { prefix, env });
  return {
    run,
    async ok(args, env = {}) {
      const result = await run(args, env);
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result;
    },
  };
}

/** The one line a piped failure prints on stderr, `{"error":{code,message}}`, and nothing else. */
export function jsonError(result: Run): { code: string; message: string } {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return (JSON.parse(lines[0] ?? '') as { error: { code: string; message: string } }).error;
}
