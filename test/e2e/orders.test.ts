import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { putRaw, rawClient, scanAll } from '../support/dynamo.js';

const prefix = uniquePrefix('orders');
const client = rawClient();
const ORDER_FIELDS = ['orderId', 'userId', 'totalAmount', 'status', 'createdAt', 'updatedAt', 'version', 'cartId', 'products'];

beforeAll(() => createTables(prefix));
afterAll(() => client.destroy());

describe('order create', () => {
  it('creates a PENDING order with ISO timestamps and version 1', async () => {
    const run = await shopdb(['order', 'create', 'o-create', '--user', 'u1', '--amount', '59.97'], { prefix });
    expect(run.exitCode).toBe(0);
    const { result, order } = run.json<{ result: string; order: Record<string, unknown> }>();
    expect(result).toBe('created');
    expect(Object.keys(order)).toEqual(ORDER_FIELDS);
    expect(order).toMatchObject({ orderId: 'o-create', userId: 'u1', totalAmount: '59.97', status: 'PENDING', version: 1 });
    expect(order.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(order.updatedAt).toBe(order.createdAt);
  });

  it('stores the amount as a DynamoDB number', async () => {
    await shopdb(['order', 'create', 'o-number', '--user', 'u1', '--amount', '19.90'], { prefix });
    const { Item } = await client.send(new GetItemCommand({ TableName: `${prefix}EcommerceOrders`, Key: { orderId: { S: 'o-number' } } }));
    expect(Item?.totalAmount).toEqual({ N: '19.9' });
  });

  it('generates a time-sortable id when none is given', async () => {
    const first = (await shopdb(['order', 'create', '--user', 'u1', '--amount', '1'], { prefix })).json<{ order: { orderId: string } }>();
    const second = (await shopdb(['order', 'create', '--user', 'u1', '--amount', '1'], { prefix })).json<{ order: { orderId: string } }>();
    expect(first.order.orderId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(second.order.orderId > first.order.orderId).toBe(true);
  });

  it('is a no-op when repeated with the same user and amount', async () => {
    await shopdb(['order', 'create', 'o-repeat', '--user', 'u1', '--amount', '10'], { prefix });
    const again = await shopdb(['order', 'create', 'o-repeat', '--user', 'u1', '--amount', '10.00'], { prefix });
    expect(again.exitCode).toBe(0);
    expect(again.json()).toMatchObject({ result: 'unchanged', order: { version: 1, totalAmount: '10.00' } });
  });

  it('refuses different contents for an existing id and leaves the order untouched', async () => {
    await shopdb(['order', 'create', 'o-conflict', '--user', 'u1', '--amount', '10'], { prefix });
    const clash = await shopdb(['order', 'create', 'o-conflict', '--user', 'u2', '--amount', '10'], { prefix });
    expect(clash.exitCode).toBe(4);
    expect(clash.stdout).toBe('');
    expect(clash.stderr).toContain('already exists');
    const stored = (await shopdb(['order', 'get', 'o-conflict', '--strong'], { prefix })).json();
    expect(stored).toMatchObject({ userId: 'u1', totalAmount: '10.00', version: 1 });
  });

  it('keeps 99999999999999999.99 to the digit', async () => {
    await shopdb(['order', 'create', 'o-big', '--user', 'u1', '--amount', '99999999999999999.99'], { prefix });
    const order = (await shopdb(['order', 'get', 'o-big'], { prefix })).json();
    expect(order.totalAmount).toBe('99999999999999999.99');
  });

  it('writes nothing for bad input', async () => {
    const before = await scanAll(client, `${prefix}EcommerceOrders`);
    for (const args of [
      ['o-bad', '--user', 'u1', '--amount', '1.001'],
      ['o-bad', '--user', 'u1', '--amount', '-1'],
      ['o-bad', '--user', '', '--amount', '1'],
      ['', '--user', 'u1', '--amount', '1'],
      ['x'.repeat(2049), '--user', 'u1', '--amount', '1'],
    ]) {
      const run = await shopdb(['order', 'create', ...args], { prefix });
      expect(run.exitCode, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await scanAll(client, `${prefix}EcommerceOrders`)).toHaveLength(before.length);
  });
});

describe('order get', () => {
  it('prints exactly the contract fields, and 3 when missing', async () => {
    await shopdb(['order', 'create', 'o-get', '--user', 'u9', '--amount', '5'], { prefix });
    for (const flags of [[], ['--strong']]) {
      const run = await shopdb(['order', 'get', 'o-get', ...flags], { prefix });
      expect(run.exitCode).toBe(0);
      expect(Object.keys(run.json())).toEqual(ORDER_FIELDS);
    }
    const missing = await shopdb(['order', 'get', 'o-none'], { prefix });
    expect(missing.exitCode).toBe(3);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: 'order o-none not found' } });
  });

  it('reads an order written by the original Python design', async () => {
    await putRaw(client, `${prefix}EcommerceOrders`, {
      orderId: { S: 'legacy-1' },
      userId: { S: 'py-user' },
      totalAmount: { S: '25.5' },
      status: { S: 'PENDING' },
    });
    const run = await shopdb(['order', 'get', 'legacy-1'], { prefix });
    expect(run.json()).toEqual({
      orderId: 'legacy-1',
      userId: 'py-user',
      // A string is not how shopdb stores money: no amount is shown, the stored value is kept as found.
      totalAmount: null,
      status: 'PENDING',
      createdAt: null,
      updatedAt: null,
      version: null,
      cartId: null,
      products: null,
      extra: { totalAmount: { S: '25.5' } },
    });
    const moved = await shopdb(['order', 'set-status', 'legacy-1', 'PAID'], { prefix });
    expect(moved.json()).toMatchObject({ result: 'updated', order: { status: 'PAID', version: 1, extra: { totalAmount: { S: '25.5' } } } });
  });

  it('names the missing table and the next step', async () => {
    const none = uniquePrefix('none');
    const run = await shopdb(['order', 'get', 'o1'], { prefix: none });
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain('EcommerceOrders not found');
    expect(run.stderr).toContain(`run: shopdb --table-prefix ${none} tables create`);
  });
});

describe('order set-status', () => {
  async function order(id: string, ...statuses: string[]): Promise<void> {
    await shopdb(['order', 'create', id, '--user', 'u1', '--amount', '1'], { prefix });
    for (const status of statuses) await shopdb(['order', 'set-status', id, status, '--force'], { prefix });
  }

  it('moves forward, skipping steps, and bumps the version', async () => {
    await order('s-forward');
    const run = await shopdb(['order', 'set-status', 's-forward', 'SHIPPED'], { prefix });
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ result: 'updated', order: { status: 'SHIPPED', version: 2 } });
  });

  it('treats the current status as a no-op success without a write', async () => {
    await order('s-same', 'PAID');
    const run = await shopdb(['order', 'set-status', 's-same', 'PAID'], { prefix });
    expect(run.exitCode).toBe(0);
    expect(run.json()).toMatchObject({ result: 'unchanged', order: { status: 'PAID', version: 2 } });
  });

  it.each([
    ['PAID', 'PENDING'],
    ['SHIPPED', 'CANCELLED'],
    ['COMPLETED', 'CANCELLED'],
    ['CANCELLED', 'PAID'],
    ['COMPLETED', 'SHIPPED'],
  ])('refuses %s → %s with exit 4 and no change', async (from, to) => {
    const id = `s-${from}-${to}`;
    await order(id, from);
    const run = await shopdb(['order', 'set-status', id, to], { prefix });
    expect(run.exitCode).toBe(4);
    expect(JSON.parse(run.stderr).error.code).toBe('ILLEGAL_TRANSITION');
    expect((await shopdb(['order', 'get', id, '--strong'], { prefix })).json()).toMatchObject({ status: from, version: 2 });
  });

  it('--force skips the rules', async () => {
    await order('s-force', 'COMPLETED');
    const run = await shopdb(['order', 'set-status', 's-force', 'PENDING', '--force'], { prefix });
    expect(run.json()).toMatchObject({ result: 'updated', order: { status: 'PENDING', version: 3 } });
  });

  it('--expect is compare-and-set', async () => {
    await order('s-expect', 'PAID');
    const wrong = await shopdb(['order', 'set-status', 's-expect', 'SHIPPED', '--expect', 'PENDING'], { prefix });
    expect(wrong.exitCode).toBe(4);
    expect(JSON.parse(wrong.stderr).error.code).toBe('UNEXPECTED_STATUS');
    const right = await shopdb(['order', 'set-status', 's-expect', 'SHIPPED', '--expect', 'PAID'], { prefix });
    expect(right.json()).toMatchObject({ result: 'updated', order: { status: 'SHIPPED' } });
  });

  it('is not-found for a missing order and usage for a bad status', async () => {
    expect((await shopdb(['order', 'set-status', 's-missing', 'PAID'], { prefix })).exitCode).toBe(3);
    const bad = await shopdb(['order', 'set-status', 's-missing', 'paid'], { prefix });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('status');
  });
});
