import type { BatchReport, FollowerStats } from '../core/follower.js';
import type { DynamoCall } from '../core/telemetry.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/*
 * What `GET /metrics` serves, in Prometheus' text format: shopdb's own series
 * (prefixed shopdb_) and prom-client's default process metrics, in a registry
 * of this server's own (never prom-client's global one, so two servers in one
 * process, as in tests, do not share or collide).
 *
 * Every label has a bounded set of values: a route pattern, never the URL; an
 * HTTP method; a status; a DynamoDB operation and table name. Nothing a client
 * sends verbatim (ids, query strings, tokens) becomes a label.
 */

export type { DynamoCall } from '../core/telemetry.js';

export type CacheReadOutcome = 'hit' | 'miss' | 'bypass' | 'off';

/** What the stream follower (`serve --follow`) reports, as its FollowerEvents take it. */
export interface FollowerMetrics {
  applied(batch: BatchReport): void;
  failed(kind: 'stream' | 'cache' | 'leases'): void;
}

export interface ServerMetrics {
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  render(): Promise<string>;
  /** In-flight gauge + 1. */
  requestStarted(): void;
  /** Observes the duration histogram and takes the request off the in-flight gauge. `route` is the route pattern, e.g. /v1/orders/:orderId. */
  requestFinished(route: string, method: string, status: number, seconds: number): void;
  cacheRead(outcome: CacheReadOutcome): void;
  cacheError(): void;
  dynamoCall(call: DynamoCall): void;
  /**
   * Registers the follower's series (absent until then: a server without
   * --follow has none), at 0 for every table followed; `stats` is read at
   * each scrape for the shards held and how far behind they are.
   */
  follower(tables: readonly string[], stats: () => FollowerStats | undefined): FollowerMetrics;
}

/**
 * Seconds. Finer than prom-client's default at the low end: a cached read
 * answers in about a millisecond, a DynamoDB read in a few.
 */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Seconds from a record's ApproximateCreationDateTime to its application.
 * DynamoDB gives that time in whole seconds (so up to 1 s is noise), DynamoDB
 * Local rounds it down to the minute (up to 60 s there).
 */
const LAG_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 300, 600];

const FOLLOWER_OUTCOMES = ['stored', 'dropped', 'seen', 'skipped'] as const;
const FOLLOWER_ERRORS = ['stream', 'cache', 'leases'] as const;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Label values for a table that is not known (a call naming none) and a route that matched nothing. */
const NONE = 'none';

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const duration = new Histogram({
    name: 'shopdb_http_request_duration_seconds',
    help: 'Time from a request arriving to its answer being sent, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({ name: 'shopdb_http_requests_in_flight', help: 'Requests being answered now', registers });
  const cacheReads = new Counter({
    name: 'shopdb_cache_reads_total',
    help: 'Reads by what the cache did: hit, miss, bypass (asked to, or a consistent read), off (no cache, or Redis out)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const cacheErrors = new Counter({ name: 'shopdb_cache_errors_total', help: 'Cache operations that failed (Redis unreachable or too slow); the request went on without the cache', registers });
  const dynamoCalls = new Counter({
    name: 'shopdb_dynamodb_calls_total',
    help: 'DynamoDB calls by operation, table and outcome (ok; throttled: the retries ran out on throttling; conditional: a condition refused, as in a race; error), counted once each, retries included',
    labelNames: ['operation', 'table', 'outcome'] as const,
    registers,
  });
  const throttles = new Counter({
    name: 'shopdb_dynamodb_throttles_total',
    help: 'DynamoDB attempts answered with a throttling error, those retried successfully included',
    labelNames: ['operation', 'table'] as const,
    registers,
  });
  const consumed = new Counter({
    name: 'shopdb_dynamodb_consumed_capacity_units_total',
    help: 'Capacity units DynamoDB reported as consumed, by table (its indexes included) and kind (read, write)',
    labelNames: ['table', 'kind'] as const,
    registers,
  });
  // Series that exist from the start read 0 rather than being absent, so rates and alerts work before the first event.
  for (const outcome of ['hit', 'miss', 'bypass', 'off'] as const) cacheReads.inc({ outcome }, 0);

  return {
    follower: (tables, stats) => followerMetrics(registers, tables, stats),
    contentType: registry.contentType,
    render: () => registry.metrics(),
    requestStarted: () => inFlight.inc(),
    requestFinished(route, method, status, seconds) {
      inFlight.dec();
      const upper = method.toUpperCase();
      duration.observe({ route: routeLabel(route), method: METHODS.has(upper) ? upper : 'other', status: statusLabel(status) }, Math.max(0, seconds));
    },
    cacheRead: (outcome) => cacheReads.inc({ outcome }),
    cacheError: () => cacheErrors.inc(),
    dynamoCall(call) {
      const table = call.table ?? NONE;
      dynamoCalls.inc({ operation: call.operation, table, outcome: call.outcome });
      const throttled = call.throttledAttempts ?? (call.outcome === 'throttled' ? 1 : 0);
      if (throttled > 0) throttles.inc({ operation: call.operation, table }, throttled);
      const uses = call.capacity ?? [{ table, read: call.readUnits, write: call.writeUnits }];
      for (const use of uses) {
        if (use.read > 0) consumed.inc({ table: use.table, kind: 'read' }, use.read);
        if (use.write > 0) consumed.inc({ table: use.table, kind: 'write' }, use.write);
      }
    },
  };
}

function followerMetrics(registers: Registry[], tables: readonly string[], stats: () => FollowerStats | undefined): FollowerMetrics {
  const followed = new Set(tables);
  const records = new Counter({
    name: 'shopdb_follower_records_total',
    help: "Stream records the follower read, by table and outcome: stored (the new image is in the cache), dropped (the entry was removed: a delete, or an image older than shopdb's own write), seen (already applied: a replay), skipped (older than the horizon, not applied)",
    labelNames: ['table', 'outcome'] as const,
    registers,
  });
  const lag = new Histogram({
    name: 'shopdb_follower_lag_seconds',
    help: "Per applied batch, by table: now minus the last record's ApproximateCreationDateTime. DynamoDB gives that time in whole seconds, and DynamoDB Local rounds it down to the minute, so this is coarse (up to 1 s too high on DynamoDB, 60 s on DynamoDB Local)",
    labelNames: ['table'] as const,
    buckets: LAG_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: 'shopdb_follower_errors_total',
    help: 'Follower operations that failed and are retried, by kind: stream (DynamoDB Streams: describe, iterator, read), cache (Redis: a change could not be applied), leases (the lease table)',
    labelNames: ['kind'] as const,
    registers,
  });
  // Both gauges are read from the follower at each scrape: a shard lost or finished leaves them at once.
  const perTable = (pick: (shards: FollowerStats['shards']) => number) =>
    function collect(this: Gauge<'table'>) {
      const shards = stats()?.shards ?? [];
      for (const table of followed) this.set({ table }, pick(shards.filter((shard) => shard.table === table)));
    };
  new Gauge({
    name: 'shopdb_follower_behind_seconds',
    help: "By table: how far behind its shard's head this replica's reading is, the largest over the shards it holds (0 when the last read reached the head, or when it holds none)",
    labelNames: ['table'] as const,
    registers,
    collect: perTable((shards) => Math.max(0, ...shards.map((shard) => shard.behindMs / 1000))),
  });
  new Gauge({
    name: 'shopdb_follower_shards',
    help: 'By table: the stream shards this replica holds the lease of (the replicas share them; none while another holds them all)',
    labelNames: ['table'] as const,
    registers,
    collect: perTable((shards) => shards.length),
  });
  for (const table of followed) {
    for (const outcome of FOLLOWER_OUTCOMES) records.inc({ table, outcome }, 0);
    lag.zero({ table });
  }
  for (const kind of FOLLOWER_ERRORS) errors.inc({ kind }, 0);
  return {
    applied(batch) {
      // Only the tables followed: a stray name must not grow the label set.
      if (!followed.has(batch.table)) return;
      for (const outcome of FOLLOWER_OUTCOMES) {
        const count = batch.outcomes[outcome];
        if (count > 0) records.inc({ table: batch.table, outcome }, count);
      }
      if (batch.lagMs !== undefined) lag.observe({ table: batch.table }, Math.max(0, batch.lagMs / 1000));
    },
    failed: (kind) => errors.inc({ kind }),
  };
}

/** The route pattern; a query string, should one slip in, is cut off, and no route at all is "none". */
function routeLabel(route: string): string {
  const path = route.split('?')[0] ?? '';
  return path === '' ? NONE : path;
}

/** A real HTTP status (100–599) as itself; anything else as "other". */
function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
}
