/**
 * The Idempotency-Key store (core/idempotency.ts, store/idempotency-table.ts)
 * driven directly against DynamoDB Local, as `shopdb serve` calls it: claim,
 * complete, replay, mismatch, running, concurrent claims, leases that run out,
 * records past expiry that TTL has not deleted yet, stale tokens, answers near
 * and over the item limit; the table's Time to Live through `tables create`
 * and `tables status`; and the same store on dynalite, which sends no item
 * back with a failed condition.
 */
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openShop, type Shop } from '../../src/app/shop.js';
import { isShopError } from '../../src/core/errors.js';
import type { IdempotencyClaim, IdempotencyStore, RecordedAnswer } from '../../src/core/idempotency.js';
import { tableNames } from '../../src/core/tables.js';
import { connectDynamo, type DynamoSettings } from '../../src/store/dynamo-client.js';
import { IdempotencyTable } from '../../src/store/index.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';
import { rawClient } from '../support/dynamo.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('idem');
const TABLE = tableNames(prefix).idempotency;
const DAY = { leaseMs: 30_000, keepSeconds: 86_400 };

function settings(endpoint: string): DynamoSettings & { endpoint: string; region: string; staticCredentials: { accessKeyId: string; secretAccessKey: string } } {
  return { endpoint, region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: endpoint };
}

let shop: Shop;
let store: IdempotencyStore;
/** A second replica: its own client, its own connections. */
let replica: IdempotencyStore;
const raw = rawClient();
const closers: Array<() => void> = [];

/** A store on its own client whose clock runs `offsetMs` ahead of this process's. */
function storeAt(offsetMs: number, table = TABLE, endpoint = inject('dynamoEndpoint')): IdempotencyTable {
  const dynamo = connectDynamo(settings(endpoint));
  closers.push(() => dynamo.client.destroy());
  return new IdempotencyTable(dynamo, table, () => Date.now() + offsetMs);
}

beforeAll(async () => {
  await createTables(prefix, { streams: true });
  shop = await openShop({ ...settings(inject('dynamoEndpoint')), tablePrefix: prefix, cache: undefined }, { debug: () => {}, warn: () => {} });
  store = shop.idempotency;
  replica = storeAt(0);
});

afterAll(async () => {
  await shop?.close();
  for (const close of closers) close();
  raw.destroy();
});

async function stored(key: string, table = TABLE): Promise<Record<string, AttributeValue> | undefined> {
  return (await raw.send(new GetItemCommand({ TableName: table, Key: { idempotencyKey: { S: key } }, ConsistentRead: true }))).Item;
}

function claimed(claim: IdempotencyClaim): string {
  expect(claim.kind).toBe('claimed');
  return (claim as { token: string }).token;
}

const created: RecordedAnswer = {
  status: 201,
  headers: { 'content-type': 'application/json', location: '/v1/orders/o-1', etag: '"1"' },
  body: JSON.stringify({ result: 'created', order: { orderId: 'o-1', userId: 'u-ü', totalAmount: '19.99', version: 1 } }),
};

describe('claim, complete, replay', () => {
  it('the first claim runs; its answer is replayed to the same request, byte for byte; another request under the key is a mismatch', async () => {
    const key = `k-${randomUUID()}`;
    const token = claimed(await store.claim(key, 'fp-a', DAY));
    await store.complete(key, token, created);

    expect(await store.claim(key, 'fp-a', DAY)).toEqual({ kind: 'replay', answer: created });
    // Another replica sees the same record.
    expect(await replica.claim(key, 'fp-a', DAY)).toEqual({ kind: 'replay', answer: created });
    expect(await replica.claim(key, 'fp-b', DAY)).toEqual({ kind: 'mismatch' });
    expect(await store.claim(key, '', DAY)).toEqual({ kind: 'mismatch' });
  });

  it('what is stored: the fingerprint and the answer gzip-compressed, state DONE, expiresAt in epoch seconds keepSeconds ahead', async () => {
    const key = `k-${randomUUID()}`;
    const before = Math.floor(Date.now() / 1000);
    const token = claimed(await store.claim(key, 'fp-stored', { leaseMs: 5_000, keepSeconds: 3_600 }));
    const running = await stored(key);
    expect(running).toMatchObject({ idempotencyKey: { S: key }, fingerprint: { S: 'fp-stored' }, state: { S: 'RUNNING' }, token: { S: token } });
    expect(Number(running?.leaseUntil?.N)).toBeGreaterThan(Date.now());
    expect(Number(running?.leaseUntil?.N)).toBeLessThanOrEqual(Date.now() + 5_000);
    await store.complete(key, token, created);
    const item = await stored(key);
    expect(item).toMatchObject({ state: { S: 'DONE' }, answerStatus: { N: '201' } });
    const expiresAt = Number(item?.expiresAt?.N);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600);
    expect(expiresAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3_600);
    const answer = item?.answer?.B;
    expect(answer).toBeInstanceOf(Uint8Array);
    expect(JSON.parse(gunzipSync(answer!).toString('utf8'))).toEqual(created);
    expect(Object.keys(item ?? {}).sort()).toEqual(['answer', 'answerBytes', 'answerStatus', 'expiresAt', 'fingerprint', 'idempotencyKey', 'leaseUntil', 'state', 'token']);
  });

  it('while the first runs: the same request is told it is running, another one mismatch; after release the next claim runs', async () => {
    const key = `k-${randomUUID()}`;
    const token = claimed(await store.claim(key, 'fp-a', DAY));
    expect(await replica.claim(key, 'fp-a', DAY)).toEqual({ kind: 'running' });
    expect(await replica.claim(key, 'fp-b', DAY)).toEqual({ kind: 'mismatch' });
    await store.release(key, token);
    expect(await stored(key)).toBeUndefined();
    // Released: the key is free for any request, the other one included.
    const again = claimed(await replica.claim(key, 'fp-b', DAY));
    expect(again).not.toBe(token);
    expect(await store.claim(key, 'fp-a', DAY)).toEqual({ kind: 'mismatch' });
  });

  it('20 concurrent claims of one key over two replicas: exactly one runs, the others are told it is running', async () => {
    const key = `k-${randomUUID()}`;
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : replica).claim(key, 'fp-race', DAY)));
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.kind === 'running')).toHaveLength(19);
    const winner = claims.find((claim) => claim.kind === 'claimed') as { token: string };
    expect((await stored(key))?.token).toEqual({ S: winner.token });
  });

  it('concurrent claims of many keys, each with a few requests: one runs per key, then all replay its answer', async () => {
    const keys = Array.from({ length: 8 }, () => `k-${randomUUID()}`);
    const claims = await Promise.all(keys.flatMap((key) => Array.from({ length: 4 }, (_, i) => (i % 2 ? store : replica).claim(key, 'fp', DAY).then((claim) => ({ key, claim })))));
    for (const key of keys) expect(claims.filter((entry) => entry.key === key && entry.claim.kind === 'claimed')).toHaveLength(1);
    await Promise.all(
      claims.flatMap(({ key, claim }) => (claim.kind === 'claimed' ? [store.complete(key, claim.token, { status: 200, headers: {}, body: key })] : [])),
    );
    const replays = await Promise.all(keys.map((key) => replica.claim(key, 'fp', DAY)));
    expect(replays).toEqual(keys.map((key) => ({ kind: 'replay', answer: { status: 200, headers: {}, body: key } })));
  });

  it('property: any key, fingerprint and answer round-trip; another fingerprint is a mismatch', async () => {
    const text = fc.string({ unit: 'grapheme', minLength: 0, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
        fc.record({ status: fc.integer({ min: 100, max: 599 }), headers: fc.dictionary(fc.stringMatching(/^[a-z][a-z-]{0,20}$/), text, { maxKeys: 4 }), body: fc.string({ unit: 'binary', maxLength: 2_000 }) }),
        async (name, fingerprint, answer) => {
          // Keys are unique per run (the property may generate the same name twice).
          const key = `${randomUUID()}${name}`;
          const token = claimed(await store.claim(key, fingerprint, DAY));
          await store.complete(key, token, answer);
          expect(await replica.claim(key, fingerprint, DAY)).toEqual({ kind: 'replay', answer });
          expect(await replica.claim(key, `${fingerprint}x`, DAY)).toEqual({ kind: 'mismatch' });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('leases and expiry', () => {
  it('a claim whose lease ran out (its replica died) is taken over by the same request; the dead holder can no longer complete or release', async () => {
    const key = `k-${randomUUID()}`;
    const dead = claimed(await store.claim(key, 'fp-a', { leaseMs: 1, keepSeconds: 60 }));
    await sleep(20);
    // Another request under the key is still a mismatch: the key stays bound to its first request.
    expect(await replica.claim(key, 'fp-b', DAY)).toEqual({ kind: 'mismatch' });
    const taker = claimed(await replica.claim(key, 'fp-a', DAY));
    expect(taker).not.toBe(dead);
    expect(await store.claim(key, 'fp-a', DAY)).toEqual({ kind: 'running' });

    await store.complete(key, dead, { status: 200, headers: {}, body: 'from the dead one' });
    await store.release(key, dead);
    expect(await stored(key)).toMatchObject({ state: { S: 'RUNNING' }, token: { S: taker } });

    await replica.complete(key, taker, { status: 200, headers: {}, body: 'from the taker' });
    expect(await store.claim(key, 'fp-a', DAY)).toEqual({ kind: 'replay', answer: { status: 200, headers: {}, body: 'from the taker' } });
  });

  it('a recorded answer past expiresAt counts as absent though TTL has not deleted it: the next claim runs, whatever its request', async () => {
    const key = `k-${randomUUID()}`;
    const token = claimed(await store.claim(key, 'fp-a', { leaseMs: 30_000, keepSeconds: 2 }));
    await store.complete(key, token, created);
    expect(await store.claim(key, 'fp-a', DAY)).toEqual({ kind: 'replay', answer: created });
    // Three seconds on: the record is still there, and ignored.
    const later = storeAt(3_000);
    expect(await stored(key)).toMatchObject({ state: { S: 'DONE' } });
    const fresh = claimed(await later.claim(key, 'fp-b', DAY));
    expect(await stored(key)).toMatchObject({ state: { S: 'RUNNING' }, fingerprint: { S: 'fp-b' }, token: { S: fresh } });
    expect((await stored(key))?.answer).toBeUndefined();
  });

  it('a record written with expiresAt in the past (a RUNNING one with a live lease, even) is reclaimed', async () => {
    const key = `k-${randomUUID()}`;
    await raw.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          idempotencyKey: { S: key },
          fingerprint: { S: 'old' },
          state: { S: 'RUNNING' },
          token: { S: 'old-token' },
          leaseUntil: { N: String(Date.now() + 3_600_000) },
          expiresAt: { N: String(Math.floor(Date.now() / 1000) - 10) },
        },
      }),
    );
    claimed(await store.claim(key, 'new', DAY));
    // And a record that expires exactly now counts as expired too (kept keepSeconds, not a second more than rounding).
    const edge = `k-${randomUUID()}`;
    await raw.send(new PutItemCommand({ TableName: TABLE, Item: { idempotencyKey: { S: edge }, fingerprint: { S: 'old' }, state: { S: 'DONE' }, token: { S: 't' }, expiresAt: { N: String(Math.floor(Date.now() / 1000)) } } }));
    claimed(await store.claim(edge, 'new', DAY));
  });

  it('stale tokens change nothing: a wrong token, a second complete, a complete after release (no record appears)', async () => {
    const key = `k-${randomUUID()}`;
    const token = claimed(await store.claim(key, 'fp', DAY));
    await store.complete(key, 'not-the-token', { status: 500, headers: {}, body: 'wrong' });
    await store.release(key, 'not-the-token');
    expect(await stored(key)).toMatchObject({ state: { S: 'RUNNING' }, token: { S: token } });

    await store.complete(key, token, created);
    await store.complete(key, token, { status: 200, headers: {}, body: 'second' });
    // A completed claim is not given up by a late release.
    await store.release(key, token);
    expect(await store.claim(key, 'fp', DAY)).toEqual({ kind: 'replay', answer: created });

    const other = `k-${randomUUID()}`;
    const released = claimed(await store.claim(other, 'fp', DAY));
    await store.release(other, released);
    await store.complete(other, released, created);
    await store.release(other, released);
    expect(await stored(other)).toBeUndefined();
  });
});

describe('large answers', () => {
  it('an answer near 400 KB is kept compressed and replayed whole', async () => {
    const key = `k-${randomUUID()}`;
    const products = Array.from({ length: 2_600 }, (_, i) => ({ productId: `p-${i}`, name: `Product number ${i}`, quantity: i, unitPrice: '12.34' }));
    const body = JSON.stringify({ result: 'updated', cart: { cartId: 'c-big', products } });
    expect(body.length).toBeGreaterThan(200_000);
    expect(body.length).toBeLessThan(400_000);
    const answer = { status: 200, headers: { 'content-type': 'application/json' }, body };
    const token = claimed(await store.claim(key, 'fp', DAY));
    await store.complete(key, token, answer);
    expect(await replica.claim(key, 'fp', DAY)).toEqual({ kind: 'replay', answer });
  });

  it('an answer too large even compressed: recorded DONE without it; a replay is a 409 problem naming the first status, with its Location; never run again', async () => {
    const key = `k-${randomUUID()}`;
    // Random bytes do not compress: ~600 KB of base64 is ~450 KB gzip-compressed, over the 400 KB item limit.
    const body = randomBytes(450_000).toString('base64');
    const token = claimed(await store.claim(key, 'fp', DAY));
    await store.complete(key, token, { status: 201, headers: { Location: '/v1/carts/c-huge', 'content-type': 'application/json' }, body });
    const item = await stored(key);
    expect(item).toMatchObject({ state: { S: 'DONE' }, answerStatus: { N: '201' }, answerLocation: { S: '/v1/carts/c-huge' } });
    expect(item?.answer).toBeUndefined();
    expect(Number(item?.answerBytes?.N)).toBeGreaterThan(body.length);

    const replay = await replica.claim(key, 'fp', DAY);
    expect(replay.kind).toBe('replay');
    const { answer } = replay as { answer: RecordedAnswer };
    expect(answer.status).toBe(409);
    expect(answer.headers).toEqual({ 'content-type': 'application/problem+json', location: '/v1/carts/c-huge' });
    const problem = JSON.parse(answer.body) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'urn:shopdb:problem:conflict', title: 'Conflict', status: 409, code: 'CONFLICT', firstStatus: 201 });
    expect(problem.detail).toMatch(/applied once and answered 201.*too large to keep/);
    expect(problem.detail).not.toMatch(/--/);
  });
});

describe('errors', () => {
  it('a missing table is TABLE_NOT_FOUND naming it, without CLI wording', async () => {
    const absent = storeAt(0, tableNames(uniquePrefix('idem-none')).idempotency);
    const error: unknown = await absent.claim('k', 'fp', DAY).catch((caught: unknown) => caught);
    expect(isShopError(error, 'TABLE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain('EcommerceIdempotencyKeys not found');
    expect((error as Error).message).not.toMatch(/--|shopdb /);
  });

  it('an empty or overlong key and a lease or keep time under one are refused before any call', async () => {
    for (const [key, options, field] of [
      ['', DAY, 'idempotency key'],
      ['k'.repeat(1_025), DAY, 'idempotency key'],
      ['k', { leaseMs: 0, keepSeconds: 60 }, 'leaseMs'],
      ['k', { leaseMs: 1_000, keepSeconds: 0.5 }, 'keepSeconds'],
    ] as const) {
      const error: unknown = await store.claim(key, 'fp', options).catch((caught: unknown) => caught);
      expect(isShopError(error, 'BAD_INPUT'), String(error)).toBe(true);
      expect((error as Error).message.startsWith(`${field}:`)).toBe(true);
    }
    expect(await stored('k')).toBeUndefined();
  });
});

describe('the table and its Time to Live', () => {
  it('tables create made it with TTL on expiresAt; tables status shows it', async () => {
    const described = await raw.send(new DescribeTimeToLiveCommand({ TableName: TABLE }));
    expect(described.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    const status = await shopdb(['tables', 'status'], { prefix });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stderr).toBe('');
    const reports = status.json<{ tables: Array<{ kind: string; name: string; result: string; timeToLive?: unknown }> }>().tables;
    expect(reports.map((report) => [report.kind, report.name, report.result])).toEqual([
      ['orders', `${prefix}EcommerceOrders`, 'present'],
      ['carts', `${prefix}EcommerceCarts`, 'present'],
      ['idempotency', TABLE, 'present'],
    ]);
    expect(reports[2]?.timeToLive).toEqual({ attribute: 'expiresAt', status: 'ENABLED' });
    expect(reports[0]?.timeToLive).toBeUndefined();
  });

  it('an existing table without TTL (made before shopdb kept keys, or by hand) gets it: result updated; status warns until then', async () => {
    const other = uniquePrefix('idem-ttl');
    const name = tableNames(other).idempotency;
    await createTables(other, { streams: true });
    // Replaced by one without Time to Live.
    await raw.send(new DeleteTableCommand({ TableName: name }));
    await raw.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: 'idempotencyKey', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'idempotencyKey', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const before = await shopdb(['tables', 'status'], { prefix: other });
    expect(before.exitCode, before.stderr).toBe(0);
    expect(before.json<{ tables: Array<{ timeToLive?: unknown }> }>().tables[2]?.timeToLive).toEqual({ attribute: 'expiresAt', status: 'DISABLED' });
    expect(before.stderr).toContain(`time to live of ${name} is DISABLED`);

    const run = await shopdb(['tables', 'create'], { prefix: other });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json<{ tables: Array<{ result: string; timeToLive?: unknown }> }>().tables.map((table) => [table.result, table.timeToLive])).toEqual([
      ['exists', undefined],
      ['exists', undefined],
      ['updated', { attribute: 'expiresAt', status: 'ENABLED' }],
    ]);
    expect((await raw.send(new DescribeTimeToLiveCommand({ TableName: name }))).TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    const again = await shopdb(['tables', 'create'], { prefix: other });
    expect(again.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
    const deleted = await shopdb(['tables', 'delete', '--yes'], { prefix: other });
    expect(deleted.json<{ tables: Array<{ name: string; result: string }> }>().tables.map((table) => [table.name, table.result])).toContainEqual([name, 'deleted']);
  });

  it('an idempotency table with another key is refused (exit 4), nothing created', async () => {
    const other = uniquePrefix('idem-key');
    await raw.send(
      new CreateTableCommand({
        TableName: tableNames(other).idempotency,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const run = await shopdb(['tables', 'create'], { prefix: other });
    expect(run.exitCode).toBe(4);
    expect(run.stderr).toContain('exists with key id (S, HASH), not idempotencyKey (S, HASH)');
    // Every table is checked before any is made: the orders and carts tables were not created.
    for (const name of [tableNames(other).orders, tableNames(other).carts]) {
      const error: unknown = await raw.send(new DescribeTableCommand({ TableName: name })).catch((caught: unknown) => caught);
      expect((error as Error).name).toBe('ResourceNotFoundException');
    }
  });
});

describe('on dynalite: no item comes back with a failed condition, and no Time to Live', () => {
  let dynalite: RunningDynalite;
  const other = uniquePrefix('idem-dl');
  let onDynalite: IdempotencyTable;

  beforeAll(async () => {
    dynalite = await startDynalite({ createTableMs: 200, deleteTableMs: 200 });
    onDynalite = storeAt(0, tableNames(other).idempotency, dynalite.endpoint);
  });
  afterAll(async () => {
    await dynalite?.stop();
  });

  it('tables create exits 0 with a notice that TTL cannot be turned on; status reports it DISABLED with a warning', async () => {
    const run = await shopdb(['tables', 'create'], { prefix: other, env: { SHOPDB_ENDPOINT: dynalite.endpoint }, timeoutMs: 90_000 });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.json<{ tables: Array<{ kind: string; result: string; timeToLive?: unknown }> }>().tables.at(2)).toMatchObject({
      kind: 'idempotency',
      result: 'created',
      timeToLive: { attribute: 'expiresAt', status: 'UNSUPPORTED' },
    });
    expect(run.stderr).toContain('the service cannot turn on Time to Live');
    const status = await shopdb(['tables', 'status'], { prefix: other, env: { SHOPDB_ENDPOINT: dynalite.endpoint } });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.json<{ tables: Array<{ timeToLive?: unknown }> }>().tables.at(2)?.timeToLive).toEqual({ attribute: 'expiresAt', status: 'DISABLED' });
    expect(status.stderr).toContain('is DISABLED');
  });

  it('claim, running, mismatch, complete, replay and concurrent claims decide alike', async () => {
    const key = `k-${randomUUID()}`;
    const token = claimed(await onDynalite.claim(key, 'fp', DAY));
    expect(await onDynalite.claim(key, 'fp', DAY)).toEqual({ kind: 'running' });
    expect(await onDynalite.claim(key, 'other', DAY)).toEqual({ kind: 'mismatch' });
    await onDynalite.complete(key, token, created);
    expect(await onDynalite.claim(key, 'fp', DAY)).toEqual({ kind: 'replay', answer: created });

    const raced = `k-${randomUUID()}`;
    const claims = await Promise.all(Array.from({ length: 10 }, () => onDynalite.claim(raced, 'fp', DAY)));
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.kind === 'running')).toHaveLength(9);
  });
});
