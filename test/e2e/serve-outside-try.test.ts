/**
 * Regression tests for what an outside try of `shopdb serve` found (a tester
 * with the README and the issue only): each test failed before its fix.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { putRaw, rawClient, scanAll } from '../support/dynamo.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { http, startServe, type Served } from '../support/serve.js';

const prefix = uniquePrefix('serve-outside');
let plain: Served;
/** Its DynamoDB calls pass a proxy whose faults each test chooses. */
let proxied: Served;
let proxy: FaultProxy;
let fault: (operation: string, body: string) => Fault = () => 'forward';

beforeAll(async () => {
  await createTables(prefix);
  proxy = await startFaultProxy(inject('dynamoEndpoint'), ({ operation, body }) => fault(operation, body));
  [plain, proxied] = await Promise.all([
    startServe({ prefix }),
    startServe({ prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint, AWS_REGION: 'us-east-1' }, args: ['--timeout', '1'] }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), proxied?.stop()]);
  await proxy?.close();
});

const json = { 'content-type': 'application/json' };

describe('preconditions on a create', () => {
  it('If-None-Match: * creates only while the id is free: an existing order (even identical) is 412, nothing written', async () => {
    const body = { orderId: 'o-inm', userId: 'u-1', totalAmount: '1.00' };
    const first = await http(plain.url, 'POST', '/v1/orders', { body, headers: { 'if-none-match': '*' } });
    expect(first.status, first.text).toBe(201);
    const again = await http(plain.url, 'POST', '/v1/orders', { body, headers: { 'if-none-match': '*' } });
    expect(again.status, again.text).toBe(412);
    expect(again.body).toMatchObject({ code: 'PRECONDITION_FAILED', detail: 'order o-inm already exists (If-None-Match: *); nothing was changed' });
    const cart = await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-inm', userId: 'u-1' }, headers: { 'if-none-match': '*' } });
    expect(cart.status).toBe(201);
    expect((await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-inm', userId: 'u-1' }, headers: { 'if-none-match': '*' } })).status).toBe(412);
  });

  it('If-Match on a create is refused (400), not ignored, and creates nothing', async () => {
    const refused = await http(plain.url, 'POST', '/v1/orders', { body: { orderId: 'o-im', userId: 'u-1', totalAmount: '1.00' }, headers: { 'if-match': '"7"' } });
    expect(refused.status).toBe(400);
    expect((refused.body as { detail: string }).detail).toMatch(/^If-Match: a create has no current version/);
    expect((await http(plain.url, 'GET', '/v1/orders/o-im?consistent=true')).status).toBe(404);
  });
});

describe('reads', () => {
  it('HEAD answers what GET would, without the body', async () => {
    await http(plain.url, 'POST', '/v1/orders', { body: { orderId: 'o-head', userId: 'u-1', totalAmount: '2.00' } });
    const head = await fetch(`${plain.url}/v1/orders/o-head`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe('"1"');
    expect(await head.text()).toBe('');
    expect((await fetch(`${plain.url}/v1/orders/o-head-missing`, { method: 'HEAD' })).status).toBe(404);
  });

  it('If-None-Match: * matches an item without a version (another program wrote it): 304', async () => {
    await putRaw(rawClient(), `${prefix}EcommerceOrders`, { orderId: { S: 'o-legacy' }, userId: { S: 'u-1' }, totalAmount: { N: '3.5' } });
    const read = await http(plain.url, 'GET', '/v1/orders/o-legacy', { headers: { 'if-none-match': '*' } });
    expect(read.status).toBe(304);
    expect(read.headers.get('etag')).toBeNull();
  });
});

describe('messages', () => {
  it('an id too long reads the same in a body as in a path (bytes, the core’s rule)', async () => {
    const id = 'x'.repeat(3000);
    const inBody = await http(plain.url, 'POST', '/v1/orders', { body: { orderId: id, userId: 'u-1', totalAmount: '1.00' } });
    const inPath = await http(plain.url, 'GET', `/v1/orders/${id}`);
    expect(inBody.status).toBe(400);
    expect((inBody.body as { detail: string }).detail).toBe('orderId: is 3000 bytes long; at most 2048 bytes are allowed');
    expect((inPath.body as { detail: string }).detail).toBe('orderId: is 3000 bytes long; at most 2048 bytes are allowed');
  });

  it('an amount too long says what is wrong with it, not a schema length', async () => {
    const answer = await http(plain.url, 'POST', '/v1/orders', { body: { userId: 'u-1', totalAmount: '1'.repeat(45) } });
    expect(answer.status).toBe(400);
    expect((answer.body as { detail: string }).detail).toMatch(/^totalAmount: .*at most 17 digits before the decimal point/);
  });

  it('413 names the limit', async () => {
    const answer = await http(plain.url, 'POST', '/v1/orders', { body: JSON.stringify({ userId: 'u'.repeat(70_000), totalAmount: '1.00' }) });
    expect(answer.status).toBe(413);
    expect((answer.body as { detail: string }).detail).toBe('the request body is larger than this server accepts (65536 bytes)');
  });

  it('serve --port 70000 names the port and allows 0', async () => {
    const run = await shopdb(['serve', '--port', '70000'], { prefix });
    expect(run.exitCode).toBe(2);
    expect(JSON.parse(run.stderr).error.message).toBe('port: "70000" is not a port; use 0 (any free port) or 1 to 65535');
  });

  it("a 5xx names neither the server's DynamoDB endpoint nor CLI advice, and /readyz (no token) neither", async () => {
    const dead = await startServe({ prefix, env: { SHOPDB_ENDPOINT: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1' }, args: ['--timeout', '1'] });
    try {
      const answer = await http(dead.url, 'GET', '/v1/orders/o-1');
      expect(answer.status).toBe(503);
      expect(answer.text).not.toContain('127.0.0.1:9');
      expect(answer.text).not.toMatch(/is it running|shopdb local|--/);
      expect((answer.body as { detail: string }).detail).toContain("the server's DynamoDB");
      const ready = await http(dead.url, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.text).not.toContain('127.0.0.1:9');
      // The operator's log keeps the endpoint.
      expect(dead.logs()).toContain('127.0.0.1:9');
    } finally {
      await dead.stop();
    }
  });
});

describe('idempotency keys', () => {
  it('the same request spelled otherwise (%2D for -, a trailing ?) is the same request: replayed, not 422', async () => {
    await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-spell', userId: 'u-1' } });
    const headers = { ...json, 'idempotency-key': 'spell-1' };
    const body = JSON.stringify({ productId: 'p-1', price: '1.00' });
    const first = await http(plain.url, 'POST', '/v1/carts/c-spell/products', { body, headers });
    expect(first.status, first.text).toBe(200);
    for (const path of ['/v1/carts/c%2Dspell/products', '/v1/carts/c-spell/products?']) {
      const again = await http(plain.url, 'POST', path, { body, headers });
      expect(again.status, `${path}: ${again.text}`).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    }
    const cart = await http(plain.url, 'GET', '/v1/carts/c-spell?consistent=true');
    expect((cart.body as { products: Array<{ quantity: number }> }).products[0]?.quantity).toBe(1);
  });

  it('a claim whose answer DynamoDB lost (the SDK resends it) is still this request’s: it runs, once', async () => {
    await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-lost-claim', userId: 'u-1' } });
    let dropped = false;
    fault = (operation, body) => {
      if (!dropped && operation === 'PutItem' && body.includes('IdempotencyKeys')) {
        dropped = true;
        return 'drop-response';
      }
      return 'forward';
    };
    try {
      const answer = await http(proxied.url, 'POST', '/v1/carts/c-lost-claim/products', { body: { productId: 'p-1', price: '1.00' }, headers: { 'idempotency-key': 'lost-claim-1' } });
      expect(dropped).toBe(true);
      expect(answer.status, answer.text).toBe(200);
    } finally {
      fault = () => 'forward';
    }
    const cart = await http(plain.url, 'GET', '/v1/carts/c-lost-claim?consistent=true');
    expect((cart.body as { products: Array<{ quantity: number }> }).products[0]?.quantity).toBe(1);
  });

  it('a claim that timed out (DynamoDB slow) frees its key within seconds once DynamoDB answers: no long false 409', async () => {
    await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-slow-claim', userId: 'u-1' } });
    let held = 0;
    fault = (operation, body) => {
      if (operation === 'PutItem' && body.includes('IdempotencyKeys')) {
        held += 1;
        // Every send of the claim outlasts the server's --timeout 1 (its retries included): the claim fails, then lands.
        return { holdMs: 2_500 };
      }
      return 'forward';
    };
    const request = { body: { productId: 'p-1', price: '1.00' }, headers: { 'idempotency-key': 'slow-claim-1' } };
    try {
      const first = await http(proxied.url, 'POST', '/v1/carts/c-slow-claim/products', request);
      expect(first.status, first.text).toBe(503);
      expect(held).toBeGreaterThan(0);
    } finally {
      fault = () => 'forward';
    }
    // Wait until the late claim has landed (RUNNING, its lease minutes long): without the release every retry would be 409 until then.
    const landed = Date.now() + 10_000;
    while (!(await scanAll(rawClient(), `${prefix}EcommerceIdempotencyKeys`)).some((item) => item.state?.S === 'RUNNING') && Date.now() < landed) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    let answer = await http(plain.url, 'POST', '/v1/carts/c-slow-claim/products', request);
    expect(answer.status, 'the late claim holds the key at first').toBe(409);
    const deadline = Date.now() + 15_000;
    while (answer.status === 409 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      answer = await http(plain.url, 'POST', '/v1/carts/c-slow-claim/products', request);
    }
    expect(answer.status, answer.text).toBe(200);
    const cart = await http(plain.url, 'GET', '/v1/carts/c-slow-claim?consistent=true');
    expect((cart.body as { products: Array<{ quantity: number }> }).products[0]?.quantity).toBe(1);
  });
});

/** One raw request on its own connection; everything the server wrote until it closed (or `waitMs`). */
function rawExchange(port: number, text: string, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
    socket.write(text);
  });
}

describe('a second outside try', () => {
  it('two Idempotency-Key (or Authorization) headers are refused, not merged into one key', async () => {
    await http(plain.url, 'POST', '/v1/carts', { body: { cartId: 'c-dupkey', userId: 'u-1' } });
    const body = '{"productId":"p-1","price":"1.00"}';
    const text = `POST /v1/carts/c-dupkey/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: dup-a\r\nIdempotency-Key: dup-b\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const answer = await rawExchange(plain.port, text, 5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('Idempotency-Key: is sent more than once');
    const cart = await http(plain.url, 'GET', '/v1/carts/c-dupkey?consistent=true');
    expect((cart.body as { products: unknown[] }).products).toEqual([]);
  });

  it('If-None-Match on a change is refused (400, nothing changed); If-Match on a read is honoured (412)', async () => {
    await http(plain.url, 'POST', '/v1/orders', { body: { orderId: 'o-inm-write', userId: 'u-1', totalAmount: '1.00' } });
    const move = await http(plain.url, 'POST', '/v1/orders/o-inm-write/status', { body: { status: 'PAID' }, headers: { 'if-none-match': '*' } });
    expect(move.status, move.text).toBe(400);
    const read = await http(plain.url, 'GET', '/v1/orders/o-inm-write?consistent=true', { headers: { 'if-match': '"999"' } });
    expect(read.status, read.text).toBe(412);
    const fine = await http(plain.url, 'GET', '/v1/orders/o-inm-write?consistent=true', { headers: { 'if-match': '"1"' } });
    expect(fine.status).toBe(200);
    expect((fine.body as { status: string }).status).toBe('PENDING');
  });

  it('a trailing slash on a list route is 404 ROUTE_NOT_FOUND, not an empty id', async () => {
    for (const path of ['/v1/orders/', '/v1/carts/']) {
      const answer = await http(plain.url, 'GET', path);
      expect(answer.status, path).toBe(404);
      expect((answer.body as { code: string }).code).toBe('ROUTE_NOT_FOUND');
    }
  });

  it('a body still arriving at the request timeout gets one answer, 408, never a 503 first', async () => {
    const quick = await startServe({ prefix, args: ['--request-timeout', '2'] });
    try {
      const text = 'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n{"userId":';
      const answer = await rawExchange(quick.port, text, 15_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    } finally {
      await quick.stop();
    }
  });

  it("a 5xx says \"the server's DynamoDB\" once, without doubled wording", async () => {
    const dead = await startServe({ prefix, env: { SHOPDB_ENDPOINT: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1' }, args: ['--timeout', '1'] });
    try {
      const answer = await http(dead.url, 'GET', '/v1/orders/o-1');
      expect(answer.status).toBe(503);
      expect((answer.body as { detail: string }).detail).not.toMatch(/DynamoDB at the server's DynamoDB|endpoint does not answer/);
    } finally {
      await dead.stop();
    }
  });
});
