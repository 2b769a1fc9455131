import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { createTables, uniquePrefix } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { samples, value } from '../support/prometheus.js';
import { http, startServe, type Served } from '../support/serve.js';

/*
 * GET /metrics of a real `shopdb serve` process: what a request, a cache read
 * and a DynamoDB call leave in it, that ids, query strings and the token never
 * appear in it, and that the in-flight gauge comes back down.
 */
const prefix = uniquePrefix('serve-metrics');
const ORDERS = `${prefix}EcommerceOrders`;
const TOKEN = 'metrics-test-token-0123456789abcdef';

const running: Served[] = [];
async function serve(args: string[], env: Record<string, string | undefined> = {}): Promise<Served> {
  const served = await startServe({ prefix, args, env });
  running.push(served);
  return served;
}

beforeAll(() => createTables(prefix));
afterAll(async () => {
  for (const served of running) expect(await served.stop()).toBe(0);
});

async function metricsOf(served: Served, token?: string): Promise<string> {
  const answer = await http(served.url, 'GET', '/metrics', token === undefined ? {} : { token });
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return answer.text;
}

describe('GET /metrics', () => {
  it('counts requests by route pattern, cache reads by outcome, and DynamoDB calls with their capacity', async () => {
    const served = await serve(['--cache', '--redis-url', inject('redisUrl')]);
    const created = await http(served.url, 'POST', '/v1/orders', { body: { orderId: 'o-metrics-secret-1', userId: 'u-1', totalAmount: '4.20' } });
    expect(created.status).toBe(201);
    const hit = await http(served.url, 'GET', '/v1/orders/o-metrics-secret-1?consistent=false');
    expect(hit.headers.get('x-cache')).toBe('hit');
    const bypass = await http(served.url, 'GET', '/v1/orders/o-metrics-secret-1', { headers: { 'cache-control': 'no-cache' } });
    expect(bypass.headers.get('x-cache')).toBe('bypass');
    expect((await http(served.url, 'GET', '/v1/orders/o-metrics-missing-2')).status).toBe(404);
    expect((await http(served.url, 'GET', '/no/such/route-secret-3')).status).toBe(404);

    const text = await metricsOf(served);
    const route = { route: '/v1/orders/:orderId', method: 'GET' };
    expect(value(text, 'shopdb_http_request_duration_seconds_count', { ...route, status: '200' })).toBe(2);
    expect(value(text, 'shopdb_http_request_duration_seconds_count', { ...route, status: '404' })).toBe(1);
    expect(value(text, 'shopdb_http_request_duration_seconds_count', { route: '/v1/orders', method: 'POST', status: '201' })).toBe(1);
    // The route that matched nothing is one series, whatever the path was.
    const unmatched = samples(text).filter((s) => s.name === 'shopdb_http_request_duration_seconds_count' && s.labels.status === '404' && s.labels.route !== route.route);
    expect(unmatched.map((s) => s.value)).toEqual([1]);
    // This very request is the one in flight.
    expect(value(text, 'shopdb_http_requests_in_flight')).toBe(1);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'hit' })).toBe(1);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'bypass' })).toBe(1);
    expect(value(text, 'shopdb_cache_errors_total')).toBe(0);
    // The bypass and the not-found miss each read DynamoDB once.
    expect(value(text, 'shopdb_dynamodb_calls_total', { operation: 'GetItem', table: ORDERS, outcome: 'ok' })).toBe(2);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: ORDERS, kind: 'read' })).toBeGreaterThan(0);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: ORDERS, kind: 'write' })).toBeGreaterThan(0);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    for (const secret of ['o-metrics-secret-1', 'o-metrics-missing-2', 'route-secret-3', 'consistent=']) expect(text).not.toContain(secret);
  });

  it('needs the bearer token when one is set, and never shows it', async () => {
    const served = await serve([], { SHOPDB_API_TOKEN: TOKEN });
    const refused = await http(served.url, 'GET', '/metrics');
    expect(refused.status).toBe(401);
    expect((await http(served.url, 'GET', '/metrics', { token: `${TOKEN}x` })).status).toBe(401);
    expect((await http(served.url, 'GET', '/v1/orders/o-any', { token: TOKEN })).status).toBe(404);
    const text = await metricsOf(served, TOKEN);
    expect(text).not.toContain(TOKEN);
    expect(value(text, 'shopdb_http_request_duration_seconds_count', { route: '/metrics', method: 'GET', status: '401' })).toBe(2);
    expect(value(text, 'shopdb_http_request_duration_seconds_count', { route: '/v1/orders/:orderId', method: 'GET', status: '404' })).toBe(1);
  });

  it('counts cache errors and off reads while Redis is unreachable, and every read still answers', async () => {
    const served = await serve(['--cache', '--redis-url', `redis://127.0.0.1:${await freePort()}`]);
    await http(served.url, 'POST', '/v1/orders', { body: { orderId: 'o-metrics-dead-redis', userId: 'u-1', totalAmount: '1.00' } });
    const read = await http(served.url, 'GET', '/v1/orders/o-metrics-dead-redis');
    expect(read.status).toBe(200);
    expect(read.headers.get('x-cache')).toBe('off');
    const text = await metricsOf(served);
    expect(value(text, 'shopdb_cache_errors_total')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'off' })).toBe(1);
  });
});

describe('the in-flight gauge', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    // DynamoDB answers GetItem only after 1.5 s: long enough for the client to give up first.
    proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => (request.operation === 'GetItem' ? { holdMs: 1500 } : 'forward'));
  });
  afterAll(() => proxy?.close());

  it('comes back down when clients give up before the answer, and counts each such request once, as 499', async () => {
    const served = await serve(['--endpoint', proxy.endpoint]);
    const gaveUp = Array.from({ length: 3 }, async () => {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 200);
      await expect(fetch(`${served.url}/v1/orders/o-abandoned`, { signal: abort.signal })).rejects.toThrow();
    });
    await Promise.all(gaveUp);
    const route = { route: '/v1/orders/:orderId', method: 'GET' };
    // Only /metrics itself is in flight: a request whose client left is no longer waited for. The server
    // sees each client leave a moment after it does (longer on a loaded machine), and well before DynamoDB
    // answers (1.5 s after the request): read until then.
    const deadline = Date.now() + 1_000;
    let early = await metricsOf(served);
    while (value(early, 'shopdb_http_requests_in_flight') !== 1 && Date.now() < deadline) {
      await sleep(50);
      early = await metricsOf(served);
    }
    expect(value(early, 'shopdb_http_requests_in_flight')).toBe(1);
    // Recorded as nginx records them: 499, client closed the request.
    expect(value(early, 'shopdb_http_request_duration_seconds_count', { ...route, status: '499' })).toBe(3);
    // Once DynamoDB has answered and the handlers have finished, nothing is counted twice.
    await sleep(2500);
    const late = await metricsOf(served);
    expect(value(late, 'shopdb_http_requests_in_flight')).toBe(1);
    const recorded = samples(late).filter((s) => s.name === 'shopdb_http_request_duration_seconds_count' && s.labels.route === route.route);
    expect(recorded.map((s) => [s.labels.status, s.value])).toEqual([['499', 3]]);
  });
});
