/**
 * `shopdb config show` through the built binary: every setting with where it
 * came from, no secret ever printed, nothing contacted, and a table that
 * fits 80 and 50 columns under a real pty.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopdb, uniquePrefix } from '../support/cli.js';
import { pty, STACK_LINE } from '../support/pty.js';

type Setting = { value: unknown; source: string };
type Report = Record<string, Setting>;

const prefix = uniquePrefix('cfgshow');
const work = mkdtempSync(join(tmpdir(), 'shopdb-config-show-'));
const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const REDIS_PASSWORD = 'r3dis-s3cret-pw';

/** A TCP listener that counts connections: config show must make none. */
let listener: Server;
let connections = 0;
let port = 0;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

async function show(args: string[] = [], env: Record<string, string | undefined> = {}): Promise<Report> {
  const run = await shopdb([...args, 'config', 'show'], { prefix, env });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  // One line of JSON.
  expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  return run.json<Report>();
}

describe('config show --json', () => {
  it('names every setting with its value and source (env, loopback defaults, defaults)', async () => {
    const report = await show();
    expect(Object.keys(report)).toEqual([
      'endpoint',
      'region',
      'credentials',
      'tablePrefix',
      'ordersTable',
      'cartsTable',
      'idempotencyTable',
      'output',
      'color',
      'verbose',
      'timeoutSeconds',
      'cacheUrl',
      'cacheTtlSeconds',
      'cacheReads',
      'cacheCluster',
    ]);
    expect(report.endpoint?.source).toBe('env SHOPDB_ENDPOINT');
    expect(report.region).toEqual({ value: 'us-east-1', source: 'default for a loopback endpoint' });
    expect(report.credentials).toEqual({ value: 'shopdblocal', source: 'local defaults for a loopback endpoint' });
    expect(report.tablePrefix).toEqual({ value: prefix, source: 'env SHOPDB_TABLE_PREFIX' });
    expect(report.ordersTable).toEqual({ value: `${prefix}EcommerceOrders`, source: 'prefix from env SHOPDB_TABLE_PREFIX' });
    expect(report.cartsTable).toEqual({ value: `${prefix}EcommerceCarts`, source: 'prefix from env SHOPDB_TABLE_PREFIX' });
    expect(report.idempotencyTable).toEqual({ value: `${prefix}EcommerceIdempotencyKeys`, source: 'prefix from env SHOPDB_TABLE_PREFIX' });
    expect(report.output).toEqual({ value: 'json', source: 'default (stdout is not a terminal)' });
    expect(report.timeoutSeconds).toEqual({ value: 10, source: 'default' });
    expect(report.cacheUrl).toEqual({ value: null, source: 'not set: no cache' });
    expect(report.cacheTtlSeconds).toEqual({ value: 300, source: 'default' });
    expect(report.cacheReads).toEqual({ value: false, source: 'default (off: reads go to DynamoDB)' });
    expect(report.cacheCluster).toEqual({ value: false, source: 'default (off: one Redis)' });
  });

  it('flags win over variables, and each says so', async () => {
    const report = await show(
      ['--endpoint', `http://127.0.0.1:${port}`, '--region', 'eu-west-1', '--table-prefix', 'flag-', '--timeout', '2.5', '--redis-url', `redis://:${REDIS_PASSWORD}@127.0.0.1:${port}/3`, '--cache-ttl', '60', '--cache', '--output', 'json', '--verbose'],
      { SHOPDB_REGION: 'ap-south-1', SHOPDB_TIMEOUT: '7', SHOPDB_REDIS_URL: 'redis://127.0.0.1:1', SHOPDB_CACHE_TTL: '9' },
    );
    expect(report.endpoint).toEqual({ value: `http://127.0.0.1:${port}`, source: 'flag --endpoint' });
    expect(report.region).toEqual({ value: 'eu-west-1', source: 'flag --region' });
    expect(report.tablePrefix).toEqual({ value: 'flag-', source: 'flag --table-prefix' });
    expect(report.ordersTable?.value).toBe('flag-EcommerceOrders');
    expect(report.timeoutSeconds).toEqual({ value: 2.5, source: 'flag --timeout' });
    expect(report.cacheUrl).toEqual({ value: `redis://:***@127.0.0.1:${port}/3`, source: 'flag --redis-url' });
    expect(report.cacheTtlSeconds).toEqual({ value: 60, source: 'flag --cache-ttl' });
    expect(report.cacheReads).toEqual({ value: true, source: 'flag --cache' });
    expect(report.output).toEqual({ value: 'json', source: 'flag --output' });
    expect(report.verbose).toEqual({ value: true, source: 'flag --verbose' });
  });

  it('variables in their documented order: SHOPDB_* before AWS_*, REDIS_URL last', async () => {
    const report = await show([], {
      SHOPDB_ENDPOINT: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_REGION: 'eu-central-1',
      REDIS_URL: `redis://127.0.0.1:${port}`,
      SHOPDB_CACHE_TTL: '42',
      SHOPDB_OUTPUT: 'json',
    });
    expect(report.endpoint).toEqual({ value: `http://127.0.0.1:${port}`, source: 'env AWS_ENDPOINT_URL_DYNAMODB' });
    expect(report.region).toEqual({ value: 'eu-central-1', source: 'env AWS_REGION' });
    expect(report.cacheUrl).toEqual({ value: `redis://127.0.0.1:${port}`, source: 'env REDIS_URL' });
    expect(report.cacheTtlSeconds).toEqual({ value: 42, source: 'env SHOPDB_CACHE_TTL' });
    expect(report.output).toEqual({ value: 'json', source: 'env SHOPDB_OUTPUT' });
  });

  it('credentials from the environment show the last four characters of the key id, never the secret', async () => {
    const run = await shopdb(['config', 'show'], { prefix, env: { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7WXYZ', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: SECRET } });
    expect(run.exitCode).toBe(0);
    expect(run.json<Report>().credentials).toEqual({ value: '****WXYZ', source: 'env AWS_ACCESS_KEY_ID' });
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(run.stdout).not.toContain('AKIAIOSFODNN7');
  });

  it('AWS_PROFILE names the profile (the SDK then ignores the keys in the environment)', async () => {
    const report = await show([], { AWS_PROFILE: 'staging', AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7WXYZ', AWS_SECRET_ACCESS_KEY: SECRET });
    expect(report.credentials).toEqual({ value: 'staging', source: 'profile staging (env AWS_PROFILE)' });
  });

  it('without an endpoint: the default profile of ~/.aws, and the region its config file sets', async () => {
    const home = join(work, 'home');
    mkdirSync(join(home, '.aws'), { recursive: true });
    writeFileSync(join(home, '.aws', 'credentials'), `[default]\naws_access_key_id = AKIAFILEKEY0000\naws_secret_access_key = ${SECRET}\n`);
    writeFileSync(join(home, '.aws', 'config'), '[profile other]\nregion = us-west-2\n\n[default]\noutput = json\nregion = eu-north-1\n');
    const run = await shopdb(['config', 'show'], { prefix, env: { HOME: home, SHOPDB_ENDPOINT: undefined } });
    expect(run.exitCode).toBe(0);
    const report = run.json<Report>();
    expect(report.endpoint).toEqual({ value: null, source: "SDK default (the region's AWS endpoint)" });
    expect(report.credentials).toEqual({ value: null, source: 'profile default (~/.aws/credentials)' });
    expect(report.region).toEqual({ value: 'eu-north-1', source: 'profile default (~/.aws/config)' });
    expect(run.stdout).not.toContain(SECRET);
  });

  it('nothing configured at all: says the SDK chain and that no region is set', async () => {
    const report = await show([], { SHOPDB_ENDPOINT: undefined });
    expect(report.endpoint?.value).toBeNull();
    expect(report.region).toEqual({ value: null, source: 'not set (commands that need DynamoDB will say so)' });
    expect(report.credentials).toEqual({ value: null, source: 'SDK default chain (e.g. instance metadata)' });
  });

  it('contacts neither DynamoDB nor Redis, even with --cache', async () => {
    const before = connections;
    const run = await shopdb(['--endpoint', `http://127.0.0.1:${port}`, '--cache', '--redis-url', `redis://127.0.0.1:${port}`, 'config', 'show'], { prefix });
    expect(run.exitCode).toBe(0);
    // Give a stray connection time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connections - before).toBe(0);
  });

  it('a bad setting is the same BAD_INPUT any command gives, naming it, and does not echo a password', async () => {
    const timeout = await shopdb(['--timeout', 'soon', 'config', 'show'], { prefix });
    expect(timeout.exitCode).toBe(2);
    expect(timeout.stdout).toBe('');
    expect(timeout.stderr).toMatch(/"message":"timeout: /);
    const redis = await shopdb(['--redis-url', `redis://:${REDIS_PASSWORD}@host/x?y`, 'config', 'show'], { prefix });
    expect(redis.exitCode).toBe(2);
    expect(redis.stderr).toContain('--redis-url');
    expect(redis.stderr).not.toContain(REDIS_PASSWORD);
  });
});

describe('config show on a terminal', () => {
  it.each([80, 50])('fits %i columns, shows each value with its source, redacts the password', async (columns) => {
    const run = await pty(['config', 'show'], { columns, prefix, env: { SHOPDB_REDIS_URL: `redis://user:${REDIS_PASSWORD}@cache.example:6379/1`, SHOPDB_TIMEOUT: '3' } });
    const context = `screen at ${columns} columns:\n${run.text}`;
    expect(run.exitCode, context).toBe(0);
    expect(run.overflows, context).toEqual([]);
    expect(run.text, context).not.toMatch(STACK_LINE);
    expect(run.raw).not.toContain(REDIS_PASSWORD);
    for (const fact of ['Endpoint', 'env SHOPDB_ENDPOINT', 'Credentials', 'Orders table', `${prefix}EcommerceOrders`, 'redis://user:***@cache.example:6379/1', 'env SHOPDB_REDIS_URL', '3s', 'env SHOPDB_TIMEOUT', 'Cache TTL']) {
      // Box characters and spaces removed: a long value wrapped inside its cell reads as one string again.
      expect(run.text.replace(/[\s│┌┐└┘├┤┬┴┼─]/g, ''), context).toContain(fact.replace(/\s/g, ''));
    }
    expect(run.text, context).not.toContain('✓');
  });
});
