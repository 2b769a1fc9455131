import { DeleteItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { execa } from 'execa';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { boto3 } from '../support/boto3.js';
import { BIN, createTables, jsonError, shopdb, testEnv, uniquePrefix } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';
import { samples, value } from '../support/prometheus.js';
import { http, startServe, type Served } from '../support/serve.js';

/*
 * `shopdb serve --follow`: the cache follower inside the HTTP server, as real
 * processes against the suite's DynamoDB Local and redis-server. A write made
 * behind the server's back (boto3, the SDK) reaches its cached reads; the
 * follower's series are in /metrics; SIGTERM stops both and releases the
 * leases; the start refuses tables without streams and bad settings.
 */
const prefix = uniquePrefix('serve-follow');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;

const running: Served[] = [];
async function serve(args: string[], options: { prefix?: string; env?: Record<string, string | undefined> } = {}): Promise<Served> {
  const served = await startServe({ prefix: options.prefix ?? prefix, args, env: options.env ?? {} });
  running.push(served);
  return served;
}

beforeAll(() => createTables(prefix, { streams: true }));
afterAll(async () => {
  await Promise.all(running.map((served) => served.stop()));
});

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  [field: string]: unknown;
}

/** The server's log (pino JSON lines on stderr); every line must be JSON, but for --verbose's lines before the server exists (`shopdb: …`) when `verbose`. */
function logLines(served: Served, verbose = false): LogLine[] {
  return served
    .logs()
    .split('\n')
    .filter((line) => line !== '' && !(verbose && line.startsWith('shopdb: ')))
    .map((line) => JSON.parse(line) as LogLine);
}

function followerLines(served: Served, verbose = false): LogLine[] {
  return logLines(served, verbose).filter((line) => line.component === 'follower');
}

/** Polls `check` every 100 ms until it returns something other than undefined, for at most `ms`. */
async function until<T>(ms: number, what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/** Waits until the follower in `served` holds the lease of both tables' shards (one each on DynamoDB Local). */
async function holdsBoth(served: Served): Promise<void> {
  await until(20_000, `both leases taken; log: ${served.logs()}`, () => {
    const taken = followerLines(served).filter((line) => / lease taken /.test(line.msg));
    return [ORDERS, CARTS].every((table) => taken.some((line) => line.msg.startsWith(`${table} shard `))) ? true : undefined;
  });
}

async function metricsOf(served: Served): Promise<string> {
  const answer = await http(served.url, 'GET', '/metrics');
  expect(answer.status).toBe(200);
  return answer.text;
}

async function createOrder(served: Served, orderId: string): Promise<void> {
  const created = await http(served.url, 'POST', '/v1/orders', { body: { orderId, userId: 'u-follow', totalAmount: '12.50' } });
  expect(created.status, created.text).toBe(201);
}

describe('serve --follow', () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve(['--follow', '--redis-url', inject('redisUrl')]);
    await holdsBoth(served);
  });

  it('brings a boto3 update and an SDK delete made behind its back to its cached reads within 5 s', async () => {
    await createOrder(served, 'o-follow-1');
    // --follow implies --cache: the default read answers from Redis.
    const before = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-1');
    expect(before.headers.get('x-cache')).toMatch(/^(hit|miss)$/);
    const cached = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-1');
    expect(cached.headers.get('x-cache')).toBe('hit');
    expect(cached.body.status).toBe('PENDING');

    // The original design's own update: no version bump, nothing shopdb would notice.
    const wrote = Date.now();
    await boto3([{ op: 'update_order_status', table: ORDERS, orderId: 'o-follow-1', status: 'SHIPPED' }]);
    const updated = await until(5_000, 'the boto3 update in the cached read', async () => {
      const read = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-1');
      return read.body.status === 'SHIPPED' ? read : undefined;
    });
    expect(Date.now() - wrote).toBeLessThan(5_000);
    // Answered from the cache: the follower stored the new image.
    expect(updated.headers.get('x-cache')).toBe('hit');

    const client = rawClient();
    try {
      await client.send(new DeleteItemCommand({ TableName: ORDERS, Key: { orderId: { S: 'o-follow-1' } } }));
    } finally {
      client.destroy();
    }
    const deleted = Date.now();
    await until(5_000, 'the SDK delete in the cached read', async () => ((await http(served.url, 'GET', '/v1/orders/o-follow-1')).status === 404 ? true : undefined));
    expect(Date.now() - deleted).toBeLessThan(5_000);
  });

  it('shows the follower series in /metrics: records by table and outcome, lag, behind, shards, errors; no shard ids', async () => {
    await createOrder(served, 'o-follow-2');
    await boto3([{ op: 'update_order_status', table: ORDERS, orderId: 'o-follow-2', status: 'PAID' }]);
    const text = await until(5_000, 'the boto3 update applied', async () => {
      const read = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-2');
      return read.body.status === 'PAID' ? metricsOf(served) : undefined;
    });
    const stored = value(text, 'shopdb_follower_records_total', { table: ORDERS, outcome: 'stored' }) ?? 0;
    // At least: the POST, the boto3 update (both tests), and the put of the first test's order.
    expect(stored).toBeGreaterThanOrEqual(3);
    // The SDK delete of the first test dropped its entry.
    expect(value(text, 'shopdb_follower_records_total', { table: ORDERS, outcome: 'dropped' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'shopdb_follower_records_total', { table: ORDERS, outcome: 'skipped' })).toBe(0);
    // Every series exists from the start, at 0 for a table nothing was written to.
    for (const outcome of ['stored', 'dropped', 'seen', 'skipped']) expect(value(text, 'shopdb_follower_records_total', { table: CARTS, outcome })).toBe(0);
    // One observation per batch applied; DynamoDB Local rounds the record's time down to the minute, so lag is 0 to about 60 s there.
    const batches = value(text, 'shopdb_follower_lag_seconds_count', { table: ORDERS }) ?? 0;
    expect(batches).toBeGreaterThanOrEqual(2);
    const lagSum = value(text, 'shopdb_follower_lag_seconds_sum', { table: ORDERS }) ?? -1;
    expect(lagSum).toBeGreaterThanOrEqual(0);
    expect(lagSum / batches).toBeLessThan(65);
    expect(value(text, 'shopdb_follower_lag_seconds_bucket', { table: ORDERS, le: '+Inf' })).toBe(batches);
    expect(value(text, 'shopdb_follower_lag_seconds_count', { table: CARTS })).toBe(0);
    for (const table of [ORDERS, CARTS]) {
      expect(value(text, 'shopdb_follower_shards', { table })).toBe(1);
      expect(value(text, 'shopdb_follower_behind_seconds', { table })).toBe(0);
    }
    for (const kind of ['stream', 'cache', 'leases']) expect(value(text, 'shopdb_follower_errors_total', { kind })).toBe(0);
    // Bounded labels only: table, outcome, kind, le; never a shard id (they change with every reshard) or an item id.
    const series = samples(text).filter((sample) => sample.name.startsWith('shopdb_follower_'));
    for (const sample of series) for (const label of Object.keys(sample.labels)) expect(['table', 'outcome', 'kind', 'le']).toContain(label);
    expect(text).not.toMatch(/shardId-|o-follow-2/);

    // Without --follow the series are absent (not at 0): absent(shopdb_follower_shards) tells a replica that does not follow.
    const plain = await serve(['--cache', '--redis-url', inject('redisUrl')]);
    const plainText = await metricsOf(plain);
    expect(value(plainText, 'shopdb_cache_errors_total')).toBe(0);
    expect(plainText).not.toContain('shopdb_follower_');
    expect(followerLines(plain)).toEqual([]);
    expect(await plain.stop()).toBe(0);
  });

  it('logs the follower through the server log: pino JSON lines at info, marked component "follower"', () => {
    const lines = followerLines(served);
    const following = lines.find((line) => line.msg.startsWith(`following ${ORDERS} and ${CARTS} into Redis`));
    expect(following?.level).toBe(30);
    expect(following?.worker).toEqual(expect.any(String));
    const taken = lines.filter((line) => / lease taken \(free\)/.test(line.msg));
    expect(taken.map((line) => line.level)).toEqual([30, 30]);
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    // Per-batch lines are debug only.
    expect(lines.filter((line) => line.level < 30)).toEqual([]);
  });

  it('with --verbose, logs one debug line per batch that carried records', async () => {
    const own = uniquePrefix('serve-follow-verbose');
    await createTables(own, { streams: true });
    const verbose = await serve(['--follow', '--verbose', '--redis-url', inject('redisUrl')], { prefix: own });
    const created = await http(verbose.url, 'POST', '/v1/orders', { body: { orderId: 'o-follow-verbose', userId: 'u-1', totalAmount: '1.00' } });
    expect(created.status).toBe(201);
    const line = await until(5_000, 'a debug line for the batch', () => followerLines(verbose, true).find((candidate) => candidate.level === 20 && candidate.stored === 1));
    expect(line.msg).toMatch(new RegExp(`^${own}EcommerceOrders shard \\S+: 1 stored, 0 dropped, 0 already applied, 0 older than the horizon$`));
    expect(await verbose.stop()).toBe(0);
  });
});


describe('stopping', () => {
  it('SIGTERM stops the server and the follower (exit 0) and releases the leases: a cache follow started after takes them at once', async () => {
    const stopPrefix = uniquePrefix('serve-follow-stop');
    await createTables(stopPrefix, { streams: true });
    const served = await serve(['--follow', '--redis-url', inject('redisUrl')], { prefix: stopPrefix });
    await until(20_000, 'leases taken', () => (followerLines(served).filter((line) => / lease taken /.test(line.msg)).length === 2 ? true : undefined));
    const asked = Date.now();
    expect(await served.stop('SIGTERM')).toBe(0);
    // Well within --shutdown-timeout (10 s): an idle shard's reader waits 250 ms between reads.
    expect(Date.now() - asked).toBeLessThan(5_000);
    const stopped = followerLines(served).find((line) => line.msg.startsWith('cache follower stopped'));
    expect(stopped?.level).toBe(30);
    expect(stopped?.msg).toContain('leases released');

    // A lease never released would be taken only once its counter stood still for 60 s; a released one is free now.
    const follower = execa(BIN, ['cache', 'follow', '--lease-seconds', '60'], { reject: false, env: testEnv(stopPrefix, { SHOPDB_REDIS_URL: inject('redisUrl') }), extendEnv: true, stdin: 'ignore', buffer: false });
    let err = '';
    follower.stderr?.setEncoding('utf8');
    follower.stderr?.on('data', (chunk: string) => {
      err += chunk;
    });
    try {
      const started = Date.now();
      await until(15_000, `cache follow takes both shards; stderr: ${err}`, () => ((err.match(/lease taken \(free\)/g) ?? []).length === 2 ? true : undefined));
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(err).not.toContain('expired, held by');
    } finally {
      follower.kill('SIGTERM');
      expect((await follower).exitCode).toBe(0);
    }
  });
});

describe('replicas', () => {
  it('two serve --follow replicas share the shards through the leases; one killed (SIGKILL), the other takes its shard within the lease time', async () => {
    const own = uniquePrefix('serve-follow-replicas');
    await createTables(own, { streams: true });
    const shards = async (served: Served) => {
      const text = await metricsOf(served);
      return (value(text, 'shopdb_follower_shards', { table: `${own}EcommerceOrders` }) ?? 0) + (value(text, 'shopdb_follower_shards', { table: `${own}EcommerceCarts` }) ?? 0);
    };
    const args = ['--follow', '--follow-lease-seconds', '3', '--redis-url', inject('redisUrl')];
    const first = await serve(args, { prefix: own });
    await until(20_000, 'the first holds both shards', async () => ((await shards(first)) === 2 ? true : undefined));
    const second = await serve(args, { prefix: own });
    // An even share: the second takes one from the first, which sees it gone at its next round (a third of the lease time).
    await until(15_000, 'one shard each', async () => ((await shards(first)) === 1 && (await shards(second)) === 1 ? true : undefined));
    expect(followerLines(second).some((line) => / lease taken \(balancing: /.test(line.msg))).toBe(true);

    const killed = Date.now();
    expect(await second.stop('SIGKILL')).toBeUndefined();
    await until(15_000, 'the first holds both again', async () => ((await shards(first)) === 2 ? true : undefined));
    // The lease time (3 s), the round that notices it (1 s) and a scrape, with room for a loaded machine.
    expect(Date.now() - killed).toBeLessThan(10_000);
    expect(followerLines(first).some((line) => / lease taken \(expired, held by /.test(line.msg))).toBe(true);
    expect(await first.stop()).toBe(0);
  });
});

describe('refusals', () => {
  it('a table without a stream stops the start: exit 4, one line, nothing listening', async () => {
    const bare = uniquePrefix('serve-follow-bare');
    // The original design's tables: no stream.
    await boto3([{ op: 'create_tables', prefix: bare }]);
    const run = await shopdb(['serve', '--port', '0', '--follow', '--redis-url', inject('redisUrl')], { prefix: bare });
    expect(run.exitCode).toBe(4);
    expect(run.stdout).toBe('');
    const error = jsonError(run);
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain(`table ${bare}EcommerceOrders at`);
    expect(error.message).toContain('has no stream');
    expect(error.message).toMatch(/; run: shopdb --table-prefix \S+ tables create$/);
    // Nothing created: the lease table comes after every stream is checked.
    const client = rawClient();
    try {
      const { TableNames } = await client.send(new ListTablesCommand({}));
      expect(TableNames?.filter((name) => name.startsWith(bare)).sort()).toEqual([`${bare}EcommerceCarts`, `${bare}EcommerceOrders`]);
    } finally {
      client.destroy();
    }
  });

  it('tables that do not exist stop the start: exit 3, one line', async () => {
    const none = uniquePrefix('serve-follow-none');
    const run = await shopdb(['serve', '--port', '0', '--follow', '--redis-url', inject('redisUrl')], { prefix: none });
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toBe('');
    const error = jsonError(run);
    expect(error.message).toContain(`${none}EcommerceOrders`);
    expect(error.message).toMatch(/tables create/);
  });

  it.each([
    [['--follow', '--follow-lease-seconds', '0'], '"0" is not allowed'],
    [['--follow', '--follow-lease-seconds', 'ten'], '"ten" is not allowed'],
    [['--follow', '--follow-lease-seconds', '3601'], 'from 1 to 3600'],
    [['--follow-lease-seconds', '5'], 'only applies with --follow'],
  ])('serve %j: exit 2, one line naming follow-lease-seconds', async (args, reason) => {
    const run = await shopdb(['serve', '--port', '0', ...args, '--redis-url', inject('redisUrl')], { prefix });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    const error = jsonError(run);
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('follow-lease-seconds');
    expect(error.message).toContain(reason);
  });
});

describe('a Redis that does not answer', () => {
  it('the server starts and answers from DynamoDB; the follower warns once, counts cache errors and holds its batch', async () => {
    // Tables of its own: a follower of the first tables would share their shards with the one above.
    const own = uniquePrefix('serve-follow-noredis');
    const orders = `${own}EcommerceOrders`;
    await createTables(own, { streams: true });
    const redisPort = await freePort();
    const served = await serve(['--follow', '--redis-url', `redis://127.0.0.1:${redisPort}`], { prefix: own });
    await until(20_000, 'leases taken', () => (followerLines(served).filter((line) => / lease taken /.test(line.msg)).length === 2 ? true : undefined));
    // The order is written behind the server's back: only the follower has something to bring to Redis.
    await boto3([{ op: 'create_order', table: orders, orderId: 'o-follow-dead-redis', userId: 'u-1', totalAmount: '3.00' }]);
    const text = await until(10_000, 'a cache error counted', async () => {
      const current = await metricsOf(served);
      return (value(current, 'shopdb_follower_errors_total', { kind: 'cache' }) ?? 0) >= 1 ? current : undefined;
    });
    // The batch is held (retried, not checkpointed) until Redis answers.
    expect(value(text, 'shopdb_follower_records_total', { table: orders, outcome: 'stored' })).toBe(0);
    expect(value(text, 'shopdb_follower_lag_seconds_count', { table: orders })).toBe(0);
    const read = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-dead-redis');
    expect(read.status).toBe(200);
    expect(read.body.status).toBe('PENDING');
    expect(read.headers.get('x-cache')).toBe('off');
    const warnings = followerLines(served).filter((line) => line.level === 40);
    // One at start (Redis out), one when a change could not be applied (naming why); each once.
    expect(warnings.map((line) => line.msg)).toEqual([
      `Redis at redis://127.0.0.1:${redisPort}: connection refused; the follower retries each batch until the cache can be updated`,
      `the cache could not be updated from ${orders}'s stream (Redis at redis://127.0.0.1:${redisPort}: connection refused); retrying (cached reads may be stale meanwhile)`,
    ]);
    // Redis out is no reason to take the replica out: reads still work.
    const ready = await http<{ redis: string }>(served.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.redis).toBe('down');
    expect(await served.stop('SIGTERM')).toBe(0);
  });
});

describe('a DynamoDB that does not answer at start', () => {
  let forwarder: Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (forwarder ? forwarder.close(() => resolve()) : resolve())));

  it('the server starts (not ready), the follower retries in the background and follows once DynamoDB answers', async () => {
    const own = uniquePrefix('serve-follow-late');
    const orders = `${own}EcommerceOrders`;
    await createTables(own, { streams: true });
    const port = await freePort();
    const upstream = new URL(inject('dynamoEndpoint'));
    const served = await serve(['--follow', '--redis-url', inject('redisUrl'), '--endpoint', `http://127.0.0.1:${port}`, '--timeout', '1'], { prefix: own });
    const notReady = await http(served.url, 'GET', '/readyz');
    expect(notReady.status).toBe(503);
    const warned = await until(5_000, 'the follower warns', () => followerLines(served).find((line) => line.level === 40));
    expect(warned.msg).toMatch(/^the cache follower cannot start yet \(.*\); retrying in the background/);
    expect(value(await metricsOf(served), 'shopdb_follower_errors_total', { kind: 'stream' })).toBeGreaterThanOrEqual(1);
    expect(value(await metricsOf(served), 'shopdb_follower_shards', { table: orders })).toBe(0);

    // DynamoDB appears at that address: a plain TCP forwarder to the suite's DynamoDB Local.
    const sockets = new Set<Socket>();
    forwarder = createServer((socket) => {
      const outgoing = connect(Number(upstream.port), upstream.hostname);
      sockets.add(socket).add(outgoing);
      socket.pipe(outgoing).pipe(socket);
      const end = () => {
        socket.destroy();
        outgoing.destroy();
      };
      socket.on('error', end).on('close', end);
      outgoing.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => forwarder?.listen(port, '127.0.0.1', resolve));
    await until(25_000, `the follower starts; log: ${served.logs()}`, () => followerLines(served).find((line) => line.msg.startsWith('following ')));
    await until(20_000, 'leases taken', () => (followerLines(served).filter((line) => / lease taken /.test(line.msg)).length === 2 ? true : undefined));
    await createOrder(served, 'o-follow-late');
    await http(served.url, 'GET', '/v1/orders/o-follow-late');
    expect((await http(served.url, 'GET', '/v1/orders/o-follow-late')).headers.get('x-cache')).toBe('hit');
    await boto3([{ op: 'update_order_status', table: orders, orderId: 'o-follow-late', status: 'CANCELLED' }]);
    await until(5_000, 'the boto3 update in the cached read', async () => {
      const read = await http<{ status: string }>(served.url, 'GET', '/v1/orders/o-follow-late');
      return read.body.status === 'CANCELLED' && read.headers.get('x-cache') === 'hit' ? true : undefined;
    });
    expect((await http(served.url, 'GET', '/readyz')).status).toBe(200);
    expect(await served.stop('SIGTERM')).toBe(0);
    for (const socket of sockets) socket.destroy();
  });
});
