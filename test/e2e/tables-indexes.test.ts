/**
 * tables create makes the secondary indexes list needs, adds them to tables
 * that lack them (the original design's, or shopdb's before this version),
 * refuses a conflicting one, and tables status shows them; on DynamoDB Local
 * and on dynalite (slow like AWS; it cannot add an index to a table).
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoEndpoint, privateEngine } from '../support/endpoint.js';
import { boto3 } from '../support/boto3.js';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';

// Adds indexes to existing tables: see privateEngine().
privateEngine();

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Report {
  name: string;
  result: string;
  status: string;
  indexes: Array<{ name: string; status: string; backfilling: boolean }>;
}

function tables(run: Run): Report[] {
  expect(run.exitCode, run.stderr).toBe(0);
  return run.json<{ tables: Report[] }>().tables;
}

function client(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

describe('on DynamoDB Local', () => {
  it('orders written before the status index get its key when the index is added, and nothing else changes', async () => {
    const prefix = uniquePrefix('ix-fill');
    const name = `${prefix}EcommerceOrders`;
    // Both tables as the original design makes them, then items as shopdb wrote them before this version (no statusShard).
    await boto3([{ op: 'create_tables', prefix }]);
    const dynamo = client(dynamoEndpoint());
    const old = (orderId: string, status: string) => ({
      orderId: { S: orderId },
      userId: { S: 'u-old' },
      totalAmount: { N: '5' },
      status: { S: status },
      createdAt: { S: '2026-01-01T00:00:00.000Z' },
      updatedAt: { S: '2026-01-02T00:00:00.000Z' },
      version: { N: '4' },
    });
    for (const [id, status] of [['old-1', 'PAID'], ['old-2', 'PAID'], ['old-3', 'SHIPPED']] as const) await dynamo.send(new PutItemCommand({ TableName: name, Item: old(id, status) }));
    // The original design's order (no updatedAt) stays exactly as written: it cannot be in the status index.
    await dynamo.send(new PutItemCommand({ TableName: name, Item: { orderId: { S: 'py-1' }, userId: { S: 'u' }, totalAmount: { S: '1' }, status: { S: 'PAID' } } }));
    const run = await shopdb(['tables', 'create'], { prefix });
    const [orders] = tables(run) as Array<Report & { backfilled?: number }>;
    expect(orders).toMatchObject({ result: 'updated', backfilled: 3 });
    const listed = await shopdb(['order', 'list', '--status', 'PAID'], { prefix });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.json<{ orders: Array<{ orderId: string; version: number }> }>().orders.map((order) => [order.orderId, order.version]).sort()).toEqual([['old-1', 4], ['old-2', 4]]);
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: name, Key: { orderId: { S: 'old-3' } } }));
    expect(Item).toEqual({ ...old('old-3', 'SHIPPED'), statusShard: { S: expect.stringMatching(/^SHIPPED#[0-7]$/) } });
    const legacy = await dynamo.send(new GetItemCommand({ TableName: name, Key: { orderId: { S: 'py-1' } } }));
    expect(legacy.Item).toEqual({ orderId: { S: 'py-1' }, userId: { S: 'u' }, totalAmount: { S: '1' }, status: { S: 'PAID' } });
  });

  it('a new table gets every index, each with the table\'s provisioned capacity', async () => {
    const prefix = uniquePrefix('ix-new');
    const created = tables(await shopdb(['tables', 'create', '--rcu', '7', '--wcu', '3'], { prefix }));
    expect(created.map((table) => table.result)).toEqual(['created', 'created', 'created']);
    expect(created[0]!.indexes.map((index) => [index.name, index.status])).toEqual([
      ['userId-createdAt', 'ACTIVE'],
      ['statusShard-updatedAt', 'ACTIVE'],
      ['userId-keys', 'ACTIVE'],
    ]);
    expect(created[1]!.indexes.map((index) => index.name)).toEqual(['userId-createdAt', 'userId-keys']);
    const { Table } = await client(dynamoEndpoint()).send(new DescribeTableCommand({ TableName: `${prefix}EcommerceOrders` }));
    for (const index of Table?.GlobalSecondaryIndexes ?? []) {
      expect([index.ProvisionedThroughput?.ReadCapacityUnits, index.ProvisionedThroughput?.WriteCapacityUnits]).toEqual([7, 3]);
    }
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(3);
  });

  it('a table made by the original design\'s script gets the missing indexes (updated), then exists; status lists them', async () => {
    const prefix = uniquePrefix('ix-boto');
    await boto3([
      { op: 'create_tables', prefix },
      { op: 'create_order', table: `${prefix}EcommerceOrders`, orderId: 'py-1', userId: 'u', totalAmount: '1' },
    ]);
    // The original design has no idempotency keys' table: status exits 3 until tables create makes it.
    const beforeRun = await shopdb(['tables', 'status'], { prefix });
    expect(beforeRun.exitCode, beforeRun.stderr).toBe(3);
    const before = beforeRun.json<{ tables: Report[] }>().tables;
    expect(before.map((table) => table.result)).toEqual(['present', 'present', 'absent']);
    expect(before[0]!.indexes.map((index) => index.status)).toEqual(['MISSING', 'MISSING', 'MISSING']);
    const updated = await shopdb(['tables', 'create', '--verbose'], { prefix });
    expect(tables(updated).map((table) => table.result)).toEqual(['updated', 'updated', 'created']);
    const again = tables(await shopdb(['tables', 'create'], { prefix }));
    expect(again.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
    const status = tables(await shopdb(['tables', 'status'], { prefix }));
    expect(status.flatMap((table) => table.indexes.map((index) => `${index.name}:${index.status}:${index.backfilling}`))).toEqual([
      'userId-createdAt:ACTIVE:false',
      'statusShard-updatedAt:ACTIVE:false',
      'userId-keys:ACTIVE:false',
      'userId-createdAt:ACTIVE:false',
      'userId-keys:ACTIVE:false',
    ]);
    const listed = await shopdb(['order', 'list', '--user', 'u'], { prefix });
    expect(listed.json<{ orders: Array<{ orderId: string }> }>().orders.map((order) => order.orderId)).toEqual(['py-1']);
  });

  it('an index of the same name with another projection is a conflict (exit 4) naming it; nothing is changed', async () => {
    const prefix = uniquePrefix('ix-conflict');
    await client(dynamoEndpoint()).send(
      new CreateTableCommand({
        TableName: `${prefix}EcommerceOrders`,
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'orderId', AttributeType: 'S' },
          { AttributeName: 'userId', AttributeType: 'S' },
          { AttributeName: 'createdAt', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'userId-createdAt',
            KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }, { AttributeName: 'createdAt', KeyType: 'RANGE' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
          },
        ],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      }),
    );
    const run = await shopdb(['tables', 'create'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(run.stderr).toMatch(/index userId-createdAt has projection KEYS_ONLY, not ALL/);
    const status = await shopdb(['tables', 'status'], { prefix });
    const reports = status.json<{ tables: Report[] }>().tables;
    // Nothing else changed: neither the carts nor the idempotency keys' table was created, no index was added.
    expect(reports[1]!.status).toBe('MISSING');
    expect(reports[2]!.status).toBe('MISSING');
    expect(reports[0]!.indexes.map((index) => index.status)).toEqual(['MISMATCH', 'MISSING', 'MISSING']);
  });
});

describe('on dynalite (slow like AWS)', () => {
  let dynalite: RunningDynalite;
  beforeAll(async () => {
    dynalite = await startDynalite({ createTableMs: 1200, deleteTableMs: 500 });
  });
  afterAll(async () => {
    await dynalite?.stop();
  });
  const run = (prefix: string, args: string[]) => shopdb(args, { prefix, env: { SHOPDB_ENDPOINT: dynalite.endpoint }, timeoutMs: 90_000 });

  it('creates the tables with their indexes, waits until they are ACTIVE, and lists from them', async () => {
    const prefix = uniquePrefix('ix-dl');
    const created = tables(await run(prefix, ['tables', 'create', '--billing', 'on-demand']));
    expect(created.flatMap((table) => table.indexes.map((index) => index.status))).toEqual(Array(5).fill('ACTIVE'));
    for (let i = 1; i <= 3; i++) expect((await run(prefix, ['order', 'create', `d-${i}`, '--user', 'du', '--amount', '1'])).exitCode).toBe(0);
    const first = (await run(prefix, ['order', 'list', '--user', 'du', '--limit', '2'])).json<{ orders: Array<{ orderId: string }>; nextCursor: string }>();
    expect(first.orders.map((order) => order.orderId)).toEqual(['d-3', 'd-2']);
    const rest = (await run(prefix, ['order', 'list', '--user', 'du', '--limit', '2', '--cursor', first.nextCursor])).json<{ orders: Array<{ orderId: string }> }>();
    expect(rest.orders.map((order) => order.orderId)).toEqual(['d-1']);
    const byStatus = (await run(prefix, ['order', 'list', '--status', 'PENDING'])).json<{ orders: Array<{ orderId: string }> }>();
    expect(byStatus.orders.map((order) => order.orderId).sort()).toEqual(['d-1', 'd-2', 'd-3']);
  });

  it('a table without indexes, which dynalite cannot add: a clear exit 5, not a wait', async () => {
    const prefix = uniquePrefix('ix-dl-old');
    const dynamo = client(dynalite.endpoint);
    for (const [name, key] of [['EcommerceOrders', 'orderId'], ['EcommerceCarts', 'cartId']] as const) {
      await dynamo.send(
        new CreateTableCommand({
          TableName: `${prefix}${name}`,
          KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
          ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 2 },
        }),
      );
    }
    // Made by the original design (or shopdb before this version): ACTIVE once dynalite's delay has passed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result = await run(prefix, ['tables', 'create']);
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/cannot add indexes to an existing table/);
  });
});
