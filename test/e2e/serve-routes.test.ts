/**
 * Every route of `shopdb serve` (issue 10) and the status codes each can
 * give, through the real binary, a real HTTP client (the platform's fetch) and
 * the shared DynamoDB Local and redis-server: item bodies are compared with
 * what `order get --json` / `cart get --json` print for the same item (parsed
 * exactly: integers past 2^53 stay bigints), refused requests are checked to
 * have written nothing (a strong raw read before and after), and the cache is
 * told apart from DynamoDB by changing items behind its back with the raw SDK.
 *
 * Two serve processes for the whole file (one without a cache, one with
 * `--cache`), plus one on a prefix whose tables do not exist for /readyz.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { Validator } from '@seriousme/openapi-schema-validator';
import fc from 'fast-check';
import { request as rawRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseStrict, type JsonValue } from '../../src/core/json.js';
import { boto3, boto3Get, type DynamoJson } from '../support/boto3.js';
import { createTables, shopdb, uniquePrefix, withPrefix } from '../support/cli.js';
import { putRaw, rawClient, scanAll } from '../support/dynamo.js';
import { http, startServe, type HttpAnswer as AnyAnswer, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-routes');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
const cli = withPrefix(prefix);
const client = rawClient();

/** No cache: X-Cache is always `off`. Most route tests use it. */
let plain: Served;
/** `--cache --redis-url <shared redis>`: only the consistency tests read through it. */
let cached: Served;

beforeAll(async () => {
  await createTables(prefix);
  [plain, cached] = await Promise.all([startServe({ prefix }), startServe({ prefix, args: ['--cache', '--redis-url', inject('redisUrl')] })]);
});
afterAll(async () => {
  client.destroy();
  // A clean stop: SIGTERM ends both with 0.
  expect(await Promise.all([plain?.stop(), cached?.stop()])).toEqual([0, 0]);
});

/* Helpers. */

type Headers = Record<string, string>;
type Item = Record<string, JsonValue>;
type HttpAnswer = AnyAnswer<Record<string, unknown>>;

function get(server: Served, path: string, headers: Headers = {}): Promise<HttpAnswer> {
  return http(server.url, 'GET', path, { headers });
}

function send(method: string, path: string, body?: unknown, headers: Headers = {}, server: Served = plain): Promise<HttpAnswer> {
  return http(server.url, method, path, { body, headers });
}

/** The answer's body parsed exactly (integers past 2^53 as bigints). */
function exact(answer: { text: string }): Item {
  return parseStrict(answer.text) as Item;
}

/** The item inside a write's answer ({"result", "order"|"cart"}), parsed exactly. */
function written(answer: HttpAnswer, field: 'order' | 'cart'): Item {
  const body = exact(answer);
  expect(Object.keys(body).sort(), answer.text).toEqual(['result', field].sort());
  return body[field] as Item;
}

/** What the CLI prints for the item (a strong read), parsed exactly. */
async function cliItem(kind: 'order' | 'cart', id: string): Promise<Item> {
  const run = await cli.ok([kind, 'get', id, '--strong', '--json']);
  return parseStrict(run.stdout.trim()) as Item;
}

async function stored(table: string, key: Record<string, AttributeValue>): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}
const storedOrder = (id: string) => stored(ORDERS, { orderId: { S: id } });
const storedCart = (id: string) => stored(CARTS, { cartId: { S: id } });

/** An RFC 9457 problem with this status and code, and (when given) a detail matching `detail`. */
function expectProblem(answer: HttpAnswer, status: number, code: string, detail?: RegExp): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  const body = answer.body;
  expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'status', 'title', 'type']);
  expect(body).toMatchObject({ status, code, type: `urn:shopdb:problem:${code.toLowerCase().replace(/_/g, '-')}`, title: expect.any(String) });
  if (detail !== undefined) expect(body.detail).toMatch(detail);
  // Never a stack trace in an answer.
  expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
}

/** A 400 naming the field at the start of its detail. */
function expectBadInput(answer: HttpAnswer, detail: RegExp): void {
  expectProblem(answer, 400, 'BAD_INPUT', detail);
}

async function createOrder(orderId: string, userId = 'u-routes', totalAmount = '10.00'): Promise<HttpAnswer> {
  const answer = await send('POST', '/v1/orders', { orderId, userId, totalAmount });
  expect(answer.status, answer.text).toBe(201);
  return answer;
}

async function createCart(cartId: string, userId = 'u-routes', lines: Array<{ productId: string; price: string; quantity?: number }> = []): Promise<void> {
  const answer = await send('POST', '/v1/carts', { cartId, userId });
  expect(answer.status, answer.text).toBe(201);
  for (const line of lines) {
    const added = await send('POST', `/v1/carts/${encodeURIComponent(cartId)}/products`, line);
    expect(added.status, added.text).toBe(200);
  }
}

/** The target of a `Link: <…>; rel="next"` header. */
function nextLink(answer: HttpAnswer): string | undefined {
  const header = answer.headers.get('link');
  if (header === null) return undefined;
  const match = /^<(\/v1\/[^>]+)>; rel="next"$/.exec(header);
  expect(match, header).not.toBeNull();
  return match?.[1];
}

/** Follows a listing's Link headers from `first` to the end; every page checked against its nextCursor. */
async function walk(first: string, field: 'orders' | 'carts'): Promise<{ items: Item[]; pages: number }> {
  const items: Item[] = [];
  let path: string | undefined = first;
  let pages = 0;
  while (path !== undefined) {
    const page = await get(plain, path);
    expect(page.status, page.text).toBe(200);
    const body = exact(page);
    expect(Object.keys(body).sort()).toEqual([field, 'nextCursor'].sort());
    items.push(...(body[field] as Item[]));
    const link = nextLink(page);
    if (body.nextCursor === null) {
      expect(link).toBeUndefined();
    } else {
      expect(new URL(link as string, 'http://x').searchParams.get('cursor')).toBe(body.nextCursor);
    }
    path = link;
    pages++;
    expect(pages).toBeLessThan(50);
  }
  return { items, pages };
}

/* The routes. */

describe('orders', () => {
  it('POST /v1/orders: 201 with Location and ETag, an identical repeat 200 unchanged, and the order as order get prints it', async () => {
    const created = await send('POST', '/v1/orders', { orderId: 'o-create', userId: 'u-create', totalAmount: '12.5' });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/orders/o-create');
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(created.body).toMatchObject({ result: 'created', order: { orderId: 'o-create', userId: 'u-create', totalAmount: '12.50', status: 'PENDING', version: 1 } });
    expect(written(created, 'order')).toEqual(await cliItem('order', 'o-create'));

    const again = await send('POST', '/v1/orders', { orderId: 'o-create', userId: 'u-create', totalAmount: '12.50' });
    expect(again.status, again.text).toBe(200);
    expect(again.body.result).toBe('unchanged');
    expect(again.headers.get('etag')).toBe('"1"');
    expect(written(again, 'order')).toEqual(written(created, 'order'));

    // Without an id: one is made, and Location names it.
    const fresh = await send('POST', '/v1/orders', { userId: 'u-create', totalAmount: '3' });
    expect(fresh.status, fresh.text).toBe(201);
    const id = (fresh.body as { order: { orderId: string } }).order.orderId;
    expect(id).toMatch(/^\S+$/);
    const location = fresh.headers.get('location') as string;
    expect(location).toBe(`/v1/orders/${encodeURIComponent(id)}`);
    const read = await get(plain, location);
    expect(read.status).toBe(200);
    expect(exact(read)).toEqual(written(fresh, 'order'));
  });

  it('POST /v1/orders: other contents under an existing id is 409 CONFLICT and the order is left as it was', async () => {
    await createOrder('o-conflict', 'u1', '5.00');
    const before = await storedOrder('o-conflict');
    expectProblem(await send('POST', '/v1/orders', { orderId: 'o-conflict', userId: 'u1', totalAmount: '5.01' }), 409, 'CONFLICT', /^order o-conflict already exists with other contents/);
    expectProblem(await send('POST', '/v1/orders', { orderId: 'o-conflict', userId: 'u2', totalAmount: '5.00' }), 409, 'CONFLICT');
    expect(await storedOrder('o-conflict')).toEqual(before);
  });

  it('POST /v1/orders: bad input is 400 naming the field (or 415 for another media type) and writes nothing', async () => {
    const before = (await scanAll(client, ORDERS)).length;
    const cases: Array<[unknown, RegExp]> = [
      [{ orderId: 'o-bad', userId: 'u', totalAmount: 1.5 }, /^totalAmount: must be a JSON string \(money is a decimal string/],
      [{ orderId: 'o-bad', userId: 'u', totalAmount: '1.001' }, /^totalAmount: "1\.001" is not an amount/],
      [{ orderId: 'o-bad', userId: 'u', totalAmount: '-1' }, /^totalAmount: /],
      [{ orderId: 'o-bad', userId: 'u', totalAmount: '100000000000000000' }, /^totalAmount: amount is too large/],
      [{ orderId: 'o-bad', totalAmount: '1' }, /^userId: is required$/],
      [{ orderId: 'o-bad', userId: 'u' }, /^totalAmount: is required$/],
      [{ orderId: 'o-bad', userId: '', totalAmount: '1' }, /^userId: must not be empty$/],
      [{ orderId: 'o-bad', userId: 7, totalAmount: '1' }, /^userId: must be a JSON string$/],
      [{ orderId: '', userId: 'u', totalAmount: '1' }, /^orderId: must not be empty$/],
      [{ orderId: ' o-bad', userId: 'u', totalAmount: '1' }, /^orderId: must not start or end with whitespace$/],
      [{ orderId: 'o-bad', userId: 'u', totalAmount: '1', status: 'PAID' }, /^status: is not a field this request accepts$/],
      [[], /^body: must be a JSON object$/],
      ['{"orderId": "o-bad",', /^body: /],
    ];
    for (const [body, detail] of cases) expectBadInput(await send('POST', '/v1/orders', body), detail);
    expectProblem(
      await send('POST', '/v1/orders', JSON.stringify({ orderId: 'o-bad', userId: 'u', totalAmount: '1' }), { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(await storedOrder('o-bad')).toBeUndefined();
    expect(await storedOrder(' o-bad')).toBeUndefined();
    expect((await scanAll(client, ORDERS)).length).toBe(before);
  });

  it('GET /v1/orders/{orderId}: 200 with ETag and X-Cache off, as order get prints it; 404 NOT_FOUND; unknown query 400', async () => {
    await createOrder('o-read', 'u-read', '7.25');
    const read = await get(plain, '/v1/orders/o-read');
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"1"');
    expect(read.headers.get('x-cache')).toBe('off');
    expect(read.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(exact(read)).toEqual(await cliItem('order', 'o-read'));
    // ?consistent=false is an ordinary read.
    expect(exact(await get(plain, '/v1/orders/o-read?consistent=false'))).toEqual(exact(read));

    expectProblem(await get(plain, '/v1/orders/o-never'), 404, 'NOT_FOUND', /^order o-never not found$/);
    expectBadInput(await get(plain, '/v1/orders/o-read?strong=true'), /^query parameter strong: is not a field this request accepts$/);
    expectBadInput(await get(plain, '/v1/orders/o-read?consistent=yes'), /^query parameter consistent: must be one of true, false$/);
    expectProblem(await get(plain, '/v1/order/o-read'), 404, 'ROUTE_NOT_FOUND');
  });

  it('POST /v1/orders/{orderId}/status: 200 updated / unchanged, 409 ILLEGAL_TRANSITION and UNEXPECTED_STATUS, force, 404, 400 naming the field', async () => {
    await createOrder('o-status');
    const paid = await send('POST', '/v1/orders/o-status/status', { status: 'PAID' });
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body.result).toBe('updated');
    expect(paid.headers.get('etag')).toBe('"2"');
    expect(written(paid, 'order')).toEqual(await cliItem('order', 'o-status'));
    expect(written(paid, 'order')).toMatchObject({ status: 'PAID', version: 2 });

    const same = await send('POST', '/v1/orders/o-status/status', { status: 'PAID' });
    expect(same.status).toBe(200);
    expect(same.body.result).toBe('unchanged');
    expect(same.headers.get('etag')).toBe('"2"');

    const before = await storedOrder('o-status');
    expectProblem(await send('POST', '/v1/orders/o-status/status', { status: 'PENDING' }), 409, 'ILLEGAL_TRANSITION', /^order o-status cannot move from PAID to PENDING/);
    expectProblem(await send('POST', '/v1/orders/o-status/status', { status: 'SHIPPED', expect: 'PENDING' }), 409, 'UNEXPECTED_STATUS', /^order o-status is PAID, not PENDING as expected/);
    expectProblem(await send('POST', '/v1/orders/o-never/status', { status: 'PAID' }), 404, 'NOT_FOUND', /^order o-never not found$/);
    const bad: Array<[unknown, RegExp]> = [
      [{ status: 'NOPE' }, /^status: "NOPE" is not a status/],
      [{ status: 'paid ' }, /^status: /],
      [{ status: 'SHIPPED', expect: 'NOPE' }, /^expect: "NOPE" is not a status/],
      [{ status: 'SHIPPED', force: 'yes' }, /^force: must be a JSON boolean$/],
      [{ status: 3 }, /^status: must be a JSON string$/],
      [{}, /^status: is required$/],
      [{ status: 'SHIPPED', note: 'x' }, /^note: is not a field this request accepts$/],
    ];
    for (const [body, detail] of bad) expectBadInput(await send('POST', '/v1/orders/o-status/status', body), detail);
    expect(await storedOrder('o-status')).toEqual(before);

    // expect that holds, and force past the rules.
    const shipped = await send('POST', '/v1/orders/o-status/status', { status: 'SHIPPED', expect: 'PAID' });
    expect(shipped.body).toMatchObject({ result: 'updated', order: { status: 'SHIPPED', version: 3 } });
    const forced = await send('POST', '/v1/orders/o-status/status', { status: 'PENDING', force: true });
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body).toMatchObject({ result: 'updated', order: { status: 'PENDING', version: 4 } });
    expect(written(forced, 'order')).toEqual(await cliItem('order', 'o-status'));
  });

  it('DELETE /v1/orders/{orderId}: 409 unless final (force=true in the query), ?expect, 200 with the order as it was, then 404', async () => {
    await createOrder('o-del');
    const before = await storedOrder('o-del');
    expectProblem(await send('DELETE', '/v1/orders/o-del'), 409, 'CONFLICT', /^order o-del is PENDING; only CANCELLED or COMPLETED orders are deleted.*send force=true in the query/);
    expectProblem(await send('DELETE', '/v1/orders/o-del?expect=PAID'), 409, 'UNEXPECTED_STATUS', /^order o-del is PENDING, not PAID as expected/);
    expectBadInput(await send('DELETE', '/v1/orders/o-del?force=yes'), /^query parameter force: must be one of true, false$/);
    expectBadInput(await send('DELETE', '/v1/orders/o-del?expect=NOPE'), /^query parameter expect: must be one of /);
    expectBadInput(await send('DELETE', '/v1/orders/o-del?reason=x'), /^query parameter reason: is not a field/);
    expectProblem(await send('DELETE', '/v1/orders/o-never'), 404, 'NOT_FOUND');
    expect(await storedOrder('o-del')).toEqual(before);

    expect((await send('POST', '/v1/orders/o-del/status', { status: 'CANCELLED' })).status).toBe(200);
    const last = await cliItem('order', 'o-del');
    const deleted = await send('DELETE', '/v1/orders/o-del?expect=CANCELLED');
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body.result).toBe('deleted');
    expect(written(deleted, 'order')).toEqual(last);
    // No tag: there is no item any more.
    expect(deleted.headers.get('etag')).toBeNull();
    expect(await storedOrder('o-del')).toBeUndefined();
    expectProblem(await get(plain, '/v1/orders/o-del'), 404, 'NOT_FOUND');
    expectProblem(await send('DELETE', '/v1/orders/o-del'), 404, 'NOT_FOUND');

    await createOrder('o-del-forced');
    const forced = await send('DELETE', '/v1/orders/o-del-forced?force=true');
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body).toMatchObject({ result: 'deleted', order: { orderId: 'o-del-forced', status: 'PENDING' } });
    expect(await storedOrder('o-del-forced')).toBeUndefined();
  });

  it('GET /v1/orders: pages of limit, nextCursor and Link rel=next through every order, as order list prints them; bad parameters 400', async () => {
    for (let i = 1; i <= 5; i++) await createOrder(`o-list-${i}`, 'u-list', `${i}.00`);
    const { items, pages } = await walk('/v1/orders?userId=u-list&limit=2', 'orders');
    expect(pages).toBe(3);
    const listed = parseStrict((await cli.ok(['order', 'list', '--user', 'u-list', '--limit', '1000', '--json'])).stdout.trim()) as { orders: Item[] };
    expect(items).toEqual(listed.orders);
    expect(items.map((order) => order.orderId).sort()).toEqual(['o-list-1', 'o-list-2', 'o-list-3', 'o-list-4', 'o-list-5']);

    // One page holding all: no Link, nextCursor null.
    const whole = await get(plain, '/v1/orders?userId=u-list');
    expect(whole.headers.get('link')).toBeNull();
    expect(exact(whole)).toEqual({ orders: listed.orders, nextCursor: null });

    // By status (any user), one at a time.
    const byStatus = await get(plain, '/v1/orders?status=PENDING&limit=1');
    expect(byStatus.status).toBe(200);
    expect(byStatus.body).toMatchObject({ orders: [{ status: 'PENDING' }], nextCursor: expect.any(String) });
    expect(nextLink(byStatus)).toMatch(/^\/v1\/orders\?status=PENDING&limit=1&cursor=/);

    const first = await get(plain, '/v1/orders?userId=u-list&limit=2');
    const cursor = first.body.nextCursor as string;
    expectBadInput(await get(plain, `/v1/orders?status=PENDING&cursor=${cursor}`), /^cursor: was given for another listing/);
    expectBadInput(await get(plain, `/v1/orders?userId=u-other&limit=2&cursor=${cursor}`), /^cursor: was given for another listing/);
    expectBadInput(await get(plain, `/v1/carts?userId=u-list&cursor=${cursor}`), /^cursor: was given for another listing \(order list/);
    expectBadInput(await get(plain, '/v1/orders?userId=u-list&cursor=not-a-cursor'), /^cursor: /);
    expectBadInput(await get(plain, '/v1/orders?userId=u-list&limit=0'), /^limit: "0" is not allowed/);
    expectBadInput(await get(plain, '/v1/orders?userId=u-list&limit=1001'), /^limit: /);
    expectBadInput(await get(plain, '/v1/orders?userId=u-list&limit=two'), /^limit: /);
    expectBadInput(await get(plain, '/v1/orders?status=NOPE'), /^status: "NOPE" is not a status/);
    expectBadInput(await get(plain, '/v1/orders?status=PAID&updatedBefore=yesterday'), /^updatedBefore: /);
    expectBadInput(await get(plain, '/v1/orders?user=u-list'), /^query parameter user: is not a field this request accepts$/);
  });
});

describe('carts', () => {
  it('POST /v1/carts: 201 with Location and ETag, repeat 200 unchanged, another user 409, bad input 400 naming the field', async () => {
    const created = await send('POST', '/v1/carts', { cartId: 'c-create', userId: 'u-cart' });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/carts/c-create');
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toMatchObject({ result: 'created', cart: { cartId: 'c-create', userId: 'u-cart', products: [], totalAmount: '0.00', version: 1, status: null } });
    expect(written(created, 'cart')).toEqual(await cliItem('cart', 'c-create'));

    const again = await send('POST', '/v1/carts', { cartId: 'c-create', userId: 'u-cart' });
    expect(again.status).toBe(200);
    expect(again.body.result).toBe('unchanged');
    expect(written(again, 'cart')).toEqual(written(created, 'cart'));

    const before = await storedCart('c-create');
    expectProblem(await send('POST', '/v1/carts', { cartId: 'c-create', userId: 'u-thief' }), 409, 'CONFLICT', /^cart c-create already exists for another user/);
    expect(await storedCart('c-create')).toEqual(before);

    const count = (await scanAll(client, CARTS)).length;
    const bad: Array<[unknown, RegExp]> = [
      [{ cartId: 'c-bad' }, /^userId: is required$/],
      [{ cartId: 'c-bad', userId: '' }, /^userId: must not be empty$/],
      [{ cartId: 'c-bad', userId: ['u'] }, /^userId: must be a JSON string$/],
      [{ cartId: '', userId: 'u' }, /^cartId: must not be empty$/],
      [{ cartId: 'c\u0000bad', userId: 'u' }, /^cartId: must not contain control characters$/],
      [{ cartId: 'c-bad', userId: 'u', products: [] }, /^products: is not a field this request accepts$/],
    ];
    for (const [body, detail] of bad) expectBadInput(await send('POST', '/v1/carts', body), detail);
    expect((await scanAll(client, CARTS)).length).toBe(count);

    const fresh = await send('POST', '/v1/carts', { userId: 'u-cart' });
    expect(fresh.status).toBe(201);
    const id = (fresh.body as { cart: { cartId: string } }).cart.cartId;
    expect(fresh.headers.get('location')).toBe(`/v1/carts/${encodeURIComponent(id)}`);
  });

  it('GET /v1/carts/{cartId}: 200 with ETag, as cart get prints it; 404', async () => {
    await createCart('c-read', 'u-cart', [{ productId: 'p1', price: '2.50', quantity: 2 }]);
    const read = await get(plain, '/v1/carts/c-read');
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"2"');
    expect(read.headers.get('x-cache')).toBe('off');
    expect(exact(read)).toEqual(await cliItem('cart', 'c-read'));
    expectProblem(await get(plain, '/v1/carts/c-never'), 404, 'NOT_FOUND', /^cart c-never not found$/);
    expectBadInput(await get(plain, '/v1/carts/c-read?fields=all'), /^query parameter fields: /);
  });

  it('cart lines: add (200, 409 other price, 404, 400), set quantity (updated, unchanged, 0 removes, 404), remove (200, 404)', async () => {
    await createCart('c-lines');
    const added = await send('POST', '/v1/carts/c-lines/products', { productId: 'pen', price: '1.10', quantity: 2, name: 'Pen' });
    expect(added.status, added.text).toBe(200);
    expect(added.body.result).toBe('updated');
    expect(added.headers.get('etag')).toBe('"2"');
    expect(written(added, 'cart')).toEqual(await cliItem('cart', 'c-lines'));
    expect(added.body).toMatchObject({ cart: { products: [{ productId: 'pen', name: 'Pen', quantity: 2, unitPrice: '1.10' }], totalAmount: '2.20' } });

    const more = await send('POST', '/v1/carts/c-lines/products', { productId: 'pen', price: '1.10' });
    expect(more.body).toMatchObject({ result: 'updated', cart: { products: [{ productId: 'pen', quantity: 3 }], totalAmount: '3.30', version: 3 } });

    let before = await storedCart('c-lines');
    expectProblem(await send('POST', '/v1/carts/c-lines/products', { productId: 'pen', price: '1.20' }), 409, 'CONFLICT', /^product pen is in cart c-lines at 1\.10, not 1\.20/);
    expectProblem(await send('POST', '/v1/carts/c-never/products', { productId: 'pen', price: '1.10' }), 404, 'NOT_FOUND', /^cart c-never not found$/);
    const bad: Array<[unknown, RegExp]> = [
      [{ productId: 'pen', price: 1.1 }, /^price: must be a JSON string \(money is a decimal string/],
      [{ productId: 'pen', price: '1.101' }, /^price: "1\.101" is not an amount/],
      [{ productId: 'pen', price: '1.10', quantity: 0 }, /^quantity: must be at least 1$/],
      [{ productId: 'pen', price: '1.10', quantity: 1.5 }, /^quantity: must be a whole number$/],
      [{ productId: 'pen', price: '1.10', quantity: '2' }, /^quantity: must be a whole number$/],
      [{ productId: 'pen', price: '1.10', quantity: 1_000_001 }, /^quantity: must be at most 1000000$/],
      [{ productId: '', price: '1.10' }, /^productId: must not be empty$/],
      [{ price: '1.10' }, /^productId: is required$/],
      [{ productId: 'pen' }, /^price: is required$/],
      [{ productId: 'pen', price: '1.10', name: 5 }, /^name: must be a JSON string$/],
      [{ productId: 'pen', price: '1.10', unitPrice: '1.10' }, /^unitPrice: is not a field this request accepts$/],
    ];
    for (const [body, detail] of bad) expectBadInput(await send('POST', '/v1/carts/c-lines/products', body), detail);
    expect(await storedCart('c-lines')).toEqual(before);

    const set = await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: 5 });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ result: 'updated', cart: { products: [{ productId: 'pen', quantity: 5 }], totalAmount: '5.50', version: 4 } });
    expect(set.headers.get('etag')).toBe('"4"');
    expect(written(set, 'cart')).toEqual(await cliItem('cart', 'c-lines'));
    const unchanged = await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: 5 });
    expect(unchanged.status).toBe(200);
    expect(unchanged.body).toMatchObject({ result: 'unchanged', cart: { version: 4 } });

    before = await storedCart('c-lines');
    expectProblem(await send('PUT', '/v1/carts/c-lines/products/ink', { quantity: 1 }), 404, 'NOT_FOUND', /^product ink is not in cart c-lines$/);
    expectProblem(await send('PUT', '/v1/carts/c-never/products/pen', { quantity: 1 }), 404, 'NOT_FOUND', /^cart c-never not found$/);
    expectBadInput(await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: -1 }), /^quantity: must be at least 0$/);
    expectBadInput(await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: '5' }), /^quantity: must be a whole number$/);
    expectBadInput(await send('PUT', '/v1/carts/c-lines/products/pen', {}), /^quantity: is required$/);
    expectBadInput(await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: 1, price: '1.10' }), /^price: is not a field/);
    expectProblem(await send('PUT', '/v1/carts/c-lines/products/pen', 'quantity=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await storedCart('c-lines')).toEqual(before);

    // 0 removes the line.
    const zero = await send('PUT', '/v1/carts/c-lines/products/pen', { quantity: 0 });
    expect(zero.body).toMatchObject({ result: 'updated', cart: { products: [], totalAmount: '0.00', version: 5 } });

    expect((await send('POST', '/v1/carts/c-lines/products', { productId: 'ink', price: '0.05', quantity: 3 })).status).toBe(200);
    const removed = await send('DELETE', '/v1/carts/c-lines/products/ink');
    expect(removed.status, removed.text).toBe(200);
    expect(removed.body).toMatchObject({ result: 'updated', cart: { products: [], totalAmount: '0.00', version: 7 } });
    expect(removed.headers.get('etag')).toBe('"7"');
    expect(written(removed, 'cart')).toEqual(await cliItem('cart', 'c-lines'));
    expectProblem(await send('DELETE', '/v1/carts/c-lines/products/ink'), 404, 'NOT_FOUND', /^product ink is not in cart c-lines$/);
    expectProblem(await send('DELETE', '/v1/carts/c-never/products/ink'), 404, 'NOT_FOUND', /^cart c-never not found$/);
  });

  it('POST /v1/carts/{cartId}/checkout: 201 with the order and its Location, a repeat 200 unchanged; 404, 409 empty or taken order id; a checked-out cart is frozen', async () => {
    expectProblem(await send('POST', '/v1/carts/c-never/checkout'), 404, 'NOT_FOUND', /^cart c-never not found$/);
    await createCart('c-empty');
    expectProblem(await send('POST', '/v1/carts/c-empty/checkout'), 409, 'CONFLICT', /^cart c-empty is empty/);

    await createCart('c-out', 'u-out', [
      { productId: 'mug', price: '19.99', quantity: 3 },
      { productId: 'pen', price: '0.10' },
    ]);
    await createOrder('o-taken');
    const cartBefore = await storedCart('c-out');
    expectProblem(await send('POST', '/v1/carts/c-out/checkout', { orderId: 'o-taken' }), 409, 'CONFLICT', /^order o-taken already exists; cart c-out was not checked out$/);
    expectBadInput(await send('POST', '/v1/carts/c-out/checkout', { orderId: '' }), /^orderId: must not be empty$/);
    expectBadInput(await send('POST', '/v1/carts/c-out/checkout', { orderId: 'o-out', userId: 'u' }), /^userId: is not a field/);
    expect(await storedCart('c-out')).toEqual(cartBefore);

    const out = await send('POST', '/v1/carts/c-out/checkout', { orderId: 'o-out' });
    expect(out.status, out.text).toBe(201);
    expect(out.headers.get('location')).toBe('/v1/orders/o-out');
    expect(out.body.result).toBe('created');
    const order = written(out, 'order');
    expect(order).toEqual(await cliItem('order', 'o-out'));
    expect(out.body).toMatchObject({ order: { orderId: 'o-out', userId: 'u-out', totalAmount: '60.07', status: 'PENDING', cartId: 'c-out', version: 1 } });
    expect(await cliItem('cart', 'c-out')).toMatchObject({ status: 'CHECKED_OUT', orderId: 'o-out' });

    // A retry (with or without the body) answers the same order.
    for (const body of [{ orderId: 'o-out' }, undefined]) {
      const again = await send('POST', '/v1/carts/c-out/checkout', body);
      expect(again.status, again.text).toBe(200);
      expect(again.body.result).toBe('unchanged');
      expect(written(again, 'order')).toEqual(order);
    }

    const frozen = await storedCart('c-out');
    expectProblem(await send('POST', '/v1/carts/c-out/products', { productId: 'mug', price: '19.99' }), 409, 'CONFLICT', /^cart c-out was checked out as order o-out; it can no longer change$/);
    expectProblem(await send('PUT', '/v1/carts/c-out/products/mug', { quantity: 1 }), 409, 'CONFLICT', /checked out/);
    expectProblem(await send('DELETE', '/v1/carts/c-out/products/pen'), 409, 'CONFLICT', /checked out/);
    expect(await storedCart('c-out')).toEqual(frozen);
  });

  it('DELETE /v1/carts/{cartId}: 200 with the cart as it was, 404 after; a checked-out cart whose order is open needs force=true', async () => {
    await createCart('c-del', 'u-cart', [{ productId: 'p', price: '1.00' }]);
    const last = await cliItem('cart', 'c-del');
    const deleted = await send('DELETE', '/v1/carts/c-del');
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body.result).toBe('deleted');
    expect(written(deleted, 'cart')).toEqual(last);
    expect(deleted.headers.get('etag')).toBeNull();
    expect(await storedCart('c-del')).toBeUndefined();
    expectProblem(await get(plain, '/v1/carts/c-del'), 404, 'NOT_FOUND');
    expectProblem(await send('DELETE', '/v1/carts/c-del'), 404, 'NOT_FOUND');

    await createCart('c-del-out', 'u-cart', [{ productId: 'p', price: '1.00' }]);
    expect((await send('POST', '/v1/carts/c-del-out/checkout', { orderId: 'o-del-out' })).status).toBe(201);
    const before = await storedCart('c-del-out');
    expectProblem(
      await send('DELETE', '/v1/carts/c-del-out'),
      409,
      'CONFLICT',
      /^cart c-del-out was checked out as order o-del-out, which is not COMPLETED or CANCELLED yet; the cart was kept; send force=true in the query/,
    );
    expectBadInput(await send('DELETE', '/v1/carts/c-del-out?force=1'), /^query parameter force: must be one of true, false$/);
    expect(await storedCart('c-del-out')).toEqual(before);
    const forced = await send('DELETE', '/v1/carts/c-del-out?force=true');
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body).toMatchObject({ result: 'deleted', cart: { cartId: 'c-del-out', status: 'CHECKED_OUT' } });
    expect(await storedCart('c-del-out')).toBeUndefined();
  });

  it('GET /v1/carts: needs userId; pages with nextCursor and Link rel=next, as cart list prints them; another listing\'s cursor 400', async () => {
    for (let i = 1; i <= 3; i++) await createCart(`c-list-${i}`, 'u-clist');
    expectBadInput(await get(plain, '/v1/carts'), /^query parameter userId: is required$/);
    expectBadInput(await get(plain, '/v1/carts?limit=2'), /^query parameter userId: is required$/);
    expectBadInput(await get(plain, '/v1/carts?userId=u-clist&status=OPEN'), /^query parameter status: is not a field/);
    expectBadInput(await get(plain, '/v1/carts?userId=u-clist&limit=0'), /^limit: /);

    const { items, pages } = await walk('/v1/carts?userId=u-clist&limit=2', 'carts');
    expect(pages).toBe(2);
    const listed = parseStrict((await cli.ok(['cart', 'list', '--user', 'u-clist', '--limit', '1000', '--json'])).stdout.trim()) as { carts: Item[] };
    expect(items).toEqual(listed.carts);
    expect(items.map((cart) => cart.cartId).sort()).toEqual(['c-list-1', 'c-list-2', 'c-list-3']);

    const first = await get(plain, '/v1/carts?userId=u-clist&limit=2');
    expect(nextLink(first)).toBe(`/v1/carts?userId=u-clist&limit=2&cursor=${encodeURIComponent(first.body.nextCursor as string)}`);
    expectBadInput(await get(plain, `/v1/carts?userId=u-other&cursor=${first.body.nextCursor as string}`), /^cursor: was given for another listing/);
    expectBadInput(await get(plain, `/v1/orders?userId=u-clist&cursor=${first.body.nextCursor as string}`), /^cursor: was given for another listing \(cart list/);
  });
});

describe('consistency: X-Cache, ?consistent=true and Cache-Control: no-cache', () => {
  /** Rewrites the item behind shopdb's back, as another program would (the cache is not told). */
  async function behindBack(table: string, key: Record<string, AttributeValue>, changes: Record<string, AttributeValue>): Promise<void> {
    const item = await stored(table, key);
    if (!item) throw new Error(`no item ${JSON.stringify(key)} in ${table}`);
    await putRaw(client, table, { ...item, ...changes });
  }

  it('without a cache every read answers X-Cache: off, whatever the request asks', async () => {
    await createOrder('o-off');
    await createCart('c-off');
    for (const [path, headers] of [
      ['/v1/orders/o-off', {}],
      ['/v1/orders/o-off?consistent=true', {}],
      ['/v1/orders/o-off', { 'cache-control': 'no-cache' }],
      ['/v1/carts/c-off', {}],
      ['/v1/carts/c-off?consistent=true', {}],
    ] as Array<[string, Headers]>) {
      const read = await get(plain, path, headers);
      expect(read.status).toBe(200);
      expect(read.headers.get('x-cache'), path).toBe('off');
    }
  });

  it('with a cache: a miss, then hits that do not see a change made behind its back', async () => {
    // Created by the CLI without a Redis URL: nothing cached yet.
    await cli.ok(['order', 'create', 'o-cached', '--user', 'u-c', '--amount', '4.00']);
    await cli.ok(['cart', 'create', 'c-cached', '--user', 'u-c']);

    const miss = await get(cached, '/v1/orders/o-cached');
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('miss');
    expect(miss.headers.get('etag')).toBe('"1"');
    expect(exact(miss)).toEqual(await cliItem('order', 'o-cached'));
    const hit = await get(cached, '/v1/orders/o-cached');
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.text).toBe(miss.text);

    // Same version, other status: only a read that skips the cache can see it.
    await behindBack(ORDERS, { orderId: { S: 'o-cached' } }, { status: { S: 'SHIPPED' } });
    const stale = await get(cached, '/v1/orders/o-cached');
    expect(stale.headers.get('x-cache')).toBe('hit');
    expect(stale.body.status).toBe('PENDING');
    expect((await get(plain, '/v1/orders/o-cached')).body.status).toBe('SHIPPED');

    expect((await get(cached, '/v1/carts/c-cached')).headers.get('x-cache')).toBe('miss');
    const cartHit = await get(cached, '/v1/carts/c-cached');
    expect(cartHit.headers.get('x-cache')).toBe('hit');
    expect(exact(cartHit)).toEqual(await cliItem('cart', 'c-cached'));
  });

  it('?consistent=true bypasses the cache and refreshes it: the next cached read sees the newer item written behind its back', async () => {
    await cli.ok(['order', 'create', 'o-strong', '--user', 'u-c', '--amount', '4.00']);
    expect((await get(cached, '/v1/orders/o-strong')).headers.get('x-cache')).toBe('miss');
    expect((await get(cached, '/v1/orders/o-strong')).headers.get('x-cache')).toBe('hit');

    await behindBack(ORDERS, { orderId: { S: 'o-strong' } }, { status: { S: 'PAID' }, version: { N: '2' } });
    const stale = await get(cached, '/v1/orders/o-strong');
    expect(stale.headers.get('x-cache')).toBe('hit');
    expect(stale.body).toMatchObject({ status: 'PENDING', version: 1 });

    const strong = await get(cached, '/v1/orders/o-strong?consistent=true');
    expect(strong.status).toBe(200);
    expect(strong.headers.get('x-cache')).toBe('bypass');
    expect(strong.headers.get('etag')).toBe('"2"');
    expect(strong.body).toMatchObject({ status: 'PAID', version: 2 });
    expect(exact(strong)).toEqual(await cliItem('order', 'o-strong'));

    const after = await get(cached, '/v1/orders/o-strong');
    expect(after.headers.get('x-cache')).toBe('hit');
    expect(after.headers.get('etag')).toBe('"2"');
    expect(after.text).toBe(strong.text);

    // The same for a cart.
    await cli.ok(['cart', 'create', 'c-strong', '--user', 'u-c']);
    expect((await get(cached, '/v1/carts/c-strong')).headers.get('x-cache')).toBe('miss');
    await behindBack(CARTS, { cartId: { S: 'c-strong' } }, { userId: { S: 'u-moved' }, version: { N: '2' } });
    expect((await get(cached, '/v1/carts/c-strong')).body.userId).toBe('u-c');
    const strongCart = await get(cached, '/v1/carts/c-strong?consistent=true');
    expect(strongCart.headers.get('x-cache')).toBe('bypass');
    expect(strongCart.body).toMatchObject({ userId: 'u-moved', version: 2 });
    const cartAfter = await get(cached, '/v1/carts/c-strong');
    expect(cartAfter.headers.get('x-cache')).toBe('hit');
    expect(cartAfter.body).toMatchObject({ userId: 'u-moved', version: 2 });
  });

  it('Cache-Control: no-cache bypasses the cache and refreshes it too', async () => {
    await cli.ok(['order', 'create', 'o-nocache', '--user', 'u-c', '--amount', '4.00']);
    expect((await get(cached, '/v1/orders/o-nocache')).headers.get('x-cache')).toBe('miss');
    await behindBack(ORDERS, { orderId: { S: 'o-nocache' } }, { status: { S: 'CANCELLED' }, version: { N: '2' } });
    expect((await get(cached, '/v1/orders/o-nocache')).body.status).toBe('PENDING');

    const bypass = await get(cached, '/v1/orders/o-nocache', { 'cache-control': 'no-cache' });
    expect(bypass.headers.get('x-cache')).toBe('bypass');
    expect(bypass.body).toMatchObject({ status: 'CANCELLED', version: 2 });
    const after = await get(cached, '/v1/orders/o-nocache');
    expect(after.headers.get('x-cache')).toBe('hit');
    expect(after.body).toMatchObject({ status: 'CANCELLED', version: 2 });
    // Among other directives, in any case.
    expect((await get(cached, '/v1/orders/o-nocache', { 'cache-control': 'max-age=0, No-Cache' })).headers.get('x-cache')).toBe('bypass');
  });
});

describe('conditional requests', () => {
  it('If-None-Match: the current tag (also weak, in a list, or *) answers 304 with no body; an old one 200', async () => {
    await createOrder('o-inm');
    expect((await send('POST', '/v1/orders/o-inm/status', { status: 'PAID' })).headers.get('etag')).toBe('"2"');
    for (const tag of ['"2"', 'W/"2"', '"1", "2"', '*']) {
      const notModified = await get(plain, '/v1/orders/o-inm', { 'if-none-match': tag });
      expect(notModified.status, tag).toBe(304);
      expect(notModified.text).toBe('');
      expect(notModified.headers.get('etag')).toBe('"2"');
      expect(notModified.headers.get('x-cache')).toBe('off');
    }
    for (const tag of ['"1"', 'W/"1"', '"3"', '"1", "3"']) {
      const modified = await get(plain, '/v1/orders/o-inm', { 'if-none-match': tag });
      expect(modified.status, tag).toBe(200);
      expect(modified.body).toMatchObject({ orderId: 'o-inm', version: 2 });
    }
    await createCart('c-inm');
    expect((await get(plain, '/v1/carts/c-inm', { 'if-none-match': '"1"' })).status).toBe(304);
    expect((await get(plain, '/v1/carts/c-inm', { 'if-none-match': '"0"' })).status).toBe(200);
    // A missing item is still 404.
    expectProblem(await get(plain, '/v1/orders/o-never', { 'if-none-match': '*' }), 404, 'NOT_FOUND');
  });

  it('If-Match on a status move: the current tag applies; a stale one 412 with nothing written; * applies; a weak tag 412; two tags or no tag 400', async () => {
    await createOrder('o-im');
    const check = async (ifMatch: string, status: string) => send('POST', '/v1/orders/o-im/status', { status }, { 'if-match': ifMatch });

    const applied = await check('"1"', 'PAID');
    expect(applied.status, applied.text).toBe(200);
    expect(applied.headers.get('etag')).toBe('"2"');

    let before = await storedOrder('o-im');
    expectProblem(await check('"1"', 'SHIPPED'), 412, 'PRECONDITION_FAILED', /^order o-im is at version 2, not 1 as required; nothing was changed$/);
    // Even a move that would change nothing is refused on a stale tag.
    expectProblem(await check('"1"', 'PAID'), 412, 'PRECONDITION_FAILED');
    expectProblem(await check('W/"2"', 'SHIPPED'), 412, 'PRECONDITION_FAILED');
    expectProblem(await check('"abc"', 'SHIPPED'), 412, 'PRECONDITION_FAILED');
    expectBadInput(await check('"2", "3"', 'SHIPPED'), /^If-Match: name exactly one entity tag/);
    expectBadInput(await check('2', 'SHIPPED'), /^If-Match: not an entity tag/);
    expect(await storedOrder('o-im')).toEqual(before);
    expect(await cliItem('order', 'o-im')).toMatchObject({ status: 'PAID', version: 2 });

    const any = await check('*', 'SHIPPED');
    expect(any.status, any.text).toBe(200);
    expect(any.body).toMatchObject({ result: 'updated', order: { status: 'SHIPPED', version: 3 } });
    expectProblem(await send('POST', '/v1/orders/o-never/status', { status: 'PAID' }, { 'if-match': '*' }), 404, 'NOT_FOUND');

    // Deleting an order: the same rules.
    expect((await check('"3"', 'COMPLETED')).status).toBe(200);
    before = await storedOrder('o-im');
    expectProblem(await send('DELETE', '/v1/orders/o-im', undefined, { 'if-match': '"3"' }), 412, 'PRECONDITION_FAILED');
    expect(await storedOrder('o-im')).toEqual(before);
    const deleted = await send('DELETE', '/v1/orders/o-im', undefined, { 'if-match': '"4"' });
    expect(deleted.status, deleted.text).toBe(200);
    expect(await storedOrder('o-im')).toBeUndefined();
  });

  it('If-Match on every cart write (add, set, remove, checkout, delete): a stale tag 412 with nothing written, the current one applies', async () => {
    await createCart('c-im', 'u-im', [{ productId: 'a', price: '1.00' }]);
    let version = 2;
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/v1/carts/c-im/products', { productId: 'b', price: '2.00' }],
      ['PUT', '/v1/carts/c-im/products/a', { quantity: 4 }],
      ['DELETE', '/v1/carts/c-im/products/b', undefined],
      ['POST', '/v1/carts/c-im/checkout', { orderId: 'o-im-cart' }],
    ];
    for (const [method, path, body] of writes) {
      const before = await storedCart('c-im');
      const stale = await send(method, path, body, { 'if-match': `"${version - 1}"` });
      expectProblem(stale, 412, 'PRECONDITION_FAILED', new RegExp(`^cart c-im is at version ${version}, not ${version - 1} as required`));
      expectProblem(await send(method, path, body, { 'if-match': `W/"${version}"` }), 412, 'PRECONDITION_FAILED');
      expectBadInput(await send(method, path, body, { 'if-match': `"${version}", "${version + 1}"` }), /^If-Match: /);
      expect(await storedCart('c-im'), `${method} ${path}`).toEqual(before);
      const applied = await send(method, path, body, { 'if-match': `"${version}"` });
      expect(applied.status, `${method} ${path}: ${applied.text}`).toBeLessThan(300);
      version++;
    }
    expect(await storedOrder('o-im-cart')).toBeDefined();
    expect(await cliItem('cart', 'c-im')).toMatchObject({ status: 'CHECKED_OUT', version });

    const before = await storedCart('c-im');
    expectProblem(await send('DELETE', '/v1/carts/c-im?force=true', undefined, { 'if-match': `"${version - 1}"` }), 412, 'PRECONDITION_FAILED');
    expect(await storedCart('c-im')).toEqual(before);
    expect((await send('DELETE', '/v1/carts/c-im?force=true', undefined, { 'if-match': `"${version}"` })).status).toBe(200);
    expect(await storedCart('c-im')).toBeUndefined();
  });

  it('an If-Match race: 10 concurrent status moves with the same tag, exactly one 2xx and nine 412, the version up by exactly one', async () => {
    await createOrder('o-race');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send('POST', '/v1/orders/o-race/status', { status: i % 2 === 0 ? 'PAID' : 'CANCELLED' }, { 'if-match': '"1"' })),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses, answers.map((answer) => answer.text).join('\n')).toEqual([200, ...Array(9).fill(412)]);
    for (const answer of answers.filter((one) => one.status === 412)) expectProblem(answer, 412, 'PRECONDITION_FAILED');
    const winner = answers.find((answer) => answer.status === 200) as HttpAnswer;
    const now = await cliItem('order', 'o-race');
    expect(now.version).toBe(2);
    expect(now).toEqual(written(winner, 'order'));
  });

  it('an If-Match race on a cart: 10 concurrent adds with the same tag, exactly one applies', async () => {
    await createCart('c-race');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send('POST', '/v1/carts/c-race/products', { productId: `p${i}`, price: '1.00', quantity: i + 1 }, { 'if-match': '"1"' })),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses, answers.map((answer) => answer.text).join('\n')).toEqual([200, ...Array(9).fill(412)]);
    const winner = answers.find((answer) => answer.status === 200) as HttpAnswer;
    const now = await cliItem('cart', 'c-race');
    expect(now.version).toBe(2);
    expect((now.products as Item[]).length).toBe(1);
    expect(now).toEqual(written(winner, 'cart'));
  });
});

describe('data other programs wrote', () => {
  it('an original-design order written with boto3 reads over HTTP with every attribute (extra), as order get prints it; a status move keeps them', async () => {
    const item: DynamoJson = {
      orderId: { S: 'o-boto3' },
      userId: { S: 'u-py' },
      totalAmount: { S: '19.90' },
      status: { S: 'PENDING' },
      shipping: { M: { city: { S: 'Oslo' }, zip: { S: '0150' }, lines: { L: [{ S: 'Storgata 1' }, { NULL: true }] } } },
      tags: { SS: ['gift', 'urgent'] },
      weight: { N: '1.25' },
      big: { N: '12345678901234567890123456789012345678' },
      gift: { BOOL: true },
      blob: { B: Buffer.from([0, 1, 254, 255]).toString('base64') },
    };
    await boto3([
      { op: 'create_order', table: ORDERS, orderId: 'o-boto3-seed', userId: 'u-py', totalAmount: '5.50' },
      { op: 'put_item', table: ORDERS, item },
    ]);

    for (const id of ['o-boto3', 'o-boto3-seed']) {
      const read = await get(plain, `/v1/orders/${id}`);
      expect(read.status, read.text).toBe(200);
      expect(exact(read)).toEqual(await cliItem('order', id));
      // No version: no tag to offer.
      expect(read.headers.get('etag')).toBeNull();
    }
    const read = exact(await get(plain, '/v1/orders/o-boto3'));
    expect(read).toMatchObject({ orderId: 'o-boto3', userId: 'u-py', status: 'PENDING', version: null });
    const extra = read.extra as Record<string, JsonValue>;
    for (const name of ['shipping', 'tags', 'weight', 'big', 'gift', 'blob']) expect(extra[name], name).toBeDefined();
    expect(extra.big).toEqual({ N: '12345678901234567890123456789012345678' });
    expect(extra.shipping).toEqual(item.shipping);

    const moved = await send('POST', '/v1/orders/o-boto3/status', { status: 'PAID' });
    expect(moved.status, moved.text).toBe(200);
    expect(written(moved, 'order').extra).toEqual(read.extra);
    const after = (await boto3Get(ORDERS, { orderId: { S: 'o-boto3' } })) as DynamoJson;
    expect(after.status).toEqual({ S: 'PAID' });
    for (const name of ['shipping', 'weight', 'big', 'gift', 'blob', 'totalAmount']) expect(after[name], name).toEqual(item[name]);
    // A set has no order.
    expect([...(after.tags as { SS: string[] }).SS].sort()).toEqual(['gift', 'urgent']);
  });

  it('a version past 2^53 is exact in the body and the ETag and works as If-Match (its float neighbour does not); a 38-digit total is exact', async () => {
    const total = '123456789012345678901234567890123456.78';
    await putRaw(client, ORDERS, {
      orderId: { S: 'o-huge' },
      userId: { S: 'u-huge' },
      totalAmount: { N: total },
      status: { S: 'PENDING' },
      createdAt: { S: '2024-01-01T00:00:00.000Z' },
      updatedAt: { S: '2024-01-01T00:00:00.000Z' },
      version: { N: '9007199254740993' },
    });
    const read = await get(plain, '/v1/orders/o-huge');
    expect(read.status, read.text).toBe(200);
    expect(read.text).toContain('"version":9007199254740993');
    expect(read.text).toContain(`"totalAmount":"${total}"`);
    expect(read.headers.get('etag')).toBe('"9007199254740993"');
    expect(exact(read)).toEqual(await cliItem('order', 'o-huge'));
    expect(exact(read).version).toBe(9007199254740993n);
    expect((await get(plain, '/v1/orders/o-huge', { 'if-none-match': '"9007199254740993"' })).status).toBe(304);
    // 9007199254740992 is the same double as …993: only an exact comparison tells them apart.
    expect((await get(plain, '/v1/orders/o-huge', { 'if-none-match': '"9007199254740992"' })).status).toBe(200);

    const before = await storedOrder('o-huge');
    expectProblem(await send('POST', '/v1/orders/o-huge/status', { status: 'PAID' }, { 'if-match': '"9007199254740992"' }), 412, 'PRECONDITION_FAILED', /at version 9007199254740993, not 9007199254740992/);
    expect(await storedOrder('o-huge')).toEqual(before);

    const moved = await send('POST', '/v1/orders/o-huge/status', { status: 'PAID' }, { 'if-match': '"9007199254740993"' });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.headers.get('etag')).toBe('"9007199254740994"');
    expect(moved.text).toContain('"version":9007199254740994');
    expect(written(moved, 'order')).toMatchObject({ status: 'PAID', version: 9007199254740994n, totalAmount: total });
    expect((await storedOrder('o-huge'))?.version).toEqual({ N: '9007199254740994' });

    // A cart whose total has 38 significant digits: adding a cent keeps it exact.
    await createCart('c-huge', 'u-huge', [{ productId: 'big', price: '1.00' }]);
    const cart = (await storedCart('c-huge')) as Record<string, AttributeValue>;
    const line = (cart.products as { L: Array<{ M: Record<string, AttributeValue> }> }).L[0]!.M;
    await putRaw(client, CARTS, { ...cart, totalAmount: { N: total }, products: { L: [{ M: { ...line, unitPrice: { N: total } } }] } });
    const hugeCart = await get(plain, '/v1/carts/c-huge');
    expect(hugeCart.text).toContain(`"totalAmount":"${total}"`);
    expect(exact(hugeCart)).toEqual(await cliItem('cart', 'c-huge'));
    const plusCent = await send('POST', '/v1/carts/c-huge/products', { productId: 'cent', price: '0.01' }, { 'if-match': '"2"' });
    expect(plusCent.status, plusCent.text).toBe(200);
    expect(plusCent.body).toMatchObject({ cart: { totalAmount: '123456789012345678901234567890123456.79', version: 3 } });
    expect((await storedCart('c-huge'))?.totalAmount).toEqual({ N: '123456789012345678901234567890123456.79' });
  });
});

describe('GET /openapi.json', () => {
  /** Every route of issue 10. */
  const ROUTES = [
    'GET /v1/orders/{orderId}',
    'POST /v1/orders',
    'POST /v1/orders/{orderId}/status',
    'DELETE /v1/orders/{orderId}',
    'GET /v1/orders',
    'GET /v1/carts/{cartId}',
    'POST /v1/carts',
    'POST /v1/carts/{cartId}/products',
    'PUT /v1/carts/{cartId}/products/{productId}',
    'DELETE /v1/carts/{cartId}/products/{productId}',
    'DELETE /v1/carts/{cartId}',
    'POST /v1/carts/{cartId}/checkout',
    'GET /v1/carts',
    'GET /healthz',
    'GET /readyz',
    'GET /openapi.json',
    'GET /metrics',
  ];

  it('is a valid OpenAPI 3.1 document listing every route of the issue', async () => {
    const answer = await get(plain, '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const doc = answer.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');

    const result = await new Validator().validate(doc);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    // The validator does refuse a broken document.
    expect((await new Validator().validate({ ...doc, info: undefined })).valid).toBe(false);

    const listed = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((method) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(listed).toEqual(expect.arrayContaining(ROUTES));
    // Nothing listed that the issue does not name.
    expect(listed.filter((route) => !ROUTES.includes(route))).toEqual([]);
  });
});

describe('health and readiness', () => {
  it('/healthz answers 200; /readyz 200 with both tables ACTIVE and Redis off, or up with a cache', async () => {
    const health = await get(plain, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const ready = await get(plain, '/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(ready.headers.get('retry-after')).toBeNull();
    expect(ready.body).toMatchObject({ status: 'ready', dynamodb: { tables: { [ORDERS]: 'ACTIVE', [CARTS]: 'ACTIVE' } }, redis: 'off' });
    // The endpoint is the operator's business (the log has it): /readyz needs no token.
    expect(ready.text).not.toContain(inject('dynamoEndpoint'));
    const readyCached = await get(cached, '/readyz');
    expect(readyCached.status).toBe(200);
    expect(readyCached.body).toMatchObject({ status: 'ready', redis: 'up' });
  });

  it('/readyz answers 503 with Retry-After when the tables do not exist (serve still starts), and the API 503 TABLE_NOT_FOUND', async () => {
    const missing = uniquePrefix('serve-routes-missing');
    const served = await startServe({ prefix: missing });
    try {
      expect((await get(served, '/healthz')).status).toBe(200);
      const ready = await get(served, '/readyz');
      expect(ready.status, ready.text).toBe(503);
      expect(Number(ready.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(ready.body).toMatchObject({ status: 'not ready', dynamodb: { tables: { [`${missing}EcommerceOrders`]: 'MISSING', [`${missing}EcommerceCarts`]: 'MISSING' } } });
      const read = await get(served, '/v1/orders/o-1');
      expectProblem(read, 503, 'TABLE_NOT_FOUND', /^table \S+EcommerceOrders not found/);
      expect(Number(read.headers.get('retry-after'))).toBeGreaterThan(0);
      const write = await http(served.url, 'POST', '/v1/carts', { body: { cartId: 'c-1', userId: 'u' } });
      expectProblem(write, 503, 'TABLE_NOT_FOUND');
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });
});

describe('properties', () => {
  /** Cents as the decimal string the API prints. */
  function money(cents: bigint): string {
    return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
  }

  it('any amounts and quantities added to a cart keep its total exact (BigInt cents)', async () => {
    let run = 0;
    const price = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 17n - 1n }), fc.integer({ min: 0, max: 99 }), fc.boolean());
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 200_000 }), fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })), { minLength: 1, maxLength: 5 }),
        fc.array(price, { minLength: 3, maxLength: 3 }),
        async (adds, prices) => {
          const cartId = `c-prop-${run++}`;
          await createCart(cartId, 'u-prop');
          // Each product has one price; a whole price may be sent without decimals, cents with one or two digits.
          const spelled = prices.map(([whole, cents, short]) => (cents === 0 && short ? `${whole}` : cents % 10 === 0 && short ? `${whole}.${cents / 10}` : `${whole}.${String(cents).padStart(2, '0')}`));
          const centsOf = prices.map(([whole, cents]) => whole * 100n + BigInt(cents));
          const quantities = new Map<number, number>();
          let last: HttpAnswer | undefined;
          for (const [product, quantity, repeat] of adds) {
            const body = { productId: `p${product}`, price: spelled[product] as string, ...(repeat === undefined ? { quantity } : {}) };
            last = await send('POST', `/v1/carts/${cartId}/products`, body);
            expect(last.status, last.text).toBe(200);
            quantities.set(product, (quantities.get(product) ?? 0) + (repeat === undefined ? quantity : 1));
          }
          let expected = 0n;
          for (const [product, quantity] of quantities) expected += (centsOf[product] as bigint) * BigInt(quantity);
          const cart = written(last as HttpAnswer, 'cart');
          expect(cart.totalAmount).toBe(money(expected));
          expect(cart.products).toEqual(
            [...quantities.keys()].map((product) => expect.objectContaining({ productId: `p${product}`, quantity: quantities.get(product), unitPrice: money(centsOf[product] as bigint) })),
          );
          expect(exact(await get(plain, `/v1/carts/${cartId}`))).toEqual(cart);
        },
      ),
      { numRuns: 12 },
    );
  });

  /** What an id may be (the core's rules), but not `.` or `..`: a URL client (WHATWG) resolves those as dot segments before sending. */
  const validId = fc
    .string({ unit: fc.oneof(fc.constantFrom('/', '%', ' ', '?', '#', '&', '+', '=', ';', '.', '..', '%2F', '%00', 'é', '😀', '中', '\u00a0'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
    // eslint-disable-next-line no-control-regex
    .filter((id) => id.trim() === id && id.trim() !== '' && id !== '.' && id !== '..' && id.isWellFormed() && !id.includes('\uFFFD') && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(id));

  it('any id (unicode, /, %, spaces inside) round-trips through the URL, encodeURIComponent, to the same item', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(validId, validId, async (id, productId) => {
        if (seen.has(id)) return;
        seen.add(id);
        const created = await send('POST', '/v1/orders', { orderId: id, userId: 'u-ids', totalAmount: '1.00' });
        expect(created.status, created.text).toBe(201);
        const location = created.headers.get('location') as string;
        expect(location).toBe(`/v1/orders/${encodeURIComponent(id)}`);
        const read = await get(plain, location);
        expect(read.status, `${JSON.stringify(id)}: ${read.text}`).toBe(200);
        expect(read.body.orderId).toBe(id);
        const moved = await send('POST', `${location}/status`, { status: 'PAID' });
        expect(moved.body).toMatchObject({ result: 'updated', order: { orderId: id, status: 'PAID' } });

        const cart = await send('POST', '/v1/carts', { cartId: id, userId: 'u-ids' });
        expect(cart.status, cart.text).toBe(201);
        const path = `/v1/carts/${encodeURIComponent(id)}/products`;
        expect((await send('POST', path, { productId, price: '1.00' })).status).toBe(200);
        const set = await send('PUT', `${path}/${encodeURIComponent(productId)}`, { quantity: 3 });
        expect(set.status, set.text).toBe(200);
        expect(set.body).toMatchObject({ cart: { cartId: id, products: [{ productId, quantity: 3 }], totalAmount: '3.00' } });
        expect((await send('DELETE', `${path}/${encodeURIComponent(productId)}`)).body).toMatchObject({ cart: { cartId: id, products: [] } });
        expect(await storedOrder(id)).toBeDefined();
        expect(await storedCart(id)).toBeDefined();
      }),
      { numRuns: 30 },
    );
  });

  it('`.` and `..` (which URL clients resolve away) are refused as new ids over HTTP, naming the field; one the CLI made stays reachable as %2E%2E', async () => {
    for (const [path, body, field] of [
      ['/v1/orders', { orderId: '..', userId: 'u-dots', totalAmount: '1.00' }, 'orderId'],
      ['/v1/carts', { cartId: '.', userId: 'u-dots' }, 'cartId'],
    ] as const) {
      const refused = await send('POST', path, body);
      expect(refused.status, refused.text).toBe(400);
      expect((refused.body as { detail: string }).detail).toMatch(new RegExp(`^${field}: "\\.{1,2}" cannot be used in a URL path`));
    }
    expect(await storedOrder('..')).toBeUndefined();
    expect(await storedCart('.')).toBeUndefined();
    const cli = await shopdb(['order', 'create', '..', '--user', 'u-dots', '--amount', '1.00'], { prefix });
    expect(cli.exitCode, cli.stderr).toBe(0);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // Options, not a URL string: node would resolve the dot segments of a URL too.
      const request = rawRequest({ host: '127.0.0.1', port: plain.port, path: '/v1/orders/%2E%2E' }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
      request.end();
    });
    expect(answer.status, answer.body).toBe(200);
    expect((JSON.parse(answer.body) as { orderId: string }).orderId).toBe('..');
  });

  it('a read of a missing item answers X-Cache too: a cached not-found is a hit', async () => {
    const first = await http(cached.url, 'GET', '/v1/orders/o-never-made');
    expect(first.status).toBe(404);
    expect(first.headers.get('x-cache')).toBe('miss');
    const second = await http(cached.url, 'GET', '/v1/orders/o-never-made');
    expect(second.status).toBe(404);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect((await http(plain.url, 'GET', '/v1/carts/c-never-made')).headers.get('x-cache')).toBe('off');
  });
});
