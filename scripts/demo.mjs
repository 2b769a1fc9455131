#!/usr/bin/env node
// `npm run demo`: the main job end to end on the bundled DynamoDB Local,
// started in memory on a free port and stopped again, leaving nothing behind.
import { execFileSync, spawnSync } from 'node:child_process';
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

let failed = false;
let redis;
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
} catch (error) {
  failed = true;
  console.error(`demo failed: ${error.message}`);
} finally {
  await redis?.stop();
  shopdb('local', 'stop');
  rmSync(home, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
