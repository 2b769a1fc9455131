import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { createTables, shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';

const client = rawClient();
afterAll(() => client.destroy());

describe('secrets are never printed', () => {
  const prefix = uniquePrefix('secrets');
  const ACCESS_KEY_ID = 'AKIASECRETKEY123456';
  const SECRET_ACCESS_KEY = 'verysecretvalue0123456789';
  const SESSION_TOKEN = 'sessiontokenvalue9876543210';
  const REDIS_PASSWORD = 's3cr3t-pass';
  const WRONG_REDIS_PASSWORD = 'wr0ng-pass-77';
  const SECRETS = [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, REDIS_PASSWORD, WRONG_REDIS_PASSWORD];
  const CREDENTIALS = { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN };

  let redis: RunningRedis | undefined;
  let deadPort = 0;
  const seen: Array<{ label: string; run: Run }> = [];

  /** Runs shopdb with the AWS credentials in its environment and records what it printed. */
  async function run(label: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
    const result = await shopdb(['--verbose', ...args], { prefix, env: { ...CREDENTIALS, ...env } });
    seen.push({ label, run: result });
    return result;
  }

  function expectNoSecret(label: string, result: Run): void {
    for (const secret of SECRETS) {
      expect(result.stdout, `${label}: stdout`).not.toContain(secret);
      expect(result.stderr, `${label}: stderr`).not.toContain(secret);
    }
  }

  beforeAll(async () => {
    // A port nobody listens on: freePort() closed it again.
    deadPort = await freePort();
    redis = await startRedis({ port: await freePort(), password: REDIS_PASSWORD });
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('with AWS credentials in the environment: successes, failures and --verbose', async () => {
    expect((await run('tables create', ['tables', 'create'])).exitCode).toBe(0);
    expect((await run('tables status', ['tables', 'status'])).exitCode).toBe(0);
    expect((await run('order create', ['order', 'create', 'sec-o1', '--user', 'u1', '--amount', '5'])).exitCode).toBe(0);
    expect((await run('order get', ['order', 'get', 'sec-o1', '--strong'])).exitCode).toBe(0);
    expect((await run('order create conflict', ['order', 'create', 'sec-o1', '--user', 'u2', '--amount', '5'])).exitCode).toBe(4);
    expect((await run('order get missing', ['order', 'get', 'sec-none'])).exitCode).toBe(3);
    expect((await run('order set-status', ['order', 'set-status', 'sec-o1', 'COMPLETED'])).exitCode).toBe(0);
    expect((await run('illegal move', ['order', 'set-status', 'sec-o1', 'PAID'])).exitCode).toBe(4);
    expect((await run('cart create', ['cart', 'create', 'sec-c1', '--user', 'u1'])).exitCode).toBe(0);
    expect((await run('cart add-product', ['cart', 'add-product', 'sec-c1', 'p1', '--price', '1.50', '--quantity', '2'])).exitCode).toBe(0);
    expect((await run('cart price conflict', ['cart', 'add-product', 'sec-c1', 'p1', '--price', '9.99'])).exitCode).toBe(4);
    expect((await run('cart get', ['cart', 'get', 'sec-c1'])).exitCode).toBe(0);
    expect((await run('bad input', ['order', 'create', 'sec-o2', '--user', 'u1', '--amount', '-1'])).exitCode).toBe(2);

    // Known failures: --verbose keeps stack traces for unexpected errors (exit 1) only.
    const missingTable = await run('missing table', ['--table-prefix', uniquePrefix('none'), 'order', 'get', 'x']);
    expect(missingTable.exitCode).toBe(3);
    expect(missingTable.stderr).not.toMatch(/^\s+at /m);
    const unreachable = await run('unreachable endpoint', ['--endpoint', `http://127.0.0.1:${deadPort}`, '--timeout', '2', 'order', 'get', 'x']);
    expect(unreachable.exitCode).toBe(5);
    expect(unreachable.stderr).not.toMatch(/^\s+at /m);
    // DynamoDB Local accepts only alphanumeric key ids: this one is refused, and the refusal must not quote it.
    const refused = await run('refused key id', ['order', 'get', 'sec-o1'], { AWS_ACCESS_KEY_ID: `${ACCESS_KEY_ID}-x` });
    expect(refused.exitCode).toBe(5);
    expect(refused.stderr).toContain('ACCESS_DENIED');
    expect(refused.stderr).not.toMatch(/^\s+at /m);

    for (const { label, run: result } of seen) expectNoSecret(label, result);
  });

  it('with a Redis password: unreachable, refused and working caches', async () => {
    const live = redis as RunningRedis;
    expect(live.url).toContain(REDIS_PASSWORD);
    const dead = `redis://:${REDIS_PASSWORD}@127.0.0.1:${deadPort}`;
    const wrong = `redis://:${WRONG_REDIS_PASSWORD}@127.0.0.1:${live.port}`;
    const withUser = `redis://default:${REDIS_PASSWORD}@127.0.0.1:${live.port}`;
    const before = seen.length;

    // Unreachable: a warning names the redacted location, the command still succeeds from DynamoDB.
    const unreachable = await run('redis unreachable', ['--cache', '--redis-url', dead, 'order', 'get', 'sec-o1']);
    expect(unreachable.exitCode).toBe(0);
    expect(unreachable.stderr).toContain(`redis://127.0.0.1:${deadPort}`);
    expect((await run('redis unreachable via REDIS_URL', ['--cache', 'cart', 'get', 'sec-c1'], { REDIS_URL: dead })).exitCode).toBe(0);
    expect((await run('redis unreachable on a write', ['order', 'create', 'sec-o3', '--user', 'u1', '--amount', '1'], { SHOPDB_REDIS_URL: dead })).exitCode).toBe(0);

    // Wrong password: refused by Redis.
    const refused = await run('redis wrong password', ['--cache', '--redis-url', wrong, 'order', 'get', 'sec-o1']);
    expect(refused.exitCode).toBe(0);
    expect(refused.stderr).toContain('authentication failed');

    // The right password, with and without a user name: the second read is a cache hit.
    for (const url of [live.url, withUser]) {
      expect((await run('redis miss', ['--cache', '--redis-url', url, 'cart', 'get', 'sec-c1', '--strong'])).exitCode).toBe(0);
      const hit = await run('redis hit', ['--cache', '--redis-url', url, 'cart', 'get', 'sec-c1']);
      expect(hit.exitCode).toBe(0);
      expect(hit.stderr).toContain('cache hit');
      expect(hit.stderr).toContain(`Redis at redis://127.0.0.1:${live.port}`);
    }
    // A malformed URL holding the password is refused without being echoed.
    expect((await run('redis malformed', ['--redis-url', `redis://:${REDIS_PASSWORD}@`, 'order', 'get', 'sec-o1'])).exitCode).toBe(2);
    expect((await run('redis wrong scheme', ['--redis-url', `http://:${REDIS_PASSWORD}@127.0.0.1:${live.port}`, 'order', 'get', 'sec-o1'])).exitCode).toBe(2);

    expect(seen.length - before).toBe(10);
    for (const { label, run: result } of seen.slice(before)) expectNoSecret(label, result);
  });

  /*
   * BUG (src/cli/config.ts, checkEndpoint): an --endpoint that does not parse is
   * echoed in full (`${JSON.stringify(endpoint.slice(0, 80))} is not a URL`), so
   * `--endpoint http://user:hunter2@` prints the password. Remove `.fails` once fixed.
   */
  it('an --endpoint that does not parse is not echoed with its credentials', async () => {
    const result = await shopdb(['order', 'get', 'x', '--endpoint', 'http://user:hunter2@'], { prefix });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('endpoint');
    expect(result.stderr).not.toContain('hunter2');
  });
});

describe('tables delete', () => {
  const prefix = uniquePrefix('sec-delete');

  async function status(): Promise<{ exitCode: number; tables: Array<{ name: string; result: string; status: string }> }> {
    const result = await shopdb(['tables', 'status'], { prefix });
    return { exitCode: result.exitCode, tables: result.json<{ tables: Array<{ name: string; result: string; status: string }> }>().tables };
  }

  beforeAll(async () => {
    await createTables(prefix);
    const order = await shopdb(['order', 'create', 'keep-me', '--user', 'u1', '--amount', '1'], { prefix });
    expect(order.exitCode).toBe(0);
  });

  it('without --yes deletes nothing (exit 2), in either output format', async () => {
    for (const env of [{}, { SHOPDB_OUTPUT: 'table' }]) {
      const refused = await shopdb(['tables', 'delete'], { prefix, env });
      expect(refused.exitCode).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('--yes');
    }
    const after = await status();
    expect(after.exitCode).toBe(0);
    expect(after.tables.map(({ name, result, status: state }) => [name, result, state])).toEqual([
      [`${prefix}EcommerceOrders`, 'present', 'ACTIVE'],
      [`${prefix}EcommerceCarts`, 'present', 'ACTIVE'],
      [`${prefix}EcommerceIdempotencyKeys`, 'present', 'ACTIVE'],
    ]);
    expect((await shopdb(['order', 'get', 'keep-me', '--strong'], { prefix })).exitCode).toBe(0);
  });

  it('with --yes really deletes all three tables (status exits 3 afterwards)', async () => {
    const deleted = await shopdb(['tables', 'delete', '--yes'], { prefix });
    expect(deleted.exitCode).toBe(0);
    expect(deleted.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['deleted', 'deleted', 'deleted']);

    const after = await status();
    expect(after.exitCode).toBe(3);
    expect(after.tables.map((table) => table.result)).toEqual(['absent', 'absent', 'absent']);
    for (const name of [`${prefix}EcommerceOrders`, `${prefix}EcommerceCarts`, `${prefix}EcommerceIdempotencyKeys`]) {
      await expect(client.send(new DescribeTableCommand({ TableName: name }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    }
    const again = await shopdb(['tables', 'delete', '--yes'], { prefix });
    expect(again.exitCode).toBe(0);
    expect(again.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['absent', 'absent', 'absent']);
  });
});

describe('shopdb local', () => {
  const root = mkdtempSync(join(tmpdir(), 'shopdb-security-'));
  const home = join(root, 'home');
  const dataDir = join(root, 'data');
  const env = { SHOPDB_HOME: home };

  async function stop(): Promise<Run> {
    return shopdb(['local', 'stop'], { env });
  }

  afterAll(async () => {
    // Whatever happened above, never leave the detached engine running.
    if (existsSync(join(home, 'engine.json'))) await stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates its home and data directories private (0700), and its files 0600', async () => {
    let pid = 0;
    try {
      const started = await shopdb(['local', 'start', '--port', '0', '--data-dir', dataDir], { env, timeoutMs: 100_000 });
      expect(started.exitCode, started.stderr).toBe(0);
      const state = started.json<{ result: string; pid: number; port: number; dataDir: string; inMemory: boolean; logFile: string }>();
      pid = state.pid;
      expect(state).toMatchObject({ result: 'started', dataDir, inMemory: false, logFile: join(home, 'dynamodb-local.log') });
      expect(state.port).toBeGreaterThan(0);

      expect(statSync(home).mode & 0o777).toBe(0o700);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(home, 'engine.json')).mode & 0o777).toBe(0o600);
      expect(statSync(state.logFile).mode & 0o777).toBe(0o600);
      expect((await shopdb(['local', 'status'], { env })).exitCode).toBe(0);
    } finally {
      const stopped = await stop();
      expect(stopped.exitCode, stopped.stderr).toBe(0);
    }
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await shopdb(['local', 'status'], { env })).exitCode).toBe(3);
  }, 180_000);
});
