/**
 * What the outside tries of issue 9 found (a new operator and an attacker,
 * without the code), each as it was reproduced: items other programs wrote,
 * reused ids, and tables upgraded with items DynamoDB cannot index.
 */
import { CreateTableCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { putRaw, rawClient, scanAll } from '../support/dynamo.js';
import { privateEngine } from '../support/endpoint.js';

const prefix = uniquePrefix('outside');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
// Adds indexes to existing tables: see privateEngine().
privateEngine();
let client: ReturnType<typeof rawClient>;
beforeAll(() => {
  client = rawClient();
});

beforeAll(() => createTables(prefix));
afterAll(() => client.destroy());

const LINE: AttributeValue = { M: { productId: { S: 'p1' }, quantity: { N: '2' }, unitPrice: { N: '1.5' } } };

function errorOf(run: Run): { code: string; message: string } {
  return (JSON.parse(run.stderr.trim().split('\n').at(-1) ?? '{}') as { error: { code: string; message: string } }).error;
}

async function stored(table: string, key: Record<string, AttributeValue>) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}

describe('carts other programs wrote', () => {
  it('a status shopdb does not know is refused by checkout too, naming it, and the cart keeps its orderId', async () => {
    for (const status of ['checked_out', 'OPEN']) {
      const cartId = `ext-${status}`;
      const item = { cartId: { S: cartId }, userId: { S: 'hank' }, products: { L: [LINE] }, totalAmount: { N: '3' }, version: { N: '1' }, status: { S: status }, orderId: { S: 'legacy-order-9' } };
      await putRaw(client, CARTS, item);
      const run = await shopdb(['cart', 'checkout', cartId], { prefix });
      expect(run.exitCode, run.stderr).toBe(4);
      expect(errorOf(run).message).toContain(`"${status}"`);
      expect(await stored(CARTS, { cartId: { S: cartId } })).toEqual(item);
    }
    expect((await scanAll(client, ORDERS)).filter((order) => order.cartId?.S?.startsWith('ext-'))).toEqual([]);
  });

  it('a cart repeating a product in two lines is refused by remove-product and set-quantity, naming the line', async () => {
    const item = { cartId: { S: 'dup1' }, userId: { S: 'hank' }, products: { L: [LINE, LINE] }, totalAmount: { N: '6' }, version: { N: '1' } };
    await putRaw(client, CARTS, item);
    for (const args of [['cart', 'remove-product', 'dup1', 'p1'], ['cart', 'set-quantity', 'dup1', 'p1', '5'], ['cart', 'checkout', 'dup1']]) {
      const run = await shopdb(args, { prefix });
      expect(run.exitCode, `${args.join(' ')}: ${run.stderr}`).toBe(4);
      expect(errorOf(run).message).toContain('products[1].productId repeats p1 of products[0]');
    }
    expect(await stored(CARTS, { cartId: { S: 'dup1' } })).toEqual(item);
  });

  it('a checked-out cart whose orderId cannot be read is kept without --force, and deleted with it', async () => {
    const item = { cartId: { S: 'w5' }, userId: { S: 'hank' }, products: { L: [LINE] }, totalAmount: { N: '3' }, version: { N: '1' }, status: { S: 'CHECKED_OUT' }, orderId: { N: '5' } };
    await putRaw(client, CARTS, item);
    const kept = await shopdb(['cart', 'delete', 'w5'], { prefix });
    expect(kept.exitCode, kept.stderr).toBe(4);
    expect(errorOf(kept).message).toMatch(/orderId holds the number 5, not an order id/);
    expect(kept.stderr).toContain('add --force');
    expect(await stored(CARTS, { cartId: { S: 'w5' } })).toEqual(item);
    expect((await shopdb(['cart', 'delete', 'w5', '--force'], { prefix })).exitCode).toBe(0);
  });
});

describe('checkout retried after its order id was reused', () => {
  it('is a conflict naming the order, not "unchanged" with another cart\'s order', async () => {
    await shopdb(['cart', 'create', 'rc3', '--user', 'erin'], { prefix });
    await shopdb(['cart', 'add-product', 'rc3', 'p1', '--price', '3.33', '--quantity', '3'], { prefix });
    expect((await shopdb(['cart', 'checkout', 'rc3', '--order-id', 'oc3-3'], { prefix })).exitCode).toBe(0);
    expect((await shopdb(['order', 'delete', 'oc3-3', '--force'], { prefix })).exitCode).toBe(0);
    expect((await shopdb(['order', 'create', 'oc3-3', '--user', 'mallory', '--amount', '0.01'], { prefix })).exitCode).toBe(0);
    const retried = await shopdb(['cart', 'checkout', 'rc3'], { prefix });
    expect(retried.exitCode, retried.stdout).toBe(4);
    expect(errorOf(retried).message).toBe('cart rc3 was checked out as order oc3-3, but that order now belongs to no cart; nothing was changed');
  });
});

describe('list and items get refuses', () => {
  it('an order holding an attribute named __proto__ is refused by list as by get, never shown without it', async () => {
    await putRaw(client, ORDERS, { orderId: { S: 'odd5' }, userId: { S: 'zed' }, totalAmount: { N: '1' }, status: { S: 'CANCELLED' }, createdAt: { S: '2026-11-28T00:00:03.000Z' }, version: { N: '3' }, ...(JSON.parse('{"__proto__":{"S":"x"}}') as Record<string, AttributeValue>) });
    const got = await shopdb(['order', 'get', 'odd5'], { prefix });
    expect(got.exitCode).toBe(4);
    const listed = await shopdb(['order', 'list', '--user', 'zed'], { prefix });
    expect(listed.exitCode, listed.stdout).toBe(4);
    expect(errorOf(listed).message).toContain('"__proto__"');
  });
});

describe('tables create over items DynamoDB cannot index', () => {
  it('adds the indexes, fills the status key of the others, names the refused ones, and creates the carts and idempotency tables too', async () => {
    const own = uniquePrefix('outside-num');
    const name = `${own}EcommerceOrders`;
    await client.send(new CreateTableCommand({ TableName: name, KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    const dated = { status: { S: 'PAID' }, updatedAt: { S: '2026-01-02T00:00:00.000Z' }, version: { N: '1' } };
    await putRaw(client, name, { orderId: { S: 'good' }, userId: { S: 'u1' }, ...dated });
    await putRaw(client, name, { orderId: { S: 'numuser' }, userId: { N: '5' }, ...dated });
    await putRaw(client, name, { orderId: { S: 'baddate' }, userId: { S: 'u1' }, status: { S: 'PAID' }, updatedAt: { S: 'yesterday' } });
    const run = await shopdb(['tables', 'create'], { prefix: own });
    expect(run.exitCode, run.stderr).toBe(0);
    const reports = run.json<{ tables: Array<{ result: string; backfilled?: number }> }>().tables;
    expect(reports.map((report) => report.result)).toEqual(['updated', 'created', 'created']);
    expect(reports[0]?.backfilled).toBe(1);
    expect(run.stderr).toContain('1 order in');
    expect(run.stderr).toContain('(numuser) holds a value other than a string in an attribute the indexes key on (userId or createdAt)');
    const listed = await shopdb(['order', 'list', '--status', 'PAID'], { prefix: own });
    expect(listed.json<{ orders: Array<{ orderId: string }> }>().orders.map((order) => order.orderId)).toEqual(['good']);
    // Writes to such an item are refused by DynamoDB: a conflict naming the attributes, not "please report it".
    const moved = await shopdb(['order', 'set-status', 'numuser', 'SHIPPED'], { prefix: own });
    expect(moved.exitCode, moved.stderr).toBe(4);
    expect(errorOf(moved).message).toContain('secondary indexes key on');
  });
});

describe('the re-try after the fixes', () => {
  it('checkout refuses an open cart that already names an order (another program\'s link), keeping it', async () => {
    const item = { cartId: { S: 'cdang' }, userId: { S: 'hank' }, products: { L: [LINE] }, totalAmount: { N: '3' }, version: { N: '1' }, orderId: { S: 'ord-from-other-system' } };
    await putRaw(client, CARTS, item);
    const run = await shopdb(['cart', 'checkout', 'cdang'], { prefix });
    expect(run.exitCode, run.stderr).toBe(4);
    expect(errorOf(run).message).toBe('cart cdang is open but its orderId holds the order id ord-from-other-system; checking it out would replace that, so nothing was changed');
    expect(await stored(CARTS, { cartId: { S: 'cdang' } })).toEqual(item);
  });

  it('set-quantity to 0 on a cart it cannot change names set-quantity', async () => {
    const run = await shopdb(['cart', 'set-quantity', 'dup1', 'p1', '0'], { prefix });
    expect(run.exitCode).toBe(4);
    expect(errorOf(run).message).toMatch(/^cart dup1 cannot take set-quantity: products\[1\]\.productId repeats p1/);
  });

  it('a profile that does not exist: no credentials could be loaded, nothing was sent (not "refused")', async () => {
    const run = await shopdb(['order', 'get', 'anything'], { prefix, env: { AWS_PROFILE: 'nope' } });
    expect(run.exitCode).toBe(5);
    expect(errorOf(run).message).toMatch(/^no AWS credentials could be loaded for DynamoDB at http:\/\/127\.0\.0\.1:\d+, so nothing was sent/);
  });
});
