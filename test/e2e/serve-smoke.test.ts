import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTables, uniquePrefix } from '../support/cli.js';
import { http, startServe, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-smoke');
let served: Served;

beforeAll(async () => {
  await createTables(prefix);
  served = await startServe({ prefix });
});
afterAll(async () => {
  expect(await served.stop()).toBe(0);
});

it('creates an order and reads it back with its ETag', async () => {
  const created = await http(served.url, 'POST', '/v1/orders', { body: { orderId: 'o-1', userId: 'u-1', totalAmount: '1.50' } });
  expect(created.status).toBe(201);
  expect(created.headers.get('location')).toBe('/v1/orders/o-1');
  const read = await http(served.url, 'GET', '/v1/orders/o-1');
  expect(read.status).toBe(200);
  expect(read.headers.get('etag')).toBe('"1"');
  expect(read.headers.get('x-cache')).toBe('off');
  expect(read.body).toMatchObject({ orderId: 'o-1', totalAmount: '1.50', status: 'PENDING' });
});
