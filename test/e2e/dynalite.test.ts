/**
 * Everything shopdb does that dynalite supports, through the built binary, on
 * a second implementation of DynamoDB: one that ignores
 * ReturnValuesOnConditionCheckFailure, has no TransactWriteItems, and takes
 * its time to create and delete tables, as AWS does.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Slow like AWS: long enough that a command right after another sees the table CREATING or DELETING. */
const TABLE_MS = 1500;

let dynalite: RunningDynalite;
let dir: string;

beforeAll(async () => {
  dynalite = await startDynalite({ createTableMs: TABLE_MS, deleteTableMs: TABLE_MS });
  dir = mkdtempSync(join(tmpdir(), 'shopdb-dynalite-'));
});

afterAll(async () => {
  await dynalite?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(prefix: string, args: string[], input?: string): Promise<Run> {
  return shopdb(args, { prefix, env: { SHOPDB_ENDPOINT: dynalite.endpoint }, input, timeoutMs: 90_000 });
}

function statuses(result: Run): string[] {
  return result.json<{ tables: Array<{ status: string }> }>().tables.map((table) => table.status);
}

/** The one line shopdb printed on stderr, as JSON. */
function error(result: Run): { code: string; message: string } {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return (JSON.parse(lines[0] ?? '') as { error: { code: string; message: string } }).error;
}

describe('tables on a slow service', () => {
  it('create, status, delete, status while DELETING, and create again right after the delete', async () => {
    const prefix = uniquePrefix('dl-tables');
    // A deletion slow enough that two commands started after it (on a loaded machine) still find the tables DELETING.
    const slowDelete = await startDynalite({ createTableMs: TABLE_MS, deleteTableMs: 8000 });
    const run = (prefixUsed: string, args: string[]) =>
      shopdb(args, { prefix: prefixUsed, env: { SHOPDB_ENDPOINT: slowDelete.endpoint }, timeoutMs: 90_000 });
    try {
      const created = await run(prefix, ['tables', 'create']);
      expect(created.exitCode, created.stderr).toBe(0);
      expect(statuses(created)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
      // dynalite has no UpdateTimeToLive: a notice, not a failure (shopdb ignores expired idempotency keys itself).
      expect(created.json<{ tables: Array<{ timeToLive?: unknown }> }>().tables[2]?.timeToLive).toEqual({ attribute: 'expiresAt', status: 'UNSUPPORTED' });
      expect(created.stderr).toContain('the service cannot turn on Time to Live');
      // dynalite accepts a stream in CreateTable and ignores it, and refuses UpdateTable with only a stream: made all the same, told in one line.
      const streams = (result: Run) => result.json<{ tables: Array<{ stream?: { status: string; latestArn: string | null } }> }>().tables.map((table) => table.stream);
      expect(streams(created)).toEqual([{ status: 'UNSUPPORTED', viewType: null, latestArn: null }, { status: 'UNSUPPORTED', viewType: null, latestArn: null }, undefined]);
      const notice = `shopdb: warning: this DynamoDB does not support streams: ${prefix}EcommerceOrders and ${prefix}EcommerceCarts have none, so the cache follower cannot run on them; everything else works`;
      expect(created.stderr.split('\n').filter((line) => /stream/i.test(line))).toEqual([notice]);
      const status = await run(prefix, ['tables', 'status']);
      expect(status.exitCode, status.stderr).toBe(0);
      // None, as DescribeTable says: never shown as enabled.
      expect(streams(status)).toEqual([{ status: 'NONE', viewType: null, latestArn: null }, { status: 'NONE', viewType: null, latestArn: null }, undefined]);
      expect(status.stderr).toContain(`no stream on ${prefix}EcommerceOrders (NONE), ${prefix}EcommerceCarts (NONE)`);
      const second = await run(prefix, ['tables', 'create']);
      expect(second.exitCode, second.stderr).toBe(0);
      expect(second.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['exists', 'exists', 'exists']);
      expect(second.stderr).toContain(notice);

      const deleted = await run(prefix, ['tables', 'delete', '--yes']);
      expect(deleted.exitCode, deleted.stderr).toBe(0);
      expect(deleted.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['deleted', 'deleted', 'deleted']);

      // Still DELETING: shown as such, and not ready (exit 5), neither missing nor ACTIVE.
      const during = await run(prefix, ['tables', 'status']);
      expect(statuses(during)).toEqual(['DELETING', 'DELETING', 'DELETING']);
      expect(during.exitCode).toBe(5);
      expect(error(during).message).toContain(`${prefix}EcommerceOrders is DELETING`);

      // The deletion is waited out, then the tables are created.
      const again = await run(prefix, ['tables', 'create', '--verbose']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.json<{ tables: Array<{ result: string; status: string }> }>().tables).toMatchObject([
        { result: 'created', status: 'ACTIVE' },
        { result: 'created', status: 'ACTIVE' },
        { result: 'created', status: 'ACTIVE' },
      ]);
      expect(again.stderr).toContain(`waiting for ${prefix}EcommerceOrders to finish DELETING before creating it`);
      expect(statuses(await run(prefix, ['tables', 'status']))).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
    } finally {
      await slowDelete.stop();
    }
  });

  it('delete while the tables are still CREATING waits for them, then deletes', async () => {
    // A creation slow enough that two commands started after it (on a loaded machine) still find the tables CREATING.
    const slowCreate = await startDynalite({ createTableMs: 8000, deleteTableMs: TABLE_MS });
    const run = (prefixUsed: string, args: string[]) =>
      shopdb(args, { prefix: prefixUsed, env: { SHOPDB_ENDPOINT: slowCreate.endpoint }, timeoutMs: 90_000 });
    try {
      const prefix = uniquePrefix('dl-creating');
      const client = new DynamoDBClient({ endpoint: slowCreate.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      for (const [base, key] of [['EcommerceOrders', 'orderId'], ['EcommerceCarts', 'cartId'], ['EcommerceIdempotencyKeys', 'idempotencyKey']]) {
        await client.send(
          new CreateTableCommand({
            TableName: `${prefix}${base}`,
            KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      }
      client.destroy();
      // Both at once, while the tables are still CREATING.
      const [creating, deleted] = await Promise.all([run(prefix, ['tables', 'status']), run(prefix, ['tables', 'delete', '--yes', '--verbose'])]);
      expect(statuses(creating)).toEqual(['CREATING', 'CREATING', 'CREATING']);
      expect(creating.exitCode).toBe(5);
      expect(deleted.exitCode, deleted.stderr).toBe(0);
      expect(deleted.stderr).toContain(`waiting for ${prefix}EcommerceOrders to finish CREATING before deleting it`);
      expect(deleted.json<{ tables: Array<{ result: string }> }>().tables.map((table) => table.result)).toEqual(['deleted', 'deleted', 'deleted']);
      // Gone once the deletion finishes: create waits for that and succeeds.
      const again = await run(prefix, ['tables', 'create']);
      expect(again.exitCode, again.stderr).toBe(0);
    } finally {
      await slowCreate.stop();
    }
  });
});

describe('orders and carts without ReturnValuesOnConditionCheckFailure', () => {
  const prefix = uniquePrefix('dl-items');

  beforeAll(async () => {
    const created = await run(prefix, ['tables', 'create']);
    if (created.exitCode !== 0) throw new Error(`tables create failed: ${created.stderr}`);
  });

  it('order create: created, repeated (unchanged), other contents (exit 4)', async () => {
    const first = await run(prefix, ['order', 'create', 'o1', '--user', 'u1', '--amount', '5']);
    expect(first.json()).toMatchObject({ result: 'created', order: { orderId: 'o1', status: 'PENDING', version: 1 } });
    const repeated = await run(prefix, ['order', 'create', 'o1', '--user', 'u1', '--amount', '5.00']);
    expect(repeated.exitCode, repeated.stderr).toBe(0);
    expect(repeated.json()).toMatchObject({ result: 'unchanged', order: { orderId: 'o1', userId: 'u1' } });
    const other = await run(prefix, ['order', 'create', 'o1', '--user', 'u2', '--amount', '5']);
    expect(other.exitCode).toBe(4);
    expect(error(other)).toMatchObject({ code: 'CONFLICT' });
    expect((await run(prefix, ['order', 'get', 'o1', '--strong'])).json()).toMatchObject({ userId: 'u1', totalAmount: '5.00' });
  });

  it('order set-status: moves, repeats, illegal moves, --expect, not found', async () => {
    await run(prefix, ['order', 'create', 'o2', '--user', 'u1', '--amount', '7.50']);
    const paid = await run(prefix, ['order', 'set-status', 'o2', 'PAID']);
    expect(paid.json()).toMatchObject({ result: 'updated', order: { status: 'PAID', version: 2 } });

    const again = await run(prefix, ['order', 'set-status', 'o2', 'PAID']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ result: 'unchanged', order: { status: 'PAID', version: 2 } });

    const backwards = await run(prefix, ['order', 'set-status', 'o2', 'PENDING']);
    expect(backwards.exitCode).toBe(4);
    expect(error(backwards)).toMatchObject({ code: 'ILLEGAL_TRANSITION' });

    const expected = await run(prefix, ['order', 'set-status', 'o2', 'SHIPPED', '--expect', 'PENDING']);
    expect(expected.exitCode).toBe(4);
    expect(error(expected)).toMatchObject({ code: 'UNEXPECTED_STATUS', message: expect.stringContaining('is PAID, not PENDING') });

    const shipped = await run(prefix, ['order', 'set-status', 'o2', 'SHIPPED', '--expect', 'PAID']);
    expect(shipped.json()).toMatchObject({ result: 'updated', order: { status: 'SHIPPED', version: 3 } });

    const missing = await run(prefix, ['order', 'set-status', 'o-none', 'PAID']);
    expect(missing.exitCode).toBe(3);
    expect(error(missing)).toMatchObject({ code: 'NOT_FOUND' });
    expect((await run(prefix, ['order', 'get', 'o2'])).json()).toMatchObject({ status: 'SHIPPED', version: 3 });
  });

  it('cart create and get: created, repeated (unchanged), another user (exit 4)', async () => {
    expect((await run(prefix, ['cart', 'create', 'c1', '--user', 'u1'])).json()).toMatchObject({ result: 'created' });
    const repeated = await run(prefix, ['cart', 'create', 'c1', '--user', 'u1']);
    expect(repeated.exitCode, repeated.stderr).toBe(0);
    expect(repeated.json()).toMatchObject({ result: 'unchanged' });
    const other = await run(prefix, ['cart', 'create', 'c1', '--user', 'u2']);
    expect(other.exitCode).toBe(4);
    expect(error(other)).toMatchObject({ code: 'CONFLICT' });
    expect((await run(prefix, ['cart', 'get', 'c1'])).json()).toMatchObject({ cartId: 'c1', userId: 'u1', products: [], totalAmount: '0.00' });
  });

  it('import --overwrite and export work (BatchWriteItem, BatchGetItem, Scan)', async () => {
    const lines = ['o-imp-1', 'o-imp-2'].map((orderId) =>
      JSON.stringify({ orderId, userId: 'u9', totalAmount: '3.00', status: 'PAID', createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z', version: 4 }),
    );
    const file = join(dir, 'orders.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const imported = await run(prefix, ['order', 'import', '--overwrite', file]);
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(imported.json()).toMatchObject({ read: 2, written: 2, failed: 0 });

    const exported = await run(prefix, ['order', 'export']);
    expect(exported.exitCode, exported.stderr).toBe(0);
    const ids = exported.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { orderId: string }).orderId).sort();
    expect(ids).toEqual(['o-imp-1', 'o-imp-2', 'o1', 'o2']);
  });

  it('what needs TransactWriteItems exits 5 naming it: add-product, import without --overwrite', async () => {
    const added = await run(prefix, ['cart', 'add-product', 'c1', 'p1', '--price', '1.50']);
    expect(added.exitCode).toBe(5);
    expect(error(added).message).toContain('does not support the TransactWriteItems operation');
    expect((await run(prefix, ['cart', 'get', 'c1', '--strong'])).json()).toMatchObject({ products: [], version: 1 });

    const line = JSON.stringify({ orderId: 'o-new', userId: 'u9', totalAmount: '1.00', status: 'PENDING', createdAt: null, updatedAt: null, version: 1 });
    const imported = await run(prefix, ['order', 'import', '-'], `${line}\n`);
    expect(imported.exitCode).toBe(5);
    expect(imported.stderr).toContain('does not support the TransactWriteItems operation');
    expect((await run(prefix, ['order', 'get', 'o-new', '--strong'])).exitCode).toBe(3);
  });
});
