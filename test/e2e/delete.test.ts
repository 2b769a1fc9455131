/**
 * order delete and cart delete (issue 9) through the built binary against
 * DynamoDB Local: atomic and conditional, --expect and --force, a checked-out
 * cart kept while its order is not final, racing writers, resends after a
 * lost answer, the cache never serving a deleted item, the original design's
 * orders, dynalite (no TransactWriteItems), bad input, the terminal at 80/50.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import type { CacheSettings, StoredRead } from '../../src/core/cache.js';
import type { Order } from '../../src/core/model.js';
import { CartService } from '../../src/core/carts.js';
import { OrderService, type OrderStore } from '../../src/core/orders.js';
import { tableNames } from '../../src/core/tables.js';
import { dynamoIdentity } from '../../src/store/cache-scope.js';
import { openDynamoStore } from '../../src/store/index.js';
import { RedisCache } from '../../src/store/redis-cache.js';
import { boto3, boto3Get } from '../support/boto3.js';
import { createTables, jsonError as error, shopdb, uniquePrefix, withPrefix } from '../support/cli.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';
import { rawClient } from '../support/dynamo.js';
import { requestToken, startFaultProxy, type Fault, type SeenRequest } from '../support/fault-proxy.js';
import { pty, SGR, STACK_LINE, stripAnsi, type PtyRun } from '../support/pty.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('delete');
const { run, ok } = withPrefix(prefix);
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;
const redisUrl = inject('redisUrl');
const cached = { SHOPDB_REDIS_URL: redisUrl };
const client = rawClient();

beforeAll(() => createTables(prefix));
afterAll(() => client.destroy());

/**
 * `inner` (OrderTable or CartTable) whose next eventually consistent read
 * answers `old`, as a replica that has not seen the last write would (DynamoDB
 * Local reads are all consistent); every other call goes to the real table.
 */
function staleOnce<S extends { get(id: string, consistent: boolean): Promise<unknown> }>(inner: S, old: Awaited<ReturnType<S['get']>>): S {
  let stale = true;
  const replica = Object.create(inner) as S;
  replica.get = async (id: string, consistent: boolean) => {
    if (!consistent && stale) {
      stale = false;
      return old;
    }
    return inner.get(id, consistent);
  };
  return replica;
}

async function rawItem(table: string, key: Record<string, { S: string }>) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}
const rawOrder = (orderId: string) => rawItem(ORDERS, { orderId: { S: orderId } });
const rawCart = (cartId: string) => rawItem(CARTS, { cartId: { S: cartId } });

/** An order moved through the given statuses. */
async function orderIn(orderId: string, path: string[]): Promise<Record<string, unknown>> {
  await ok(['order', 'create', orderId, '--user', 'u-del', '--amount', '12.34']);
  for (const status of path) await ok(['order', 'set-status', orderId, status]);
  return (await run(['order', 'get', orderId, '--strong'])).json();
}

async function checkedOutCart(cartId: string, orderId: string): Promise<void> {
  await ok(['cart', 'create', cartId, '--user', 'u-del']);
  await ok(['cart', 'add-product', cartId, 'mug', '--price', '19.99']);
  await ok(['cart', 'checkout', cartId, '--order-id', orderId]);
}

describe('order delete', () => {
  it.each([
    ['CANCELLED', ['CANCELLED']],
    ['COMPLETED', ['PAID', 'SHIPPED', 'COMPLETED']],
  ])('a %s order is deleted and printed as it was; then get and delete are exit 3', async (status, path) => {
    const id = `o-del-${status}`;
    const before = await orderIn(id, path);
    const deleted = await ok(['order', 'delete', id]);
    expect(deleted.json()).toEqual({ result: 'deleted', order: before });
    expect(before).toMatchObject({ status });
    expect(await rawOrder(id)).toBeUndefined();
    expect((await run(['order', 'get', id, '--strong'])).exitCode).toBe(3);
    const again = await run(['order', 'delete', id]);
    expect(again.exitCode).toBe(3);
    expect(error(again).message).toContain(id);
  });

  it.each([['PENDING', []], ['PAID', ['PAID']], ['SHIPPED', ['PAID', 'SHIPPED']]])(
    'a %s order is kept without --force (exit 4, hint "add --force"), deleted with it',
    async (status, path) => {
      const id = `o-keep-${status}`;
      const before = await orderIn(id, path);
      const kept = await run(['order', 'delete', id]);
      expect(kept.exitCode).toBe(4);
      expect(kept.stderr).toContain('add --force');
      expect(error(kept).message).toContain(status);
      expect((await run(['order', 'get', id, '--strong'])).json()).toEqual(before);
      expect((await ok(['order', 'delete', id, '--force'])).json()).toEqual({ result: 'deleted', order: before });
      expect(await rawOrder(id)).toBeUndefined();
    },
  );

  it('--expect: a mismatch is exit 4 UNEXPECTED_STATUS and nothing is deleted, also with --force; a match deletes', async () => {
    const before = await orderIn('o-expect', ['PAID']);
    for (const args of [['--expect', 'PENDING'], ['--expect', 'PENDING', '--force'], ['--expect', 'CANCELLED']]) {
      const result = await run(['order', 'delete', 'o-expect', ...args]);
      expect(result.exitCode, args.join(' ')).toBe(4);
      expect(error(result).code).toBe('UNEXPECTED_STATUS');
    }
    expect((await run(['order', 'get', 'o-expect', '--strong'])).json()).toEqual(before);
    // A match on a status that is not final still needs --force.
    const unforced = await run(['order', 'delete', 'o-expect', '--expect', 'PAID']);
    expect(unforced.exitCode).toBe(4);
    expect(unforced.stderr).toContain('add --force');
    expect((await ok(['order', 'delete', 'o-expect', '--expect', 'PAID', '--force'])).json()).toMatchObject({ result: 'deleted', order: { status: 'PAID' } });
  });

  it('an order the original design wrote (no version, string total) is deleted with --force, kept without', async () => {
    await boto3([{ op: 'create_order', table: ORDERS, orderId: 'py-order', userId: 'py', totalAmount: '10.50' }]);
    const kept = await run(['order', 'delete', 'py-order']);
    expect(kept.exitCode).toBe(4);
    expect(await boto3Get(ORDERS, { orderId: { S: 'py-order' } })).toMatchObject({ totalAmount: { S: '10.50' } });
    const deleted = await ok(['order', 'delete', 'py-order', '--force']);
    expect(deleted.json()).toMatchObject({ result: 'deleted', order: { orderId: 'py-order', userId: 'py', status: 'PENDING', totalAmount: null, version: null, extra: { totalAmount: { S: '10.50' } } } });
    expect(await boto3Get(ORDERS, { orderId: { S: 'py-order' } })).toBeNull();
  });

  it('an order holding a status shopdb does not know: kept without --force, and the message shows that status', async () => {
    await boto3([
      { op: 'create_order', table: ORDERS, orderId: 'py-odd', userId: 'py', totalAmount: '3' },
      { op: 'update_order_status', table: ORDERS, orderId: 'py-odd', status: 'Cancelled' },
    ]);
    const kept = await run(['order', 'delete', 'py-odd']);
    expect(kept.exitCode).toBe(4);
    expect(error(kept).message).toContain('"Cancelled"');
    expect(error(kept).message).not.toContain('without a status');
    const expected = await run(['order', 'delete', 'py-odd', '--expect', 'CANCELLED', '--force']);
    expect(expected.exitCode).toBe(4);
    expect(error(expected).message).toContain('"Cancelled"');
    expect(await boto3Get(ORDERS, { orderId: { S: 'py-odd' } })).toMatchObject({ status: { S: 'Cancelled' } });
    expect((await ok(['order', 'delete', 'py-odd', '--force'])).json()).toMatchObject({ result: 'deleted', order: { status: null, extra: { status: { S: 'Cancelled' } } } });
  });

  it('an original-design order moved to CANCELLED by update_item is deleted without --force', async () => {
    await boto3([
      { op: 'create_order', table: ORDERS, orderId: 'py-cancelled', userId: 'py', totalAmount: '3' },
      { op: 'update_order_status', table: ORDERS, orderId: 'py-cancelled', status: 'CANCELLED' },
    ]);
    expect((await ok(['order', 'delete', 'py-cancelled'])).json()).toMatchObject({ result: 'deleted', order: { status: 'CANCELLED', version: null } });
    expect(await boto3Get(ORDERS, { orderId: { S: 'py-cancelled' } })).toBeNull();
  });
});

describe('cart delete', () => {
  it('an open cart is deleted and printed as it was; then exit 3', async () => {
    await ok(['cart', 'create', 'c-del', '--user', 'u-del']);
    await ok(['cart', 'add-product', 'c-del', 'mug', '--price', '19.99', '--quantity', '2']);
    const before = (await run(['cart', 'get', 'c-del', '--strong'])).json();
    expect((await ok(['cart', 'delete', 'c-del'])).json()).toEqual({ result: 'deleted', cart: before });
    expect(await rawCart('c-del')).toBeUndefined();
    expect((await run(['cart', 'delete', 'c-del'])).exitCode).toBe(3);
    expect((await run(['cart', 'get', 'c-del', '--strong'])).exitCode).toBe(3);
  });

  it('a checked-out cart whose order is not final is kept (exit 4, add --force); deleted once the order is final, or with --force', async () => {
    await checkedOutCart('c-co-del', 'o-co-del');
    const kept = await run(['cart', 'delete', 'c-co-del']);
    expect(kept.exitCode).toBe(4);
    expect(kept.stderr).toContain('add --force');
    expect(error(kept).message).toContain('o-co-del');
    expect(await rawCart('c-co-del')).toBeDefined();
    await ok(['order', 'set-status', 'o-co-del', 'PAID']);
    expect((await run(['cart', 'delete', 'c-co-del'])).exitCode).toBe(4);
    await ok(['order', 'set-status', 'o-co-del', 'CANCELLED']);
    expect((await ok(['cart', 'delete', 'c-co-del'])).json()).toMatchObject({ result: 'deleted', cart: { status: 'CHECKED_OUT', orderId: 'o-co-del' } });
    expect(await rawCart('c-co-del')).toBeUndefined();
    // The order stays.
    expect(await rawOrder('o-co-del')).toBeDefined();

    await checkedOutCart('c-co-force', 'o-co-force');
    expect((await ok(['cart', 'delete', 'c-co-force', '--force'])).json()).toMatchObject({ result: 'deleted', cart: { orderId: 'o-co-force' } });
    expect(await rawOrder('o-co-force')).toMatchObject({ status: { S: 'PENDING' } });
  });

  it('a checked-out cart whose order was deleted is deleted without --force', async () => {
    await checkedOutCart('c-co-gone', 'o-co-gone');
    await ok(['order', 'delete', 'o-co-gone', '--force']);
    expect((await ok(['cart', 'delete', 'c-co-gone'])).json()).toMatchObject({ result: 'deleted' });
  });

  it('racing cart delete against the order becoming final: the cart is deleted only if the order was final', async () => {
    for (let round = 0; round < 3; round++) {
      await checkedOutCart(`c-co-race-${round}`, `o-co-race-${round}`);
      await ok(['order', 'set-status', `o-co-race-${round}`, 'PAID']);
      const [del, cancel] = await Promise.all([run(['cart', 'delete', `c-co-race-${round}`]), run(['order', 'set-status', `o-co-race-${round}`, 'CANCELLED'])]);
      expect(cancel.exitCode, cancel.stderr).toBe(0);
      if (del.exitCode === 0) expect(await rawCart(`c-co-race-${round}`)).toBeUndefined();
      else {
        expect(del.exitCode, del.stderr).toBe(4);
        expect(await rawCart(`c-co-race-${round}`)).toBeDefined();
      }
      expect(await rawOrder(`o-co-race-${round}`)).toMatchObject({ status: { S: 'CANCELLED' } });
    }
  });
});

describe('racing', () => {
  it('5 deletes of one order at once: one deleted, the others exit 3', async () => {
    await orderIn('o-race-del', ['CANCELLED']);
    const runs = await Promise.all(Array.from({ length: 5 }, () => run(['order', 'delete', 'o-race-del'])));
    expect(runs.map((r) => r.exitCode).sort()).toEqual([0, 3, 3, 3, 3]);
    expect(await rawOrder('o-race-del')).toBeUndefined();
  });

  it('delete --force against set-status: the order is gone; the deleted copy shows any move acknowledged before', async () => {
    for (let round = 0; round < 4; round++) {
      const id = `o-race-force-${round}`;
      await orderIn(id, ['PAID']);
      const [del, move] = await Promise.all([run(['order', 'delete', id, '--force']), run(['order', 'set-status', id, 'SHIPPED'])]);
      expect(del.exitCode, del.stderr).toBe(0);
      expect(await rawOrder(id)).toBeUndefined();
      const printed = del.json<{ order: { status: string; version: number } }>().order;
      if (move.exitCode === 0) expect(printed).toMatchObject({ status: 'SHIPPED', version: 3 });
      else {
        expect(move.exitCode, move.stderr).toBe(3);
        expect(printed).toMatchObject({ status: 'PAID', version: 2 });
      }
    }
  });

  it('delete --expect PAID against set-status SHIPPED: exactly one of them wins, and the other says why', async () => {
    for (let round = 0; round < 4; round++) {
      const id = `o-race-expect-${round}`;
      await orderIn(id, ['PAID']);
      const [del, move] = await Promise.all([run(['order', 'delete', id, '--expect', 'PAID', '--force']), run(['order', 'set-status', id, 'SHIPPED'])]);
      if (del.exitCode === 0) {
        expect(del.json()).toMatchObject({ order: { status: 'PAID', version: 2 } });
        expect(move.exitCode, move.stderr).toBe(3);
        expect(await rawOrder(id)).toBeUndefined();
      } else {
        expect(del.exitCode, del.stderr).toBe(4);
        expect(error(del).code).toBe('UNEXPECTED_STATUS');
        expect(move.exitCode, move.stderr).toBe(0);
        expect(await rawOrder(id)).toMatchObject({ status: { S: 'SHIPPED' } });
      }
    }
  });

  it('delete (no --force) against set-status CANCELLED: deleted only if it was CANCELLED first', async () => {
    for (let round = 0; round < 4; round++) {
      const id = `o-race-cancel-${round}`;
      await orderIn(id, []);
      const [del, cancel] = await Promise.all([run(['order', 'delete', id]), run(['order', 'set-status', id, 'CANCELLED'])]);
      expect(cancel.exitCode, cancel.stderr).toBe(0);
      if (del.exitCode === 0) {
        expect(del.json()).toMatchObject({ order: { status: 'CANCELLED' } });
        expect(await rawOrder(id)).toBeUndefined();
      } else {
        expect(del.exitCode, del.stderr).toBe(4);
        expect(await rawOrder(id)).toMatchObject({ status: { S: 'CANCELLED' } });
      }
    }
  });
});

describe('a delete applied whose answer is lost, so the SDK resends it', () => {
  async function throughProxy(args: string[]) {
    let dropped = false;
    const decide = (request: SeenRequest): Fault => {
      if (dropped || request.operation !== 'TransactWriteItems') return 'forward';
      dropped = true;
      return 'drop-response';
    };
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), decide);
    try {
      const result = await run(args, { SHOPDB_ENDPOINT: proxy.endpoint });
      const writes = proxy.seen.filter((request) => request.operation === 'TransactWriteItems');
      expect(writes.length).toBeGreaterThanOrEqual(2);
      expect(new Set(writes.map(requestToken)).size).toBe(1);
      return result;
    } finally {
      await proxy.close();
    }
  }

  it('order delete reports success (exit 0, deleted), not "not found"', async () => {
    const before = await orderIn('o-lost', ['CANCELLED']);
    const result = await throughProxy(['order', 'delete', 'o-lost']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toEqual({ result: 'deleted', order: before });
    expect(await rawOrder('o-lost')).toBeUndefined();
  });

  it('cart delete reports success (exit 0, deleted)', async () => {
    await ok(['cart', 'create', 'c-lost', '--user', 'u-del']);
    const result = await throughProxy(['cart', 'delete', 'c-lost']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ result: 'deleted', cart: { cartId: 'c-lost' } });
    expect(await rawCart('c-lost')).toBeUndefined();
  });
});

describe('a delete cancelled by another transaction in progress (TransactionConflict)', () => {
  async function afterConflict(args: string[]) {
    let answered = false;
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => {
      if (answered || request.operation !== 'TransactWriteItems') return 'forward';
      answered = true;
      return 'transaction-conflict';
    });
    try {
      const result = await run(args, { SHOPDB_ENDPOINT: proxy.endpoint });
      expect(proxy.seen.filter((request) => request.operation === 'TransactWriteItems').length).toBeGreaterThanOrEqual(2);
      return result;
    } finally {
      await proxy.close();
    }
  }

  it('order delete is tried again and deletes', async () => {
    await orderIn('o-tc', ['CANCELLED']);
    const result = await afterConflict(['order', 'delete', 'o-tc']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await rawOrder('o-tc')).toBeUndefined();
  });

  it('cart delete of a checked-out cart (with its order check) is tried again and deletes', async () => {
    await checkedOutCart('c-tc', 'o-tc-co');
    await ok(['order', 'set-status', 'o-tc-co', 'CANCELLED']);
    const result = await afterConflict(['cart', 'delete', 'c-tc']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await rawCart('c-tc')).toBeUndefined();
  });
});

describe('with the cache: a deleted item is never served', () => {
  it('order: cached right before the delete, get --cache is exit 3 afterwards', async () => {
    await orderIn('o-cache', ['CANCELLED']);
    expect((await ok(['order', 'get', 'o-cache', '--cache'], cached)).json()).toMatchObject({ status: 'CANCELLED' });
    expect((await ok(['order', 'get', 'o-cache', '--cache', '--verbose'], cached)).stderr).toContain('cache hit');
    await ok(['order', 'delete', 'o-cache', '--cache'], cached);
    for (let i = 0; i < 2; i++) {
      const got = await run(['order', 'get', 'o-cache', '--cache'], cached);
      expect(got.exitCode, got.stdout).toBe(3);
    }
  });

  it('cart: cached right before the delete, get --cache is exit 3 afterwards', async () => {
    await ok(['cart', 'create', 'c-cache', '--user', 'u-del']);
    await ok(['cart', 'add-product', 'c-cache', 'mug', '--price', '1']);
    expect((await ok(['cart', 'get', 'c-cache', '--cache'], cached)).json()).toMatchObject({ version: 2 });
    await ok(['cart', 'delete', 'c-cache', '--cache'], cached);
    expect((await run(['cart', 'get', 'c-cache', '--cache'], cached)).exitCode).toBe(3);
  });

  it('a deleted then re-created order is served as the new one, not the old', async () => {
    await orderIn('o-cache-again', ['CANCELLED']);
    await ok(['order', 'get', 'o-cache-again', '--cache'], cached);
    await ok(['order', 'delete', 'o-cache-again', '--cache'], cached);
    expect((await run(['order', 'get', 'o-cache-again', '--cache'], cached)).exitCode).toBe(3);
    await ok(['order', 'create', 'o-cache-again', '--user', 'u-new', '--amount', '1', '--cache'], cached);
    expect((await ok(['order', 'get', 'o-cache-again', '--cache'], cached)).json()).toMatchObject({ userId: 'u-new', status: 'PENDING', version: 1 });
  });

  it('a deleted cart (version 3, cached) re-created at version 1 is served as the new cart, never the old one', async () => {
    await ok(['cart', 'create', 'c-cache-again', '--user', 'u-old']);
    await ok(['cart', 'add-product', 'c-cache-again', 'mug', '--price', '1']);
    await ok(['cart', 'add-product', 'c-cache-again', 'pen', '--price', '2']);
    expect((await ok(['cart', 'get', 'c-cache-again', '--cache'], cached)).json()).toMatchObject({ version: 3 });
    await ok(['cart', 'delete', 'c-cache-again', '--cache'], cached);
    await ok(['cart', 'create', 'c-cache-again', '--user', 'u-new', '--cache'], cached);
    expect((await ok(['cart', 'get', 'c-cache-again', '--cache'], cached)).json()).toMatchObject({ userId: 'u-new', products: [], version: 1 });
    await ok(['cart', 'add-product', 'c-cache-again', 'cup', '--price', '3', '--cache'], cached);
    for (let i = 0; i < 2; i++) {
      expect((await ok(['cart', 'get', 'c-cache-again', '--cache'], cached)).json()).toMatchObject({ userId: 'u-new', products: [{ productId: 'cup' }], version: 2 });
    }
  });

  describe('cached readers racing a delete or a checkout (in-process, real DynamoDB Local and Redis)', () => {
    let store: ReturnType<typeof openDynamoStore>;
    let redis: RedisCache;
    let settings: CacheSettings;
    let evictEntry: (table: string, id: string) => Promise<void>;

    beforeAll(async () => {
      store = openDynamoStore(
        { endpoint: inject('dynamoEndpoint'), region: 'us-east-1', staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeoutMs: 10_000, location: 'test' },
        tableNames(prefix),
      );
      redis = new RedisCache(redisUrl);
      const scope = cacheScope((await dynamoIdentity({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' }))!);
      settings = { cache: redis, scope, ttlSeconds: 300, readThrough: true };
      evictEntry = async (table, id) => {
        // The entry key of README "Key layout (v2)"; these tables and ids need no escaping. Its :lease key (the floor) stays.
        const admin = new Redis(redisUrl);
        try {
          expect(await admin.del(`shopdb:v2:{${scope}:${table}:${id}}`)).toBe(1);
        } finally {
          admin.disconnect();
        }
      };
    });
    afterAll(async () => {
      await redis?.close();
      store?.close();
    });

    it('fills late with the old order, but the cache never serves it (a tombstone outranks the older fill)', async () => {
      const id = 'o-slow-reader';
      await orderIn(id, ['CANCELLED']);
      // The real order table, with the next get held after DynamoDB answered it.
      let release!: () => void;
      let reached!: (read: StoredRead<Order>) => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const readDone = new Promise<StoredRead<Order>>((resolve) => (reached = resolve));
      let holdNext = true;
      const slow: OrderStore = {
        tableName: store.orders.tableName,
        insert: (order) => store.orders.insert(order),
        remove: (removal) => store.orders.remove(removal),
        moveStatus: (move) => store.orders.moveStatus(move),
        async get(orderId, consistent) {
          const read = await store.orders.get(orderId, consistent);
          if (holdNext) {
            holdNext = false;
            reached(read);
            await released;
          }
          return read;
        },
      };
      const reader = new OrderService(slow, { cache: settings });
      const writer = new OrderService(store.orders, { cache: settings });
      const reading = reader.get(id, { strong: false });
      expect((await readDone).item).toMatchObject({ status: 'CANCELLED' });
      await writer.delete({ orderId: id });
      release();
      expect(await reading).toMatchObject({ status: 'CANCELLED' });
      // The reader's late fill must not resurrect the order for cached readers.
      const fresh = new OrderService(store.orders, { cache: settings });
      await expect(fresh.get(id, { strong: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await run(['order', 'get', id, '--cache'], cached)).exitCode).toBe(3);
    });

    it('a reader that starts after the delete but gets the old order from an eventually consistent read cannot cache it', async () => {
      // DynamoDB Local is always consistent; a replica that has not seen the delete yet is simulated by
      // answering the reader's next eventually consistent read with what a consistent read gave before the delete.
      const id = 'o-stale-replica';
      await orderIn(id, ['CANCELLED']);
      const old = await store.orders.get(id, true);
      expect(old.item).toMatchObject({ status: 'CANCELLED', version: 2 });
      const writer = new OrderService(store.orders, { cache: settings });
      await writer.delete({ orderId: id });
      const replica = staleOnce(store.orders, old);
      const reader = new OrderService(replica, { cache: settings });
      // The tombstone answers at once: the reader never reaches the stale replica.
      await expect(reader.get(id, { strong: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // With the tombstone evicted but the floor in place, the replica's stale answer is returned once, and not cached.
      await evictEntry(store.orders.tableName, id);
      expect(await reader.get(id, { strong: false })).toMatchObject({ status: 'CANCELLED' });
      const fresh = new OrderService(store.orders, { cache: settings });
      await expect(fresh.get(id, { strong: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await run(['order', 'get', id, '--cache'], cached)).exitCode).toBe(3);
    });

    it('a reader that starts after a cart delete but gets the old cart from an eventually consistent read cannot cache it', async () => {
      const id = 'c-stale-deleted';
      await ok(['cart', 'create', id, '--user', 'u-del']);
      await ok(['cart', 'add-product', id, 'mug', '--price', '1']);
      const old = await store.carts.get(id, true);
      await new CartService(store.carts, { cache: settings }).delete({ cartId: id });
      const replica = staleOnce(store.carts, old);
      const reader = new CartService(replica, { cache: settings });
      await expect(reader.get(id, { strong: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await evictEntry(store.carts.tableName, id);
      expect(await reader.get(id, { strong: false })).toMatchObject({ version: 2 });
      expect((await run(['cart', 'get', id, '--cache'], cached)).exitCode).toBe(3);
    });

    it('a reader that gets the open cart from an eventually consistent read after checkout cannot cache it (never checked-out-stale)', async () => {
      const id = 'c-stale-replica';
      await ok(['cart', 'create', id, '--user', 'u-del']);
      await ok(['cart', 'add-product', id, 'mug', '--price', '1']);
      const old = await store.carts.get(id, true);
      expect(old.item).toMatchObject({ status: null, version: 2 });
      await ok(['cart', 'checkout', id, '--order-id', 'o-stale-replica-co', '--cache'], cached);
      const replica = staleOnce(store.carts, old);
      // Start the reader on an empty entry, as after an eviction.
      await redis.forget({ scope: settings.scope, table: store.carts.tableName, id }, 30);
      const reader = new CartService(replica, { cache: settings });
      expect(await reader.get(id, { strong: false })).toMatchObject({ status: null });
      expect((await run(['cart', 'get', id, '--cache'], cached)).json()).toMatchObject({ status: 'CHECKED_OUT', orderId: 'o-stale-replica-co' });
    });
  });
});

describe('dynalite, which has no TransactWriteItems', () => {
  let dynalite: RunningDynalite;
  const own = uniquePrefix('dl-del');
  const onDynalite = (args: string[]) => shopdb(args, { prefix: own, env: { SHOPDB_ENDPOINT: dynalite.endpoint }, timeoutMs: 90_000 });

  beforeAll(async () => {
    dynalite = await startDynalite({ createTableMs: 10, deleteTableMs: 10 });
    for (const args of [
      ['tables', 'create'],
      ['order', 'create', 'o1', '--user', 'u1', '--amount', '1'],
      ['order', 'set-status', 'o1', 'CANCELLED'],
      ['cart', 'create', 'c1', '--user', 'u1'],
    ]) {
      const result = await onDynalite(args);
      if (result.exitCode !== 0) throw new Error(`${args.join(' ')} on dynalite: ${result.stderr}`);
    }
  }, 120_000);
  afterAll(() => dynalite?.stop());

  it.each([
    [['order', 'delete', 'o1']],
    [['order', 'delete', 'o1', '--force']],
    [['cart', 'delete', 'c1']],
    [['cart', 'delete', 'c1', '--force']],
  ])('%j exits 5 naming TransactWriteItems, nothing changed', async (args) => {
    const result = await onDynalite(args);
    expect(result.exitCode, result.stderr).toBe(5);
    expect(error(result).message).toContain('TransactWriteItems');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await onDynalite(['order', 'get', 'o1', '--strong'])).json()).toMatchObject({ status: 'CANCELLED', version: 2 });
    expect((await onDynalite(['cart', 'get', 'c1', '--strong'])).json()).toMatchObject({ version: 1 });
  });

  it('checkout, set-quantity and remove-product on a cart with lines exit 5 naming TransactWriteItems, nothing changed', async () => {
    // add-product needs TransactWriteItems too, so the line is imported (--overwrite writes with PutItem).
    const line = { cartId: 'c2', userId: 'u1', products: [{ productId: 'mug', name: null, quantity: 1, unitPrice: '2.50' }], totalAmount: '2.50', createdAt: null, updatedAt: null, version: 1 };
    const imported = await shopdb(['cart', 'import', '-', '--overwrite'], { prefix: own, env: { SHOPDB_ENDPOINT: dynalite.endpoint }, input: `${JSON.stringify(line)}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    for (const args of [
      ['cart', 'checkout', 'c2', '--order-id', 'o-dl'],
      ['cart', 'set-quantity', 'c2', 'mug', '2'],
      ['cart', 'remove-product', 'c2', 'mug'],
    ]) {
      const result = await onDynalite(args);
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(5);
      expect(error(result).message).toContain('TransactWriteItems');
    }
    expect((await onDynalite(['cart', 'get', 'c2', '--strong'])).json()).toMatchObject({ products: [{ quantity: 1 }], totalAmount: '2.50', version: 1, status: null });
    expect((await onDynalite(['order', 'get', 'o-dl', '--strong'])).exitCode).toBe(3);
  });
});

describe('bad input: exit 2 naming the field, nothing written, no stack trace', () => {
  beforeAll(async () => {
    await orderIn('o-bad', ['CANCELLED']);
    await ok(['cart', 'create', 'c-bad', '--user', 'u-del']);
  });

  it.each<[string[], string]>([
    [['order', 'delete', ''], 'orderId'],
    [['order', 'delete', '   '], 'orderId'],
    [['order', 'delete', 'o-\u0007bad'], 'orderId'],
    [['order', 'delete', 'o-bad\n'], 'orderId'],
    [['order', 'delete', 'o-bad', '--expect', 'cancelled-ish'], 'expect'],
    [['order', 'delete', 'o-bad', '--expect', ''], 'expect'],
    [['order', 'delete', 'o-bad', '--expect', 'DONE'], 'expect'],
    [['order', 'delete', 'o-bad', '--expect', 'CANCELLED\u001b[0m'], 'expect'],
    [['cart', 'delete', ''], 'cartId'],
    [['cart', 'delete', ' \t'], 'cartId'],
    [['cart', 'delete', 'c-\u0000bad'.replace('\u0000', '\u0001')], 'cartId'],
  ])('%j names %s', async (args, field) => {
    const result = await run(args);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(error(result).message).toMatch(new RegExp(`^${field}\\b`));
    expect(result.stdout).toBe('');
    expect(await rawOrder('o-bad')).toBeDefined();
    expect(await rawCart('c-bad')).toBeDefined();
  });

  it('a missing id is a usage error (exit 2)', async () => {
    for (const args of [['order', 'delete'], ['cart', 'delete'], ['order', 'delete', 'o-bad', '--expect']]) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await rawOrder('o-bad')).toBeDefined();
  });
});

describe('the terminal at 80 and 50 columns', () => {
  function expectFits(result: PtyRun): void {
    const context = `screen at ${result.columns} columns:\n${result.text}`;
    expect(result.scriptErrors).toBe('');
    expect(result.overflows.filter((line) => !line.startsWith('shopdb: ')), context).toEqual([]);
    expect(result.text, context).not.toMatch(STACK_LINE);
    expect(result.text, context).not.toMatch(/unexpected error:|please report it/i);
  }
  const flat = (result: PtyRun) => result.text.replace(/\n\s*/g, ' ');

  it.each([80, 50])('deletes at %i columns: a green ✓ naming what was deleted', async (columns) => {
    await orderIn(`o-pty-${columns}`, ['CANCELLED']);
    const order = await pty(['order', 'delete', `o-pty-${columns}`], { prefix, columns });
    expectFits(order);
    expect(order.exitCode, order.text).toBe(0);
    expect(order.raw).toMatch(SGR);
    for (const fact of ['✓', `o-pty-${columns}`, 'CANCELLED', '12.34']) expect(flat(order)).toContain(fact);

    await ok(['cart', 'create', `c-pty-${columns}`, '--user', 'u-del']);
    await ok(['cart', 'add-product', `c-pty-${columns}`, 'mug', '--price', '19.99', '--quantity', '2']);
    const cart = await pty(['cart', 'delete', `c-pty-${columns}`], { prefix, columns });
    expectFits(cart);
    expect(cart.exitCode, cart.text).toBe(0);
    for (const fact of ['✓', `c-pty-${columns}`, '39.98']) expect(flat(cart)).toContain(fact);
  });

  it.each([80, 50])('failures at %i columns: one shopdb: line with the hint, no ✓', async (columns) => {
    await orderIn(`o-pty-keep-${columns}`, ['PAID']);
    await checkedOutCart(`c-pty-keep-${columns}`, `o-pty-co-${columns}`);
    const cases: Array<[string[], number, string]> = [
      [['order', 'delete', `o-pty-keep-${columns}`], 4, 'add --force'],
      [['order', 'delete', `o-pty-keep-${columns}`, '--expect', 'SHIPPED'], 4, 'SHIPPED'],
      [['order', 'delete', 'o-pty-missing'], 3, 'o-pty-missing'],
      [['order', 'delete', `o-pty-keep-${columns}`, '--expect', 'NOPE'], 2, 'expect'],
      [['cart', 'delete', `c-pty-keep-${columns}`], 4, 'add --force'],
      [['cart', 'delete', 'c-pty-missing'], 3, 'c-pty-missing'],
      [['cart', 'delete', ''], 2, 'cartId'],
    ];
    for (const [args, exitCode, fact] of cases) {
      const result = await pty(args, { prefix, columns });
      expectFits(result);
      expect(result.exitCode, `${args.join(' ')}\n${result.text}`).toBe(exitCode);
      expect(result.text).not.toContain('✓');
      expect(stripAnsi(result.raw)).toContain(fact);
      expect(result.raw.split('\n').filter((line) => stripAnsi(line).startsWith('shopdb: '))).toHaveLength(1);
    }
    expect(await rawOrder(`o-pty-keep-${columns}`)).toBeDefined();
    expect(await rawCart(`c-pty-keep-${columns}`)).toBeDefined();
  });
});
