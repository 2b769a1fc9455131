/**
 * Issue 12, "Done when", first bullet: while `shopdb cache follow` runs, the
 * original design's own writes (boto3 put/update/delete, no version) and the
 * AWS CLI's reach `get --cache` within the documented bound (5 s, polled),
 * and the cached answer names the stream follower as its source. Each item's
 * cache is primed with a cached read first, so without the follower every
 * poll would keep answering the primed (stale) entry until its TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { awsCli, cachedGet, foreign, killAllFollowers, observed, pollUntil, redisEnv, startFollower, type CachedRead, type RunningFollower } from '../support/follower.js';

const prefix = uniquePrefix('follow-foreign');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
const BOUND_MS = 5_000;
const BY_STREAM = 'stored by the stream follower';

let follower: RunningFollower;

beforeAll(async () => {
  await createTables(prefix, { streams: true });
  follower = await startFollower(prefix, { leaseSeconds: 2, verbose: true });
});

afterAll(async () => {
  await killAllFollowers();
  if (observed.length > 0) console.log(`foreign write → cached read (ms): ${observed.map((o) => `${o.what} ${o.ms}`).join(', ')}`);
});

/** Polls the cached read until `check`; records the time; the answer must come from the follower's entry. */
async function until(what: string, kind: 'order' | 'cart', id: string, check: (read: CachedRead) => boolean): Promise<CachedRead> {
  const { ms, value } = await pollUntil(() => cachedGet(prefix, kind, id), check, BOUND_MS);
  observed.push({ what, ms });
  expect(ms).toBeLessThanOrEqual(BOUND_MS);
  return value;
}

const found = (status: string) => (read: CachedRead) => read.exitCode === 0 && read.item?.status === status;
const notFound = (read: CachedRead) => read.exitCode === 3;

/** A cached read now, so the cache holds the item as it is (or its absence) before the foreign write. */
async function prime(kind: 'order' | 'cart', id: string, expectExit: number): Promise<void> {
  const read = await cachedGet(prefix, kind, id);
  expect(read.exitCode, read.run.stderr).toBe(expectExit);
  // A second read is answered by Redis: the cache really holds it.
  const again = await cachedGet(prefix, kind, id);
  expect(again.source, again.run.stderr).toContain('cache hit');
}

describe('the original design’s writes (boto3, no version) reach get --cache', () => {
  it('put_item of a new order (its absence was cached), update_item of its status, delete_item', async () => {
    const id = 'py-order-1';
    await prime('order', id, 3);

    await foreign([{ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'alice' }, totalAmount: { S: '59.97' }, status: { S: 'PENDING' } } }]);
    const created = await until('boto3 put', 'order', id, found('PENDING'));
    expect(created.item).toMatchObject({ orderId: id, userId: 'alice', status: 'PENDING', version: null });
    expect(created.source).toContain(BY_STREAM);

    await prime('order', id, 0);
    await foreign([{ op: 'update_item', table: ORDERS, key: { orderId: { S: id } }, attribute: 'status', value: { S: 'SHIPPED' } }]);
    const updated = await until('boto3 update', 'order', id, found('SHIPPED'));
    expect(updated.source).toContain(BY_STREAM);
    expect(updated.source).toContain('cache hit');

    await foreign([{ op: 'delete_item', table: ORDERS, key: { orderId: { S: id } } }]);
    await until('boto3 delete', 'order', id, notFound);
  });

  it('a shopdb order (version 1) changed by boto3 without a version bump, then replaced whole', async () => {
    const id = 'shop-order-1';
    const created = await shopdb(['order', 'create', id, '--user', 'u1', '--amount', '10'], { prefix, env: redisEnv() });
    expect(created.exitCode, created.stderr).toBe(0);
    await prime('order', id, 0);

    await foreign([{ op: 'update_item', table: ORDERS, key: { orderId: { S: id } }, attribute: 'status', value: { S: 'PAID' } }]);
    const paid = await until('boto3 update of a versioned order', 'order', id, found('PAID'));
    expect(paid.item).toMatchObject({ status: 'PAID', version: 1 });
    expect(paid.source).toContain(BY_STREAM);

    await foreign([{ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'u9' }, status: { S: 'CANCELLED' } } }]);
    const replaced = await until('boto3 replace', 'order', id, found('CANCELLED'));
    expect(replaced.item).toMatchObject({ userId: 'u9', version: null, totalAmount: null });
  });

  // BUG (reported): an image without `version` (stored at version 0) after a versioned one is dropped, not stored, and the
  // floor left in the item's lease hash (version 1) then refuses every reader's fill of version 0 for the guard's lifetime
  // (the horizon, 450 s by default): the item is never cached again, every --cache read goes to DynamoDB. The stream's own
  // sequence already orders this image after everything applied; it should be stored (or at least a fill accepted).
  it('a shopdb order replaced whole by boto3 (no version attribute) is cached again, not read from DynamoDB every time', async () => {
    const id = 'shop-order-2';
    const created = await shopdb(['order', 'create', id, '--user', 'u1', '--amount', '10'], { prefix, env: redisEnv() });
    expect(created.exitCode, created.stderr).toBe(0);
    await prime('order', id, 0);
    await foreign([{ op: 'put_item', table: ORDERS, item: { orderId: { S: id }, userId: { S: 'u9' }, status: { S: 'CANCELLED' } } }]);
    await until('boto3 replace without version', 'order', id, found('CANCELLED'));
    const hit = await until('boto3 replace without version, cached', 'order', id, (read) => found('CANCELLED')(read) && read.source.includes('cache hit'));
    expect(hit.item).toMatchObject({ userId: 'u9', version: null });
  });

  it('a cart: boto3 put_item, update_item, delete_item', async () => {
    const id = 'py-cart-1';
    await prime('cart', id, 3);
    const cart = {
      cartId: { S: id },
      userId: { S: 'carol' },
      products: { L: [{ M: { productId: { S: 'mug' }, quantity: { N: '1' }, unitPrice: { N: '5' } } }] },
      totalAmount: { N: '5' },
    };
    await foreign([{ op: 'put_item', table: CARTS, item: cart }]);
    const put = await until('boto3 cart put', 'cart', id, (read) => read.exitCode === 0 && read.item?.userId === 'carol');
    expect(put.source).toContain(BY_STREAM);

    await foreign([{ op: 'update_item', table: CARTS, key: { cartId: { S: id } }, attribute: 'userId', value: { S: 'dave' } }]);
    const moved = await until('boto3 cart update', 'cart', id, (read) => read.exitCode === 0 && read.item?.userId === 'dave');
    expect(moved.source).toContain(BY_STREAM);

    await foreign([{ op: 'delete_item', table: CARTS, key: { cartId: { S: id } } }]);
    await until('boto3 cart delete', 'cart', id, notFound);
  });
});

describe('the AWS CLI’s writes reach get --cache', () => {
  it('put-item, update-item, delete-item of an order', async () => {
    const id = 'cli-order-1';
    await prime('order', id, 3);
    await awsCli(['put-item', '--table-name', ORDERS, '--item', JSON.stringify({ orderId: { S: id }, userId: { S: 'erin' }, totalAmount: { S: '12.50' }, status: { S: 'PENDING' } })]);
    const put = await until('aws put-item', 'order', id, found('PENDING'));
    expect(put.source).toContain(BY_STREAM);

    await awsCli([
      'update-item',
      '--table-name',
      ORDERS,
      '--key',
      JSON.stringify({ orderId: { S: id } }),
      '--update-expression',
      'SET #s = :s',
      '--expression-attribute-names',
      '{"#s":"status"}',
      '--expression-attribute-values',
      '{":s":{"S":"SHIPPED"}}',
    ]);
    const shipped = await until('aws update-item', 'order', id, found('SHIPPED'));
    expect(shipped.source).toContain(BY_STREAM);

    await awsCli(['delete-item', '--table-name', ORDERS, '--key', JSON.stringify({ orderId: { S: id } })]);
    await until('aws delete-item', 'order', id, notFound);
  });

  it('update-item and delete-item of a shopdb cart', async () => {
    const id = 'cli-cart-1';
    const created = await shopdb(['cart', 'create', id, '--user', 'frank'], { prefix, env: redisEnv() });
    expect(created.exitCode, created.stderr).toBe(0);
    await prime('cart', id, 0);
    await awsCli([
      'update-item',
      '--table-name',
      CARTS,
      '--key',
      JSON.stringify({ cartId: { S: id } }),
      '--update-expression',
      'SET userId = :u',
      '--expression-attribute-values',
      '{":u":{"S":"grace"}}',
    ]);
    const moved = await until('aws cart update-item', 'cart', id, (read) => read.exitCode === 0 && read.item?.userId === 'grace');
    expect(moved.source).toContain(BY_STREAM);
    await awsCli(['delete-item', '--table-name', CARTS, '--key', JSON.stringify({ cartId: { S: id } })]);
    await until('aws cart delete-item', 'cart', id, notFound);
  });
});

describe('the follower itself', () => {
  it('logged nothing alarming while it applied the writes, and stops with exit 0', async () => {
    const stopped = await follower.stop('SIGTERM');
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stderr).not.toMatch(/warning|error: |\n\s+at /i);
    expect(stopped.stderr).toMatch(/stored/);
    expect(JSON.parse(stopped.stdout.trim())).toMatchObject({ result: 'stopped', errors: 0 });
  });
});
