import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';
import { samples, value } from '../support/prometheus.js';

describe('createMetrics', () => {
  it('serves Prometheus text with the content type Prometheus expects', async () => {
    const metrics = createMetrics();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.render();
    expect(() => samples(text)).not.toThrow();
  });

  it('records request durations by route pattern, method and status, and the in-flight gauge', async () => {
    const metrics = createMetrics();
    metrics.requestStarted();
    metrics.requestStarted();
    metrics.requestStarted();
    expect(value(await metrics.render(), 'shopdb_http_requests_in_flight')).toBe(3);
    metrics.requestFinished('/v1/orders/:orderId', 'get', 200, 0.003);
    metrics.requestFinished('/v1/orders/:orderId', 'GET', 200, 0.2);
    metrics.requestFinished('/v1/orders', 'POST', 201, 0.0005);
    const text = await metrics.render();
    expect(value(text, 'shopdb_http_requests_in_flight')).toBe(0);
    const get = { route: '/v1/orders/:orderId', method: 'GET', status: '200' };
    expect(value(text, 'shopdb_http_request_duration_seconds_count', get)).toBe(2);
    expect(value(text, 'shopdb_http_request_duration_seconds_sum', get)).toBeCloseTo(0.203, 9);
    expect(value(text, 'shopdb_http_request_duration_seconds_bucket', { ...get, le: '0.0025' })).toBe(0);
    expect(value(text, 'shopdb_http_request_duration_seconds_bucket', { ...get, le: '0.005' })).toBe(1);
    expect(value(text, 'shopdb_http_request_duration_seconds_bucket', { ...get, le: '0.25' })).toBe(2);
    expect(value(text, 'shopdb_http_request_duration_seconds_bucket', { ...get, le: '+Inf' })).toBe(2);
    expect(value(text, 'shopdb_http_request_duration_seconds_bucket', { route: '/v1/orders', method: 'POST', status: '201', le: '0.001' })).toBe(1);
  });

  it('counts cache reads by outcome (all four present from the start) and cache errors', async () => {
    const metrics = createMetrics();
    const before = await metrics.render();
    for (const outcome of ['hit', 'miss', 'bypass', 'off']) expect(value(before, 'shopdb_cache_reads_total', { outcome })).toBe(0);
    expect(value(before, 'shopdb_cache_errors_total')).toBe(0);
    metrics.cacheRead('hit');
    metrics.cacheRead('hit');
    metrics.cacheRead('miss');
    metrics.cacheRead('off');
    metrics.cacheError();
    const text = await metrics.render();
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'hit' })).toBe(2);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'miss' })).toBe(1);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'bypass' })).toBe(0);
    expect(value(text, 'shopdb_cache_reads_total', { outcome: 'off' })).toBe(1);
    expect(value(text, 'shopdb_cache_errors_total')).toBe(1);
  });

  it('counts DynamoDB calls, throttled attempts and consumed capacity per table and kind', async () => {
    const metrics = createMetrics();
    metrics.dynamoCall({ operation: 'GetItem', table: 'p-EcommerceOrders', outcome: 'ok', readUnits: 0.5, writeUnits: 0 });
    metrics.dynamoCall({ operation: 'GetItem', table: 'p-EcommerceOrders', outcome: 'ok', readUnits: 1, writeUnits: 0, throttledAttempts: 2 });
    metrics.dynamoCall({ operation: 'UpdateItem', table: 'p-EcommerceOrders', outcome: 'throttled', readUnits: 0, writeUnits: 0 });
    // A transaction over both tables: its units split per table.
    metrics.dynamoCall({
      operation: 'TransactWriteItems',
      table: 'p-EcommerceCarts+p-EcommerceOrders',
      outcome: 'ok',
      readUnits: 0,
      writeUnits: 6,
      capacity: [
        { table: 'p-EcommerceCarts', read: 0, write: 2 },
        { table: 'p-EcommerceOrders', read: 0, write: 4 },
      ],
    });
    metrics.dynamoCall({ operation: 'ListTables', table: undefined, outcome: 'error', readUnits: 0, writeUnits: 0 });
    const text = await metrics.render();
    expect(value(text, 'shopdb_dynamodb_calls_total', { operation: 'GetItem', table: 'p-EcommerceOrders', outcome: 'ok' })).toBe(2);
    expect(value(text, 'shopdb_dynamodb_calls_total', { operation: 'UpdateItem', table: 'p-EcommerceOrders', outcome: 'throttled' })).toBe(1);
    expect(value(text, 'shopdb_dynamodb_calls_total', { operation: 'ListTables', table: 'none', outcome: 'error' })).toBe(1);
    expect(value(text, 'shopdb_dynamodb_throttles_total', { operation: 'GetItem', table: 'p-EcommerceOrders' })).toBe(2);
    expect(value(text, 'shopdb_dynamodb_throttles_total', { operation: 'UpdateItem', table: 'p-EcommerceOrders' })).toBe(1);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: 'p-EcommerceOrders', kind: 'read' })).toBe(1.5);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: 'p-EcommerceOrders', kind: 'write' })).toBe(4);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: 'p-EcommerceCarts', kind: 'write' })).toBe(2);
    expect(value(text, 'shopdb_dynamodb_consumed_capacity_units_total', { table: 'p-EcommerceCarts', kind: 'read' })).toBeUndefined();
  });

  it("includes prom-client's default process metrics", async () => {
    const text = await createMetrics().render();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(samples(text).some((s) => s.name === name), name).toBe(true);
    }
  });

  it('keeps each server its own registry: two never share counts', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.cacheError();
    one.cacheError();
    two.cacheError();
    expect(value(await one.render(), 'shopdb_cache_errors_total')).toBe(2);
    expect(value(await two.render(), 'shopdb_cache_errors_total')).toBe(1);
  });
});

describe('property: label values stay bounded, whatever a request carried', () => {
  const secret = 'tok-SECRET-1234';
  const request = fc.record({
    route: fc.oneof(fc.constantFrom('/v1/orders/:orderId', '/v1/carts', '/healthz', ''), fc.string()),
    query: fc.option(fc.string(), { nil: undefined }),
    method: fc.oneof(fc.constantFrom('GET', 'post', 'Delete'), fc.string()),
    status: fc.oneof(fc.constantFrom(200, 201, 304, 404, 503), fc.integer(), fc.double()),
  });

  it('a query string never reaches a label, methods and statuses take known values, and the counts add up', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 30 }), async (requests) => {
        const metrics = createMetrics();
        for (let i = 0; i < requests.length; i++) metrics.requestStarted();
        for (const r of requests) {
          const route = r.query === undefined ? r.route : `${r.route}?token=${secret}&${r.query}`;
          metrics.requestFinished(route, r.method, r.status, 0.01);
        }
        const all = samples(await metrics.render()).filter((s) => s.name === 'shopdb_http_request_duration_seconds_count');
        expect(all.reduce((sum, s) => sum + s.value, 0)).toBe(requests.length);
        for (const s of all) {
          expect(s.labels.route).not.toContain('?');
          expect(s.labels.route).not.toContain(secret);
          expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other']).toContain(s.labels.method);
          expect(s.labels.status).toMatch(/^([1-5]\d\d|other)$/);
        }
        expect(value(await metrics.render(), 'shopdb_http_requests_in_flight')).toBe(0);
      }),
      { numRuns: 50 },
    );
  });
});
