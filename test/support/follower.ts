/**
 * `shopdb cache follow` as a real process, for the follower's end-to-end
 * tests: started on a table prefix with the suite's Redis, waited for until
 * it logs its "following" line, stopped with a signal (or killed), its output
 * collected. Also the foreign writers the follower exists for: the original
 * design's client (boto3, Debian's python3-boto3) and the AWS CLI, writing
 * behind shopdb's back (no version bump), and polling helpers that measure how
 * long a cached read takes to show a write.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { PYTHON, type DynamoJson } from './boto3.js';
import { BIN, shopdb, testEnv, type Run } from './cli.js';
import { dynamoEndpoint } from './endpoint.js';

export interface FollowerOptions {
  leaseSeconds?: number;
  reportSeconds?: number;
  verbose?: boolean;
  json?: boolean;
  /** More arguments before `cache follow` (global options), e.g. --cache-ttl. */
  globalArgs?: string[];
  env?: Record<string, string | undefined>;
  /** Wait for the "following" line (default true). */
  wait?: boolean;
}

export interface Stopped {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the signal to the exit. */
  ms: number;
}

export interface RunningFollower {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stderr line matching `pattern` (after `from` characters), or throws after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<{ line: string; at: number }>;
  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Stopped>;
  exited: Promise<Stopped>;
}

const all = new Set<RunningFollower>();

/** Kills every follower a test left running (afterEach/afterAll). */
export async function killAllFollowers(): Promise<void> {
  await Promise.all([...all].map((follower) => follower.stop('SIGKILL', 5_000).catch(() => undefined)));
}

export function redisEnv(): Record<string, string> {
  return { SHOPDB_REDIS_URL: inject('redisUrl') };
}

export const FOLLOWING = /following \S+ and \S+ into Redis/;

export async function startFollower(prefix: string, options: FollowerOptions = {}): Promise<RunningFollower> {
  const args = [
    ...(options.globalArgs ?? []),
    ...(options.verbose ? ['--verbose'] : []),
    ...(options.json ? ['--json'] : []),
    'cache',
    'follow',
    '--lease-seconds',
    String(options.leaseSeconds ?? 2),
    '--report-seconds',
    String(options.reportSeconds ?? 60),
  ];
  const env = { ...process.env, ...testEnv(prefix, { ...redisEnv(), ...options.env }) };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const startedAt = Date.now();
  const child = spawn(BIN, args, { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
    for (const listener of listeners) listener();
  });
  let signalledAt = Date.now();
  const exited = new Promise<Stopped>((resolve) => {
    child.once('close', (exitCode, signal) => {
      all.delete(running);
      for (const listener of listeners) listener();
      resolve({ exitCode, signal, stdout: out, stderr: err, ms: Date.now() - signalledAt });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const running: RunningFollower = {
    child,
    pid: child.pid ?? -1,
    startedAt,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 20_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = err
            .slice(from)
            .split('\n')
            .find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            finish();
            resolve({ line, at: Date.now() });
          } else if (done) {
            finish();
            reject(new Error(`the follower exited (${child.exitCode ?? child.signalCode}) before logging ${pattern}:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${err}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!done) {
        signalledAt = Date.now();
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
  all.add(running);
  if (options.wait ?? true) {
    try {
      await running.waitFor(FOLLOWING, 30_000);
    } catch (error) {
      await running.stop('SIGKILL');
      throw error;
    }
  }
  return running;
}

// ---- foreign writers ----

const WRITER = String.raw`
import base64, json, sys, time
import boto3
request = json.load(sys.stdin)
session = boto3.session.Session(aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')
client = session.client('dynamodb', endpoint_url=request['endpoint'])
for op in request['ops']:
    name = op['op']
    if name == 'put_item':
        client.put_item(TableName=op['table'], Item=op['item'])
    elif name == 'update_item':
        # The original design's update_order_status: SET one attribute, no version.
        client.update_item(TableName=op['table'], Key=op['key'], UpdateExpression='SET #a = :v',
                           ExpressionAttributeNames={'#a': op['attribute']}, ExpressionAttributeValues={':v': op['value']})
    elif name == 'delete_item':
        client.delete_item(TableName=op['table'], Key=op['key'])
    elif name == 'sleep':
        time.sleep(op['seconds'])
    else:
        raise SystemExit('unknown op ' + name)
`;

export type ForeignOp =
  | { op: 'put_item'; table: string; item: DynamoJson }
  | { op: 'update_item'; table: string; key: DynamoJson; attribute: string; value: DynamoJson }
  | { op: 'delete_item'; table: string; key: DynamoJson }
  | { op: 'sleep'; seconds: number };

/** Writes with boto3's low-level client, as the original design (or any program) does: no version, no cache. */
export async function foreign(ops: ForeignOp[]): Promise<void> {
  const run = await execa(PYTHON, ['-c', WRITER], {
    input: JSON.stringify({ endpoint: dynamoEndpoint(), ops }),
    reject: false,
    timeout: 120_000,
    env: { AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
  });
  if (run.exitCode !== 0) throw new Error(`boto3 writer failed (${run.exitCode}): ${String(run.stderr).slice(-2000)}`);
}

/** The AWS CLI (`aws` from PATH; .ci/run installs Debian's awscli) against the test DynamoDB Local. */
export async function awsCli(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const run = await execa('aws', ['--endpoint-url', dynamoEndpoint(), '--output', 'json', 'dynamodb', ...args], {
    reject: false,
    timeout: 60_000,
    env: {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_REGION: 'us-east-1',
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    },
  });
  if (run.exitCode !== 0) throw new Error(`aws ${args.join(' ')} failed (${run.exitCode}): ${String(run.stderr)}`);
  return { exitCode: run.exitCode ?? -1, stdout: String(run.stdout), stderr: String(run.stderr) };
}

// ---- cached reads ----

export interface CachedRead {
  exitCode: number;
  item: Record<string, unknown> | undefined;
  /** The --verbose line naming where the answer came from. */
  source: string;
  run: Run;
}

/** `<kind> get <id> --cache --verbose` through the built binary (JSON), with the suite's Redis. */
export async function cachedGet(prefix: string, kind: 'order' | 'cart', id: string, env: Record<string, string> = {}): Promise<CachedRead> {
  const run = await shopdb([kind, 'get', id, '--cache', '--verbose'], { prefix, env: { ...redisEnv(), ...env } });
  const source = run.stderr.split('\n').find((line) => /: read \S+ /.test(line)) ?? run.stderr;
  return { exitCode: run.exitCode, item: run.exitCode === 0 ? run.json() : undefined, source, run };
}

/** Polls `check` until it returns true; resolves with the ms it took, or throws (with the last value) after `limitMs`. */
export async function pollUntil<T>(read: () => Promise<T>, check: (value: T) => boolean, limitMs = 5_000, everyMs = 50): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  let last: T;
  for (;;) {
    last = await read();
    if (check(last)) return { ms: Date.now() - started, value: last };
    if (Date.now() - started > limitMs) throw new Error(`not true within ${limitMs} ms; last: ${JSON.stringify(last, null, 0).slice(0, 2000)}`);
    await sleep(everyMs);
  }
}

/** Observed foreign write → cached read times, printed at the end of a file for the report. */
export const observed: Array<{ what: string; ms: number }> = [];
