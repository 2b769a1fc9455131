#!/usr/bin/env node
// `npm run demo`: the main job end to end on the bundled DynamoDB Local,
// started in memory on a free port and stopped again, leaving nothing behind.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/shopdb', import.meta.url));
// A private state directory, so the demo never touches an engine the user runs.
const home = mkdtempSync(join(tmpdir(), 'shopdb-demo-'));
const env = { ...process.env, SHOPDB_HOME: home };

function shopdb(...args) {
  console.log(`\n$ shopdb ${args.join(' ')}`);
  const run = spawnSync(bin, args, { env, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`shopdb ${args.join(' ')} exited with ${run.status}`);
}

/** A private redis-server for the cache part, when the machine has one. */
async function startDemoRedis() {
  const { startRedis } = await import('../dist/local/redis-server.js');
  const { freePort } = await import('../dist/local/engine.js');
  try {
    return await startRedis({ port: await freePort() });
  } catch (error) {
    console.log(`\n(skipping the cache part: ${error.message})`);
    return undefined;
  }
}

/** `shopdb serve` on a free port; resolves once it prints where it listens. */
function startServe(args) {
  console.log(`\n$ shopdb serve --port 0 ${args.join(' ')}`);
  const child = spawn(bin, ['serve', '--port', '0', '--log-level', 'warn', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) resolve({ child, url: JSON.parse(line).listening });
    });
    child.on('exit', (code) => reject(new Error(`shopdb serve exited with ${code}`)));
  });
}

/** One request, shown as curl would be typed, and its answer. */
async function call(base, method, path, body, headers = {}) {
  const shown = [`curl -s -X ${method} ${base}${path}`, ...Object.entries(headers).map(([name, value]) => `-H '${name}: ${value}'`), ...(body ? [`-d '${JSON.stringify(body)}'`] : [])];
  console.log(`\n$ ${shown.join(' ')}`);
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const picked = ['etag', 'x-cache', 'location', 'idempotent-replayed'].filter((name) => response.headers.has(name)).map((name) => `${name}: ${response.headers.get(name)}`);
  console.log(`${response.status} ${picked.join('  ')}\n${await response.text()}`);
}

let failed = false;
let redis;
let server;
try {
  console.log('$ shopdb local start --in-memory --port 0');
  const started = JSON.parse(execFileSync(bin, ['local', 'start', '--in-memory', '--port', '0', '--json'], { env, encoding: 'utf8' }));
  console.log(`DynamoDB Local runs at ${started.endpoint}`);
  env.SHOPDB_ENDPOINT = started.endpoint;

  shopdb('tables', 'create');
  shopdb('order', 'create', 'ord-1001', '--user', 'alice', '--amount', '59.97');
  shopdb('order', 'get', 'ord-1001');
  shopdb('order', 'get', 'ord-1001', '--strong');
  shopdb('order', 'set-status', 'ord-1001', 'PAID');
  shopdb('order', 'get', 'ord-1001', '--strong', '--json');
  shopdb('cart', 'create', 'cart-7', '--user', 'alice');
  shopdb('cart', 'add-product', 'cart-7', 'sku-mug', '--price', '19.99', '--quantity', '3', '--name', 'Tea mug');
  shopdb('cart', 'add-product', 'cart-7', 'sku-tea', '--price', '4.50', '--name', 'Green tea');
  shopdb('cart', 'get', 'cart-7', '--strong');

  console.log('\nEdit the cart: change a quantity, remove a line (each atomic, the total follows exactly).');
  shopdb('cart', 'add-product', 'cart-7', 'sku-pot', '--price', '24.00', '--name', 'Teapot');
  shopdb('cart', 'set-quantity', 'cart-7', 'sku-mug', '2');
  shopdb('cart', 'remove-product', 'cart-7', 'sku-tea');
  console.log('\nCheck it out: one transaction creates the order and marks the cart CHECKED_OUT.');
  shopdb('cart', 'checkout', 'cart-7', '--order-id', 'ord-1002');
  shopdb('cart', 'checkout', 'cart-7');
  shopdb('order', 'get', 'ord-1002');

  console.log('\nFind things: a user\'s orders newest first, orders by status.');
  shopdb('order', 'create', 'ord-1003', '--user', 'bob', '--amount', '5.00');
  shopdb('order', 'list', '--user', 'alice');
  shopdb('order', 'list', '--status', 'PENDING', '--json');

  console.log('\nCancel an order and delete it (only CANCELLED or COMPLETED orders are deleted without --force).');
  shopdb('order', 'set-status', 'ord-1003', 'CANCELLED');
  shopdb('order', 'delete', 'ord-1003');

  redis = await startDemoRedis();
  if (redis) {
    console.log(`\nA Redis cache at ${redis.url}: the first read misses and fills it, the second is answered from Redis (0 capacity units).`);
    shopdb('order', 'get', 'ord-1001', '--cache', '--verbose', '--redis-url', redis.url);
    shopdb('order', 'get', 'ord-1001', '--cache', '--verbose', '--redis-url', redis.url);
    console.log('\nA write refreshes the cached copy, so the next cached read already sees it:');
    shopdb('order', 'set-status', 'ord-1001', 'SHIPPED', '--redis-url', redis.url);
    shopdb('order', 'get', 'ord-1001', '--cache', '--verbose', '--redis-url', redis.url);
  }

  console.log('\nThe same over HTTP: `shopdb serve` (Ctrl-C or SIGTERM stops it after the requests in flight).');
  server = await startServe(redis ? ['--cache', '--redis-url', redis.url] : []);
  await call(server.url, 'POST', '/v1/carts', { cartId: 'cart-8', userId: 'carol' });
  await call(server.url, 'POST', '/v1/carts/cart-8/products', { productId: 'sku-mug', price: '19.99', quantity: 2 }, { 'Idempotency-Key': 'demo-add-1' });
  console.log('(the same request again, as a client retrying after a lost answer: replayed, not added twice)');
  await call(server.url, 'POST', '/v1/carts/cart-8/products', { productId: 'sku-mug', price: '19.99', quantity: 2 }, { 'Idempotency-Key': 'demo-add-1' });
  await call(server.url, 'GET', '/v1/carts/cart-8');
  await call(server.url, 'PUT', '/v1/carts/cart-8/products/sku-mug', { quantity: 3 }, { 'If-Match': '"1"' });
  await call(server.url, 'POST', '/v1/carts/cart-8/checkout', { orderId: 'ord-1004' });
  await call(server.url, 'GET', '/v1/orders/ord-1004?consistent=true');
  await call(server.url, 'POST', '/v1/orders', { userId: 'carol', totalAmount: 12.5 });
} catch (error) {
  failed = true;
  console.error(`demo failed: ${error.message}`);
} finally {
  if (server) {
    // The start's own 'exit' listener (a failed start) goes first; then wait for this exit.
    server.child.removeAllListeners('exit');
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    console.log(`\nshopdb serve stopped on SIGTERM (exit ${await exited})`);
  }
  await redis?.stop();
  shopdb('local', 'stop');
  rmSync(home, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
