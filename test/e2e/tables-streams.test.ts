/**
 * tables create gives the orders and carts tables a DynamoDB stream
 * (NEW_AND_OLD_IMAGES), the cache follower reads: when it creates them, and
 * on tables that exist without one (the original design's, shopdb's before
 * this version, one turned off on purpose); a stream of another view type is
 * left alone and warned about; tables status shows each stream. On DynamoDB
 * Local (dynalite, which has no streams: dynalite.test.ts).
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, type StreamSpecification } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { indexesOf, indexKeyAttributes } from '../../src/core/indexes.js';
import { boto3, boto3Get } from '../support/boto3.js';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { dynamoEndpoint, privateEngine } from '../support/endpoint.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { pty, STACK_LINE, type PtyRun } from '../support/pty.js';

// Adds indexes to the original design's tables: see privateEngine().
privateEngine();

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Stream {
  status: string;
  viewType: string | null;
  latestArn: string | null;
  change?: string;
}

interface Report {
  kind: string;
  name: string;
  result: string;
  status: string;
  stream?: Stream;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let dynamo: DynamoDBClient | undefined;
let streams: DynamoDBStreamsClient | undefined;

function client(): DynamoDBClient {
  dynamo ??= new DynamoDBClient({ endpoint: dynamoEndpoint(), region: 'us-east-1', credentials });
  return dynamo;
}

function streamsClient(): DynamoDBStreamsClient {
  streams ??= new DynamoDBStreamsClient({ endpoint: dynamoEndpoint(), region: 'us-east-1', credentials });
  return streams;
}

afterAll(() => {
  dynamo?.destroy();
  streams?.destroy();
});

function tables(run: Run): Report[] {
  expect(run.exitCode, run.stderr).toBe(0);
  return run.json<{ tables: Report[] }>().tables;
}

/** The table as DynamoDB describes it: its stream specification and latest stream ARN. */
async function described(name: string): Promise<{ spec: StreamSpecification | undefined; arn: string | undefined }> {
  const { Table } = await client().send(new DescribeTableCommand({ TableName: name }));
  return { spec: Table?.StreamSpecification, arn: Table?.LatestStreamArn };
}

/** The orders and carts tables exactly as shopdb makes them (keys, indexes), with `stream` or none: only the stream differs. */
async function createAsShopdb(prefix: string, stream?: StreamSpecification): Promise<void> {
  for (const [kind, base, hashKey] of [['orders', 'EcommerceOrders', 'orderId'], ['carts', 'EcommerceCarts', 'cartId']] as const) {
    const indexes = indexesOf(kind);
    await client().send(
      new CreateTableCommand({
        TableName: `${prefix}${base}`,
        KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
        AttributeDefinitions: [hashKey, ...indexKeyAttributes(indexes)].map((attribute) => ({ AttributeName: attribute, AttributeType: 'S' })),
        GlobalSecondaryIndexes: indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [{ AttributeName: index.hashKey, KeyType: 'HASH' }, ...(index.rangeKey === undefined ? [] : [{ AttributeName: index.rangeKey, KeyType: 'RANGE' as const }])],
          Projection: index.projection === 'ALL' ? { ProjectionType: 'ALL' } : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
        })),
        BillingMode: 'PAY_PER_REQUEST',
        ...(stream === undefined ? {} : { StreamSpecification: stream }),
      }),
    );
  }
}

/** Every record of the stream so far, from the trim horizon of each shard. */
async function records(arn: string): Promise<_Record[]> {
  const { StreamDescription } = await streamsClient().send(new DescribeStreamCommand({ StreamArn: arn }));
  const all: _Record[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let { ShardIterator: iterator } = await streamsClient().send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    // An open shard always hands back a next iterator: stop at the first empty page.
    for (let pages = 0; iterator !== undefined && pages < 20; pages++) {
      const page = await streamsClient().send(new GetRecordsCommand({ ShardIterator: iterator }));
      all.push(...(page.Records ?? []));
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return all;
}

/** Lines shopdb wrote on stderr (warnings), each once. */
function warnings(run: Run): string[] {
  return run.stderr.split('\n').filter((line) => line.startsWith('shopdb: warning: '));
}

const ENABLED = { status: 'ENABLED', viewType: 'NEW_AND_OLD_IMAGES', latestArn: expect.stringMatching(/^arn:aws:dynamodb:.*\/stream\//) };

describe('--no-stream', () => {
  it('creates tables without a stream and leaves an existing stream alone (neither added nor turned off)', async () => {
    const bare = uniquePrefix('st-nostream');
    const created = tables(await shopdb(['tables', 'create', '--no-stream'], { prefix: bare }));
    expect(created.map((table) => table.result)).toEqual(['created', 'created', 'created']);
    for (const base of ['EcommerceOrders', 'EcommerceCarts']) expect((await described(`${bare}${base}`)).spec?.StreamEnabled).not.toBe(true);
    expect(created[0]!.stream).toMatchObject({ status: 'NONE' });
    // Run again without the flag, the stream is added; with it once more, the stream stays.
    expect(tables(await shopdb(['tables', 'create'], { prefix: bare }))[0]!.stream).toMatchObject({ status: 'ENABLED' });
    const kept = tables(await shopdb(['tables', 'create', '--no-stream'], { prefix: bare }));
    expect(kept.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
    expect(kept[0]!.stream).toMatchObject({ status: 'ENABLED' });
    expect((await described(`${bare}EcommerceOrders`)).spec).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });
});

describe('new tables', () => {
  const prefix = uniquePrefix('st-new');

  it('get a NEW_AND_OLD_IMAGES stream on orders and carts, none on the idempotency keys; a second create changes nothing', async () => {
    const created = tables(await shopdb(['tables', 'create', '--billing', 'on-demand'], { prefix }));
    expect(created.map((table) => [table.kind, table.result])).toEqual([['orders', 'created'], ['carts', 'created'], ['idempotency', 'created']]);
    expect(created[0]!.stream).toEqual(ENABLED);
    expect(created[1]!.stream).toEqual(ENABLED);
    expect(created[2]).not.toHaveProperty('stream');
    // What DynamoDB itself says, and the ARN reported is the table's.
    for (const [index, base] of [[0, 'EcommerceOrders'], [1, 'EcommerceCarts']] as const) {
      const table = await described(`${prefix}${base}`);
      expect(table.spec).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
      expect(created[index]!.stream?.latestArn).toBe(table.arn);
    }
    expect((await described(`${prefix}EcommerceIdempotencyKeys`)).spec?.StreamEnabled).not.toBe(true);

    const againRun = await shopdb(['tables', 'create'], { prefix });
    const again = tables(againRun);
    expect(again.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
    // The same streams (no new one), nothing said.
    expect(again.map((table) => table.stream?.latestArn)).toEqual(created.map((table) => table.stream?.latestArn));
    expect(again[0]!.stream).not.toHaveProperty('change');
    expect(warnings(againRun)).toEqual([]);

    const statusRun = await shopdb(['tables', 'status'], { prefix });
    expect(tables(statusRun).map((table) => table.stream)).toEqual([created[0]!.stream, created[1]!.stream, undefined]);
    expect(warnings(statusRun)).toEqual([]);
  });

  it('status at a terminal shows each stream within 80 and 50 columns', async () => {
    for (const columns of [80, 50]) {
      const run: PtyRun = await pty(['tables', 'status'], { prefix, columns });
      const context = `screen at ${columns} columns:\n${run.text}`;
      expect(run.exitCode, context).toBe(0);
      expect(run.overflows.filter((line) => !line.startsWith('shopdb: ')), context).toEqual([]);
      expect(run.text, context).not.toMatch(STACK_LINE);
      expect(run.text, context).toMatch(/Stream/);
      // One row per followed table: its kind, view type and state.
      expect(run.screen.filter((line) => /(orders|carts) +│ NEW_AND_OLD_IMAGES +│ ENABLED/.test(line)), context).toHaveLength(2);
      expect(run.text, context).not.toContain('warning');
    }
  });

  it('status without the tables: stream MISSING, exit 3', async () => {
    const run = await shopdb(['tables', 'status'], { prefix: uniquePrefix('st-none') });
    expect(run.exitCode).toBe(3);
    expect(run.json<{ tables: Report[] }>().tables.map((table) => table.stream)).toEqual([
      { status: 'MISSING', viewType: null, latestArn: null },
      { status: 'MISSING', viewType: null, latestArn: null },
      undefined,
    ]);
  });
});

describe('existing tables', () => {
  it('without a stream: status warns; create adds one (updated) and only that; then exists', async () => {
    const prefix = uniquePrefix('st-none');
    await createAsShopdb(prefix);
    // Exit 3 for the missing idempotency keys' table; the streams are only warned about.
    const statusRun = await shopdb(['tables', 'status'], { prefix });
    expect(statusRun.exitCode).toBe(3);
    const before = statusRun.json<{ tables: Report[] }>().tables;
    expect(before.map((table) => table.stream?.status)).toEqual(['NONE', 'NONE', undefined]);
    expect(warnings(statusRun).join('\n')).toContain(`no stream on ${prefix}EcommerceOrders (NONE), ${prefix}EcommerceCarts (NONE): the cache follower (shopdb cache follow) needs one`);

    const createRun = await shopdb(['tables', 'create'], { prefix });
    const created = tables(createRun);
    expect(created.map((table) => table.result)).toEqual(['updated', 'updated', 'created']);
    expect(created[0]!.stream).toEqual({ ...ENABLED, change: 'enabled' });
    expect(created[1]!.stream).toEqual({ ...ENABLED, change: 'enabled' });
    expect((await described(`${prefix}EcommerceCarts`)).spec).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    // A stream added where there was none is no news worth a warning.
    expect(warnings(createRun)).toEqual([]);

    const again = tables(await shopdb(['tables', 'create'], { prefix }));
    expect(again.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
    const afterRun = await shopdb(['tables', 'status'], { prefix });
    expect(tables(afterRun).map((table) => table.stream?.status)).toEqual(['ENABLED', 'ENABLED', undefined]);
    expect(warnings(afterRun)).toEqual([]);
  });

  it('a KEYS_ONLY stream is left as it is; create and status warn that the follower can only drop entries', async () => {
    const prefix = uniquePrefix('st-keys');
    await createAsShopdb(prefix, { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
    const arn = (await described(`${prefix}EcommerceOrders`)).arn;
    const createRun = await shopdb(['tables', 'create'], { prefix });
    const created = tables(createRun);
    expect(created.map((table) => table.result)).toEqual(['exists', 'exists', 'created']);
    expect(created[0]!.stream).toEqual({ status: 'ENABLED', viewType: 'KEYS_ONLY', latestArn: arn });
    expect(warnings(createRun)).toEqual([
      `shopdb: warning: table ${prefix}EcommerceOrders: its stream's view type is KEYS_ONLY, not NEW_AND_OLD_IMAGES; left as it is (changing it means turning the stream off, which loses its records), so the cache follower can only drop cached entries on a change, not refresh them`,
      `shopdb: warning: table ${prefix}EcommerceCarts: its stream's view type is KEYS_ONLY, not NEW_AND_OLD_IMAGES; left as it is (changing it means turning the stream off, which loses its records), so the cache follower can only drop cached entries on a change, not refresh them`,
    ]);
    expect(await described(`${prefix}EcommerceOrders`)).toEqual({ spec: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' }, arn });

    const statusRun = await shopdb(['tables', 'status'], { prefix });
    expect(tables(statusRun)[1]!.stream).toMatchObject({ status: 'ENABLED', viewType: 'KEYS_ONLY' });
    expect(warnings(statusRun)).toEqual([
      `shopdb: warning: the stream of ${prefix}EcommerceOrders is KEYS_ONLY, not NEW_AND_OLD_IMAGES: the cache follower can only drop cached entries on a change, not refresh them; tables create leaves it (changing it means turning the stream off, which loses its records)`,
      `shopdb: warning: the stream of ${prefix}EcommerceCarts is KEYS_ONLY, not NEW_AND_OLD_IMAGES: the cache follower can only drop cached entries on a change, not refresh them; tables create leaves it (changing it means turning the stream off, which loses its records)`,
    ]);
    // At a terminal: the view type is shown, and the table still fits 50 columns.
    const screen = await pty(['tables', 'status'], { prefix, columns: 50 });
    expect(screen.exitCode).toBe(0);
    expect(screen.overflows.filter((line) => !line.startsWith('shopdb: '))).toEqual([]);
    expect(screen.screen.filter((line) => /(orders|carts) +│ KEYS_ONLY +│ ENABLED/.test(line))).toHaveLength(2);
  });

  it('a stream turned off: status shows DISABLED with its ARN and warns; create enables a new one and says so', async () => {
    const prefix = uniquePrefix('st-off');
    const made = tables(await shopdb(['tables', 'create'], { prefix }));
    const oldArn = made[0]!.stream?.latestArn;
    await client().send(new UpdateTableCommand({ TableName: `${prefix}EcommerceOrders`, StreamSpecification: { StreamEnabled: false } }));

    const statusRun = await shopdb(['tables', 'status'], { prefix });
    const status = tables(statusRun);
    expect(status[0]!.stream).toEqual({ status: 'DISABLED', viewType: null, latestArn: oldArn });
    expect(status[1]!.stream).toEqual(made[1]!.stream);
    expect(warnings(statusRun)).toEqual([
      `shopdb: warning: no stream on ${prefix}EcommerceOrders (DISABLED): the cache follower (shopdb cache follow) needs one; tables create enables it where the service supports streams`,
    ]);
    const screen = await pty(['tables', 'status'], { prefix, columns: 50 });
    expect(screen.screen.filter((line) => /orders +│ - +│ DISABLED/.test(line))).toHaveLength(1);

    const createRun = await shopdb(['tables', 'create'], { prefix });
    const created = tables(createRun);
    expect(created.map((table) => table.result)).toEqual(['updated', 'exists', 'exists']);
    expect(created[0]!.stream).toEqual({ ...ENABLED, change: 're-enabled' });
    const newArn = created[0]!.stream?.latestArn;
    expect(newArn).not.toBe(oldArn);
    expect((await described(`${prefix}EcommerceOrders`)).arn).toBe(newArn);
    expect(warnings(createRun)).toEqual([
      `shopdb: warning: table ${prefix}EcommerceOrders: its stream had been turned off; a new one is enabled (NEW_AND_OLD_IMAGES), as the cache follower needs; the records of the old one (${oldArn}) stay readable up to 24 hours after they were written`,
    ]);
    // At a terminal the table of streams says it too.
    await client().send(new UpdateTableCommand({ TableName: `${prefix}EcommerceCarts`, StreamSpecification: { StreamEnabled: false } }));
    const human = await pty(['tables', 'create'], { prefix, columns: 50 });
    expect(human.exitCode, human.text).toBe(0);
    expect(human.overflows.filter((line) => !line.startsWith('shopdb: ')), human.text).toEqual([]);
    expect(human.screen.filter((line) => /carts +│ NEW_AND_OLD_IMAGES +│ ENABLED again/.test(line)), human.text).toHaveLength(1);
    expect(human.raw).toContain(`table ${prefix}EcommerceCarts: its stream had been turned off`);
  });

  it("the original design's tables (boto3) gain a stream without losing items, and it records the design's own writes", async () => {
    const prefix = uniquePrefix('st-boto');
    const orders = `${prefix}EcommerceOrders`;
    const carts = `${prefix}EcommerceCarts`;
    const cart = { cartId: { S: 'c-py' }, userId: { S: 'u-py' }, products: { L: [{ M: { productId: { S: 'p1' }, quantity: { N: '2' } } }] } };
    await boto3([
      { op: 'create_tables', prefix },
      { op: 'create_order', table: orders, orderId: 'py-1', userId: 'u-py', totalAmount: '19.99' },
      { op: 'create_order', table: orders, orderId: 'py-2', userId: 'u-py', totalAmount: '5' },
      { op: 'put_item', table: carts, item: cart },
    ]);
    const before = await Promise.all([boto3Get(orders, { orderId: { S: 'py-1' } }), boto3Get(orders, { orderId: { S: 'py-2' } }), boto3Get(carts, { cartId: { S: 'c-py' } })]);

    const created = tables(await shopdb(['tables', 'create'], { prefix }));
    expect(created.map((table) => table.result)).toEqual(['updated', 'updated', 'created']);
    expect(created[0]!.stream).toEqual({ ...ENABLED, change: 'enabled' });
    expect(created[1]!.stream).toEqual({ ...ENABLED, change: 'enabled' });
    // Every item exactly as the design wrote it.
    const after = await Promise.all([boto3Get(orders, { orderId: { S: 'py-1' } }), boto3Get(orders, { orderId: { S: 'py-2' } }), boto3Get(carts, { cartId: { S: 'c-py' } })]);
    expect(after).toEqual(before);
    expect(after[2]).toEqual(cart);

    // The design's own update (no version) is now in the orders stream, with the item before and after.
    await boto3([{ op: 'update_order_status', table: orders, orderId: 'py-1', status: 'PAID' }]);
    const seen = await records(created[0]!.stream!.latestArn!);
    const change = seen.find((record) => record.dynamodb?.Keys?.orderId?.S === 'py-1');
    expect(change?.eventName).toBe('MODIFY');
    expect(change?.dynamodb?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    expect(change?.dynamodb?.OldImage?.status).toEqual({ S: 'PENDING' });
    expect(change?.dynamodb?.NewImage?.status).toEqual({ S: 'PAID' });
  });

  it('a table being updated (ResourceInUseException, as AWS answers while an index is added) is waited for, then gets its stream', async () => {
    const prefix = uniquePrefix('st-busy');
    await createAsShopdb(prefix);
    // The first two stream changes are refused as AWS refuses them on a table being updated; the rest reach DynamoDB Local.
    let streamUpdates = 0;
    const proxy = await startFaultProxy(dynamoEndpoint(), (request) =>
      request.operation === 'UpdateTable' && request.body.includes('StreamSpecification') && ++streamUpdates <= 2 ? 'resource-in-use' : 'forward',
    );
    try {
      const run = await shopdb(['tables', 'create', '--verbose'], { prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint } });
      const created = tables(run);
      // Orders: refused twice, then enabled; carts: enabled at once.
      expect(streamUpdates).toBe(4);
      expect(created.map((table) => table.result)).toEqual(['updated', 'updated', 'created']);
      expect(created[0]!.stream).toEqual({ ...ENABLED, change: 'enabled' });
      expect(run.stderr).toContain(`waiting for ${prefix}EcommerceOrders to finish UPDATING before using it`);
      expect(proxy.seen.filter((request) => request.operation === 'UpdateTable' && request.body.includes(`"${prefix}EcommerceOrders"`))).toHaveLength(3);
    } finally {
      await proxy.close();
    }
    expect((await described(`${prefix}EcommerceOrders`)).spec).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('two tables create at once over tables without streams: both succeed, one stream each', async () => {
    const prefix = uniquePrefix('st-race');
    await createAsShopdb(prefix);
    const [one, two] = await Promise.all([shopdb(['tables', 'create'], { prefix }), shopdb(['tables', 'create'], { prefix })]);
    const reports = [tables(one), tables(two)];
    for (const kind of [0, 1]) {
      const arns = reports.map((report) => report[kind]!.stream?.latestArn);
      expect(arns[0]).toBe(arns[1]);
      expect(reports.map((report) => report[kind]!.stream?.status)).toEqual(['ENABLED', 'ENABLED']);
    }
    expect((await described(`${prefix}EcommerceOrders`)).spec).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });
});
