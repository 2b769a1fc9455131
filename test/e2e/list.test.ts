/**
 * order list / cart list through the built binary on DynamoDB Local: newest
 * first, items in the `get --json` shape, paging without gaps or repeats while
 * others write, legacy (boto3) items after the dated ones, stuck orders by
 * status and time, cursors that cannot be forged into a crash, and tables at
 * 80 and 50 columns.
 */
import { execa } from 'execa';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { boto3 } from '../support/boto3.js';
import { BIN, createTables, shopdb, testEnv, uniquePrefix, type Run } from '../support/cli.js';
import { pty } from '../support/pty.js';
import { privateEngine } from '../support/endpoint.js';

// Adds indexes to existing tables: see privateEngine().
privateEngine();

interface Listed {
  orderId: string;
  userId: string;
  status: string;
  createdAt: string | null;
  updatedAt: string | null;
}
type Page = { orders: Listed[]; nextCursor: string | null };

const prefix = uniquePrefix('list');
const legacy = uniquePrefix('list-legacy');

async function ok(args: string[], usePrefix = prefix): Promise<Run> {
  const run = await shopdb(args, { prefix: usePrefix });
  expect(run.exitCode, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run;
}

async function createOrder(orderId: string, userId: string, amount = '1.00'): Promise<void> {
  await ok(['order', 'create', orderId, '--user', userId, '--amount', amount]);
}

function errorOf(run: Run): { code: string; message: string } {
  return (JSON.parse(run.stderr.trim().split('\n').at(-1) ?? '') as { error: { code: string; message: string } }).error;
}

/** Every page of a listing, following nextCursor. */
async function allPages(args: string[], usePrefix = prefix, between?: () => Promise<void>): Promise<Listed[]> {
  const items: Listed[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Page = (await ok([...args, ...(cursor === null ? [] : ['--cursor', cursor])], usePrefix)).json<Page>();
    // A page holds fewer than --limit items only at the end.
    if (page.nextCursor !== null) expect(page.orders.length).toBe(Number(args[args.indexOf('--limit') + 1]));
    items.push(...page.orders);
    cursor = page.nextCursor;
    await between?.();
    expect(++pages).toBeLessThan(100);
  } while (cursor !== null);
  return items;
}

beforeAll(async () => {
  await createTables(prefix);
  // u1: 7 orders one after another (distinct createdAt); u2: 3.
  for (let i = 1; i <= 7; i++) await createOrder(`o-u1-${i}`, 'u1', `${i}.00`);
  for (let i = 1; i <= 3; i++) await createOrder(`o-u2-${i}`, 'u2');
}, 120_000);

describe('order list --user', () => {
  it('lists the user\'s orders newest first, each exactly as get --json prints it', async () => {
    const page = (await ok(['order', 'list', '--user', 'u1'])).json<Page>();
    expect(page.orders.map((order) => order.orderId)).toEqual([7, 6, 5, 4, 3, 2, 1].map((i) => `o-u1-${i}`));
    expect(page.nextCursor).toBeNull();
    for (const order of page.orders) {
      const got = (await ok(['order', 'get', order.orderId])).stdout.trim();
      expect(JSON.stringify(order)).toBe(got);
    }
  });

  it('pages with --limit and --cursor without gaps or repeats while new orders are written', async () => {
    let extra = 0;
    const items = await allPages(['order', 'list', '--user', 'u1', '--limit', '2'], prefix, async () => {
      // Newer than every listed order: never in the pages of a listing already under way.
      await createOrder(`o-u1-new-${++extra}`, 'u1');
    });
    expect(items.map((order) => order.orderId)).toEqual([7, 6, 5, 4, 3, 2, 1].map((i) => `o-u1-${i}`));
  });

  it('a full last page says so: no cursor to an empty page', async () => {
    const page = (await ok(['order', 'list', '--user', 'u2', '--limit', '3'])).json<Page>();
    expect(page.orders).toHaveLength(3);
    expect(page.nextCursor).toBeNull();
  });

  it('--status and --updated-before filter a user\'s orders', async () => {
    await ok(['order', 'set-status', 'o-u2-1', 'PAID']);
    const paid = (await ok(['order', 'list', '--user', 'u2', '--status', 'PAID'])).json<Page>();
    expect(paid.orders.map((order) => order.orderId)).toEqual(['o-u2-1']);
    const none = (await ok(['order', 'list', '--user', 'u2', '--updated-before', '2000-01-01'])).json<Page>();
    expect(none.orders).toEqual([]);
  });

  it('--verbose reports the read capacity consumed', async () => {
    const run = await ok(['order', 'list', '--user', 'u2', '--verbose']);
    expect(run.stderr).toMatch(/list orders: 3 read, [\d.]+ read capacity units/);
  });
});

describe('order list --status', () => {
  it('finds orders stuck in a status since before a time, merged over the shards newest first', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `stuck-${String(i).padStart(2, '0')}`);
    for (const id of ids) await createOrder(id, 'u3');
    for (const id of ids.slice(0, 8)) await ok(['order', 'set-status', id, 'SHIPPED', '--force']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cutoff = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const id of ids.slice(8)) await ok(['order', 'set-status', id, 'SHIPPED', '--force']);

    const stuck = await allPages(['order', 'list', '--status', 'SHIPPED', '--updated-before', cutoff, '--limit', '3']);
    expect(stuck.map((order) => order.orderId)).toEqual(ids.slice(0, 8).reverse());
    const every = await allPages(['order', 'list', '--status', 'SHIPPED', '--limit', '5']);
    expect(every.map((order) => order.orderId)).toEqual([...ids].reverse());
    for (const [index, order] of every.entries()) {
      if (index > 0) expect(order.updatedAt! <= every[index - 1]!.updatedAt!).toBe(true);
    }
  });

  it('without filters lists every order shopdb wrote, newest change first, each once', async () => {
    const all = await allPages(['order', 'list', '--limit', '7']);
    const ids = all.map((order) => order.orderId);
    expect(new Set(ids).size).toBe(ids.length);
    const exported = (await ok(['order', 'export'])).stdout.trim().split('\n').map((line) => (JSON.parse(line) as Listed).orderId);
    expect([...ids].sort()).toEqual([...exported].sort());
  });
});

describe('--all', () => {
  it('prints every order as NDJSON, one per line, like export', async () => {
    const run = await ok(['order', 'list', '--user', 'u1', '--all', '--limit', '2']);
    const lines = run.stdout.trim().split('\n');
    const orders = lines.map((line) => JSON.parse(line) as Listed);
    expect(orders.every((order) => order.userId === 'u1')).toBe(true);
    expect(orders.slice(-7).map((order) => order.orderId)).toEqual([7, 6, 5, 4, 3, 2, 1].map((i) => `o-u1-${i}`));
  });

  it('a reader that closes the pipe (| head -1) ends it with exit 0', async () => {
    const run = await execa('sh', ['-c', `"${BIN}" order list --all --limit 1 | head -1`], { env: testEnv(prefix), reject: false });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.split('\n')).toHaveLength(1);
  });

  it('refuses --cursor with --all', async () => {
    const run = await shopdb(['order', 'list', '--all', '--cursor', 'abc'], { prefix });
    expect(run.exitCode).toBe(2);
    expect(errorOf(run).message).toMatch(/^cursor: /);
  });
});

describe('bad input', () => {
  it.each([['0'], ['1001'], ['ten'], ['-1']])('--limit %s is exit 2 naming the field', async (limit) => {
    const run = await shopdb(['order', 'list', '--limit', limit], { prefix });
    expect(run.exitCode).toBe(2);
    expect(errorOf(run).message).toMatch(/^limit: /);
  });

  it('a mistyped status or date is exit 2 naming the field', async () => {
    expect(errorOf(await shopdb(['order', 'list', '--status', 'paid'], { prefix })).message).toMatch(/^status: /);
    expect(errorOf(await shopdb(['order', 'list', '--updated-before', 'yesterday'], { prefix })).message).toMatch(/^updated-before: /);
  });

  it('a cursor from another listing is exit 2, never used', async () => {
    const page = (await ok(['order', 'list', '--user', 'u1', '--limit', '1'])).json<Page>();
    const run = await shopdb(['order', 'list', '--user', 'u2', '--limit', '1', '--cursor', page.nextCursor!], { prefix });
    expect(run.exitCode).toBe(2);
    expect(errorOf(run).message).toMatch(/^cursor: was given for another listing/);
    const asStatus = await shopdb(['order', 'list', '--status', 'PAID', '--cursor', page.nextCursor!], { prefix });
    expect(asStatus.exitCode).toBe(2);
  });

  it('tampered cursors (random bytes, random JSON, well-formed positions) never crash: exit 2 naming the cursor, or a page', async () => {
    const page = (await ok(['order', 'list', '--user', 'u1', '--limit', '1'])).json<Page>();
    const samples = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
        fc.jsonValue().map((value) => deflateRawSync(Buffer.from(JSON.stringify(value))).toString('base64url')),
        fc.record({ id: fc.string({ maxLength: 30 }), sort: fc.string({ maxLength: 30 }) }).map((at) =>
          deflateRawSync(Buffer.from(JSON.stringify({ v: 1, q: { kind: 'order', user: 'u1' }, u: { ph: 'd', at } }))).toString('base64url'),
        ),
        fc.nat({ max: page.nextCursor!.length - 1 }).map((cut) => page.nextCursor!.slice(0, cut) + 'x'),
      ),
      { numRuns: 16, seed: 9 },
    );
    for (const cursor of samples) {
      const run = await shopdb(['order', 'list', '--user', 'u1', '--limit', '1', '--cursor', cursor], { prefix });
      if (run.exitCode === 0) continue; // a well-formed position: a page from there
      expect(run.exitCode, `${cursor}: ${run.stderr}`).toBe(2);
      expect(errorOf(run).message).toMatch(/^cursor: /);
    }
  }, 120_000);

  it('cart list needs --user', async () => {
    const run = await shopdb(['cart', 'list'], { prefix });
    expect(run.exitCode).toBe(2);
  });

  it('a missing table is exit 3 with the hint to create it', async () => {
    const run = await shopdb(['order', 'list', '--user', 'u1'], { prefix: uniquePrefix('list-none') });
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/tables create/);
  });
});

describe('cart list', () => {
  it('lists a user\'s carts newest first in the cart get --json shape', async () => {
    for (const id of ['c-1', 'c-2', 'c-3']) await ok(['cart', 'create', id, '--user', 'cu']);
    await ok(['cart', 'add-product', 'c-2', 'p1', '--price', '2.50', '--quantity', '2']);
    const first = (await ok(['cart', 'list', '--user', 'cu', '--limit', '2'])).json<{ carts: Array<{ cartId: string }>; nextCursor: string }>();
    expect(first.carts.map((cart) => cart.cartId)).toEqual(['c-3', 'c-2']);
    expect(JSON.stringify(first.carts[1])).toBe((await ok(['cart', 'get', 'c-2'])).stdout.trim());
    const second = (await ok(['cart', 'list', '--user', 'cu', '--limit', '2', '--cursor', first.nextCursor])).json<{ carts: Array<{ cartId: string }>; nextCursor: null }>();
    expect(second.carts.map((cart) => cart.cartId)).toEqual(['c-1']);
    expect(second.nextCursor).toBeNull();
  });
});

describe('items of the original design (boto3)', () => {
  beforeAll(async () => {
    const table = `${legacy}EcommerceOrders`;
    await boto3([
      { op: 'create_tables', prefix: legacy },
      { op: 'create_order', table, orderId: 'py-1', userId: 'lu', totalAmount: '10.5' },
      { op: 'create_order', table, orderId: 'py-2', userId: 'lu', totalAmount: '3' },
      { op: 'create_order', table, orderId: 'py-other', userId: 'someone', totalAmount: '3' },
      { op: 'update_order_status', table, orderId: 'py-2', status: 'PAID' },
    ]);
  }, 120_000);

  it('a table without the indexes: list is exit 4 saying creating the tables adds them, with the hint to check tables status', async () => {
    const run = await shopdb(['order', 'list', '--user', 'lu'], { prefix: legacy });
    expect(run.exitCode).toBe(4);
    expect(run.stderr).toMatch(/no index userId-createdAt, which listing needs \(tables made before this version lack it; creating the tables adds it/);
    // tables status says which indexes are missing (tables create adds them) or have other keys (it cannot).
    expect(run.stderr).toMatch(new RegExp(`check again with: shopdb --table-prefix ${legacy} tables status`));
  });

  it('after tables create (updated; the idempotency keys\' table created), undated items are listed after the dated ones, whole, and filtered by status', async () => {
    const created = (await ok(['tables', 'create'], legacy)).json<{ tables: Array<{ result: string }> }>();
    expect(created.tables.map((table) => table.result)).toEqual(['updated', 'updated', 'created']);
    await ok(['order', 'create', 'new-1', '--user', 'lu', '--amount', '1'], legacy);
    const page = (await ok(['order', 'list', '--user', 'lu'], legacy)).json<Page>();
    expect(page.orders[0]!.orderId).toBe('new-1');
    expect(page.orders.slice(1).map((order) => order.orderId).sort()).toEqual(['py-1', 'py-2']);
    for (const order of page.orders) expect(JSON.stringify(order)).toBe((await ok(['order', 'get', order.orderId], legacy)).stdout.trim());

    // Paged one at a time: the same three, the phase change inside the cursor.
    const paged = await allPages(['order', 'list', '--user', 'lu', '--limit', '1'], legacy);
    expect(paged.map((order) => order.orderId)).toEqual(page.orders.map((order) => order.orderId));

    const paid = (await ok(['order', 'list', '--user', 'lu', '--status', 'PAID'], legacy)).json<Page>();
    expect(paid.orders.map((order) => order.orderId)).toEqual(['py-2']);
    // Never changed by shopdb: last changed before any date.
    const old = (await ok(['order', 'list', '--user', 'lu', '--updated-before', '2000-01-01'], legacy)).json<Page>();
    expect(old.orders.map((order) => order.orderId).sort()).toEqual(['py-1', 'py-2']);
  });
});

describe('at a terminal', () => {
  it.each([80, 50])('draws a page and the next command at %i columns, nothing wrapping', async (columns) => {
    const run = await pty(['order', 'list', '--user', 'u1', '--limit', '3'], { prefix, columns });
    expect(run.exitCode, run.text).toBe(0);
    expect(run.overflows, run.text).toEqual([]);
    expect(run.text).toContain('o-u1-');
    expect(run.screen.join('\n').replace(/\\\n\s*/g, '')).toMatch(/more: shopdb --table-prefix \S+ order list --user u1 --limit 3 --cursor [\w-]+$/m);
    // The hint, pasted into a shell, is the command for the next page.
    const hint = run.screen.join('\n').slice(run.screen.join('\n').indexOf('more: ') + 'more: '.length).trim();
    const next = await execa('bash', ['-c', hint.replace(/^shopdb/, `"${BIN}"`) + ' --json'], { env: testEnv(prefix), reject: false });
    expect(next.exitCode, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout) as Page).orders).toHaveLength(3);
  });

  it('a status listing at 50 columns: a long cursor is continued, not cut', async () => {
    const run = await pty(['order', 'list', '--limit', '2'], { prefix, columns: 50 });
    expect(run.exitCode, run.text).toBe(0);
    expect(run.overflows, run.text).toEqual([]);
    expect(run.text).toContain('more: shopdb');
  });
});

describe('paging by status while orders change', () => {
  it('an order moved after page 1 (now newer than it) is not on page 2; the others follow in order, none twice', async () => {
    const own = uniquePrefix('list-moved');
    await createTables(own);
    for (let i = 1; i <= 10; i++) await ok(['order', 'create', `pg-${i}`, '--user', 'u-pg', '--amount', '1'], own);
    const first = JSON.parse((await ok(['order', 'list', '--status', 'PENDING', '--limit', '3'], own)).stdout) as Page;
    expect(first.orders.map((order) => order.orderId)).toEqual(['pg-10', 'pg-9', 'pg-8']);
    await ok(['order', 'set-status', 'pg-6', 'PAID'], own);
    await ok(['order', 'set-status', 'pg-6', 'PENDING', '--force'], own);
    const second = JSON.parse((await ok(['order', 'list', '--status', 'PENDING', '--limit', '3', '--cursor', first.nextCursor as string], own)).stdout) as Page;
    expect(second.orders.map((order) => order.orderId)).toEqual(['pg-7', 'pg-5', 'pg-4']);
    const rest = JSON.parse((await ok(['order', 'list', '--status', 'PENDING', '--limit', '10', '--cursor', second.nextCursor as string], own)).stdout) as Page;
    expect(rest.orders.map((order) => order.orderId)).toEqual(['pg-3', 'pg-2', 'pg-1']);
    expect(rest.nextCursor).toBeNull();
  });
});
