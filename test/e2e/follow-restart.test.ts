/**
 * Issue 12: a follower stopped (SIGTERM) or killed (SIGKILL) while foreign
 * writes happen, then restarted, applies them all (checkpoints per shard,
 * at-least-once); after a SIGKILL the dead follower's leases are taken only
 * once they expired (lease time, 2 s here); two followers share the two
 * shards (one table each on DynamoDB Local), and when one is killed the other
 * takes over its shard within the lease time and keeps the cache in line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTables, uniquePrefix } from '../support/cli.js';
import { dynamoEndpoint } from '../support/endpoint.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { cachedGet, foreign, killAllFollowers, observed, pollUntil, startFollower, type CachedRead, type ForeignOp, type RunningFollower } from '../support/follower.js';

const LEASE_S = 2;

afterEach(async () => {
  await killAllFollowers();
});

afterAll(() => {
  if (observed.length > 0) console.log(`follow-restart (ms): ${observed.map((o) => `${o.what} ${o.ms}`).join(', ')}`);
});

function workerOf(follower: RunningFollower): string {
  const match = /\(worker (\S+),/.exec(follower.stderr());
  if (!match?.[1]) throw new Error(`no worker name in:\n${follower.stderr()}`);
  return match[1];
}

/** The "lease taken" lines of a follower's log, with their time. */
function taken(follower: RunningFollower): Array<{ at: number; table: string; why: string }> {
  return follower
    .stderr()
    .split('\n')
    .map((line) => /^(\S+) (\S+) shard \S+: lease taken \((.*)\), from/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ at: Date.parse(match[1] ?? ''), table: match[2] ?? '', why: match[3] ?? '' }));
}

const order = (id: string, user: string): ForeignOp => ({
  op: 'put_item',
  table: '',
  item: { orderId: { S: id }, userId: { S: user }, totalAmount: { S: '10' }, status: { S: 'PENDING' } },
});

/** The tables whose shard a follower holds now, from its log (taken, minus lost). */
function holding(follower: RunningFollower): string[] {
  const held = new Map<string, number>();
  for (const line of follower.stderr().split('\n')) {
    const match = /^\S+ (\S+) shard \S+: lease (taken|lost)/.exec(line);
    if (!match?.[1]) continue;
    held.set(match[1], (held.get(match[1]) ?? 0) + (match[2] === 'taken' ? 1 : -1));
  }
  return [...held].filter(([, count]) => count > 0).map(([table]) => table);
}

/** A fresh prefix with its tables, and `count` original-design orders and carts, each read once through the cache. */
async function setup(label: string, count: number): Promise<{ prefix: string; orders: string; carts: string; ids: string[] }> {
  const prefix = uniquePrefix(label);
  await createTables(prefix, { streams: true });
  const orders = `${prefix}EcommerceOrders`;
  const carts = `${prefix}EcommerceCarts`;
  const ids = Array.from({ length: count }, (_, i) => `item-${i}`);
  await foreign(
    ids.flatMap((id) => [
      { ...order(id, 'u0'), table: orders } as ForeignOp,
      { op: 'put_item', table: carts, item: { cartId: { S: id }, userId: { S: 'u0' }, products: { L: [] }, totalAmount: { N: '0' } } } as ForeignOp,
    ]),
  );
  for (const id of ids) {
    expect((await cachedGet(prefix, 'order', id)).item).toMatchObject({ userId: 'u0' });
    expect((await cachedGet(prefix, 'cart', id)).item).toMatchObject({ userId: 'u0' });
  }
  return { prefix, orders, carts, ids };
}

/** Rounds of boto3 updates (the order's and the cart's userId set to u<r>) with a pause between rounds. */
function rounds(orders: string, carts: string, ids: string[], from: number, to: number, pauseS: number): ForeignOp[] {
  const ops: ForeignOp[] = [];
  for (let r = from; r <= to; r += 1) {
    for (const id of ids) {
      ops.push({ op: 'update_item', table: orders, key: { orderId: { S: id } }, attribute: 'userId', value: { S: `u${r}` } });
      ops.push({ op: 'update_item', table: carts, key: { cartId: { S: id } }, attribute: 'userId', value: { S: `u${r}` } });
    }
    ops.push({ op: 'sleep', seconds: pauseS });
  }
  return ops;
}

/** Every item's cached read shows round `last`, within 5 s. */
async function allAt(prefix: string, ids: string[], last: number, what: string): Promise<void> {
  const started = Date.now();
  for (const id of ids) {
    // The cached entry, stored by the follower (a miss would read DynamoDB and prove nothing).
    const byFollower = (read: CachedRead) => read.item?.userId === `u${last}` && read.source.includes('stored by the stream follower');
    await pollUntil(() => cachedGet(prefix, 'order', id), byFollower, 5_000, 100);
    await pollUntil(() => cachedGet(prefix, 'cart', id), byFollower, 5_000, 100);
  }
  observed.push({ what, ms: Date.now() - started });
}

describe('a follower stopped while foreign writes happen, then restarted', () => {
  it('SIGTERM: it stops cleanly mid-writes; the next one resumes from the checkpoints and applies every write', async () => {
    const { prefix, orders, carts, ids } = await setup('follow-term', 2);
    const first = await startFollower(prefix, { leaseSeconds: LEASE_S });
    const writing = foreign(rounds(orders, carts, ids, 1, 6, 0.3));
    await sleep(700);
    const stopped = await first.stop('SIGTERM');
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stderr).toMatch(/stopping \(SIGTERM\)/);
    await writing;
    // Written while no follower ran: the cache still holds an older round (this is what the restart must fix).
    const stale = await cachedGet(prefix, 'order', ids[0] ?? '');
    expect(stale.item?.userId).not.toBe('u6');

    const second = await startFollower(prefix, { leaseSeconds: LEASE_S });
    // The first released its leases: the second takes them at once, from its checkpoints (not the trim horizon).
    const takes = taken(second);
    expect(takes.map((take) => take.why).sort()).toEqual(['free', 'free']);
    expect(second.stderr()).toMatch(/lease taken \(free\), from after record/);
    await allAt(prefix, ids, 6, 'SIGTERM restart, all items');
    expect((await second.stop('SIGTERM')).exitCode).toBe(0);
  });

  it('SIGKILL: the restarted follower waits for the dead one’s leases to expire, then applies every write', async () => {
    const { prefix, orders, carts, ids } = await setup('follow-kill', 2);
    const first = await startFollower(prefix, { leaseSeconds: LEASE_S });
    const dead = workerOf(first);
    const writing = foreign(rounds(orders, carts, ids, 1, 6, 0.3));
    await sleep(700);
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await writing;

    const second = await startFollower(prefix, { leaseSeconds: LEASE_S });
    await second.waitFor(/EcommerceOrders shard \S+: lease taken/, 10_000);
    await second.waitFor(/EcommerceCarts shard \S+: lease taken/, 10_000);
    const takes = taken(second);
    expect(takes).toHaveLength(2);
    // As the follower is built, one of the two is taken at once to balance (the dead one "held 2", an even share is 1);
    // the other only once it expired: no renewal seen for the lease time.
    const expired = takes.filter((take) => take.why === `expired, held by ${dead}`);
    expect(expired.length, second.stderr()).toBeGreaterThanOrEqual(1);
    for (const take of expired) expect(take.at - second.startedAt, second.stderr()).toBeGreaterThanOrEqual(LEASE_S * 1000);
    for (const take of takes) expect(take.why, second.stderr()).toMatch(new RegExp(`^(expired, held by ${dead}|balancing: ${dead} held 2)$`));
    observed.push({ what: 'SIGKILL restart → leases taken', ms: Math.max(...takes.map((take) => take.at)) - second.startedAt });
    await allAt(prefix, ids, 6, 'SIGKILL restart, all items');
  });

  // BUG (reported): when the lease table cannot be written for longer than the lease time (throttled here; an outage,
  // a VM freeze or a long GC pause that stops the renewals do the same), the follower stops applying records for good:
  // ShardWorker.work() leaves its loop once heldUntil has passed (`live` false), but the worker stays in
  // Follower.workers and the coordinator renews its lease again as soon as it can, so the shard is neither read by this
  // follower nor handed to another one. No line says so; the report keeps saying "2 shards".
  it('a follower whose lease renewals failed for longer than the lease time goes on applying once they succeed again', async () => {
    const { prefix, orders, ids } = await setup('follow-renew', 1);
    let blocking = false;
    const proxy = await startFaultProxy(dynamoEndpoint(), (request) => (blocking && request.operation === 'UpdateItem' ? 'throttle' : 'forward'));
    try {
      const viaProxy = { SHOPDB_ENDPOINT: proxy.endpoint };
      const id = ids[0] ?? '';
      // The cache scope follows the endpoint: prime the entry the follower keeps, through the proxy too.
      expect((await cachedGet(prefix, 'order', id, viaProxy)).item).toMatchObject({ userId: 'u0' });
      const follower = await startFollower(prefix, { leaseSeconds: LEASE_S, env: viaProxy });
      await foreign([{ op: 'update_item', table: orders, key: { orderId: { S: id } }, attribute: 'userId', value: { S: 'before' } }]);
      await pollUntil(() => cachedGet(prefix, 'order', id, viaProxy), (read) => read.item?.userId === 'before', 5_000, 100);

      blocking = true;
      await sleep(LEASE_S * 1000 + 1500);
      blocking = false;
      await sleep(1500);
      await foreign([{ op: 'update_item', table: orders, key: { orderId: { S: id } }, attribute: 'userId', value: { S: 'after' } }]);
      const { ms } = await pollUntil(() => cachedGet(prefix, 'order', id, viaProxy), (read) => read.item?.userId === 'after', 5_000, 100);
      observed.push({ what: 'after renewals failed for the lease time', ms });
      // BUG (reported, second): the lease table's warning is never ended: Follower.recovered('leases') is never called,
      // so no "the lease table answers again" line, and the next outage of the lease table is not warned about at all.
      expect(follower.stderr()).toMatch(/warning: the lease of .* could not be renewed/);
      expect(follower.stderr()).toMatch(/the lease table answers again/);
    } finally {
      await killAllFollowers();
      await proxy.close();
    }
  });
});

describe('two followers at once', () => {
  it('share the two shards; one killed, the other takes its shard within the lease time and keeps applying', async () => {
    const { prefix, orders, carts, ids } = await setup('follow-two', 2);
    // Both at once, on tables whose lease table does not exist yet: both create it, then they split the shards.
    const [a, b] = await Promise.all([startFollower(prefix, { leaseSeconds: LEASE_S }), startFollower(prefix, { leaseSeconds: LEASE_S })]);
    const [nameA, nameB] = [workerOf(a), workerOf(b)];
    const split = await pollUntil(
      async () => [holding(a), holding(b)],
      ([ofA, ofB]) => ofA?.length === 1 && ofB?.length === 1,
      LEASE_S * 3000,
      100,
    );
    observed.push({ what: 'two followers, shards split', ms: split.ms });
    const tableOfA = split.value[0]?.[0] ?? '';
    expect(split.value[1]?.[0]).not.toBe(tableOfA);
    expect(a.stderr() + b.stderr()).not.toMatch(/warning|\n\s+at /);

    // Both apply while both run.
    await foreign(rounds(orders, carts, ids, 1, 1, 0));
    await allAt(prefix, ids, 1, 'two followers, both running');

    const killedAt = Date.now();
    await a.stop('SIGKILL');
    const takeover = await b.waitFor(new RegExp(`${tableOfA} shard \\S+: lease taken \\(expired, held by ${nameA}\\)`), (LEASE_S + 3) * 1000);
    const ms = takeover.at - killedAt;
    observed.push({ what: 'takeover after kill -9', ms });
    // Expired on b's clock: no renewal seen for the lease time (a renews every third of it).
    expect(ms).toBeGreaterThanOrEqual(LEASE_S * 1000 - 700);
    expect(ms).toBeLessThanOrEqual(LEASE_S * 1000 + 2000);

    await foreign(rounds(orders, carts, ids, 2, 2, 0));
    await allAt(prefix, ids, 2, 'two followers, one killed');
    expect(nameA).not.toBe(nameB);
    expect((await b.stop('SIGTERM')).exitCode).toBe(0);
  });

  // BUG (reported): the stopped result's "records" (and the ✓ line's "N records applied") is the sum over the shards
  // held at the end (Follower.stats() sums the current workers), so a follower that lost a shard to another one, or read
  // one to its end, under-reports what it applied.
  it('the stopped result counts every record the follower applied, also on a shard it lost since', async () => {
    const { prefix } = await setup('follow-count', 1);
    const a = await startFollower(prefix, { leaseSeconds: LEASE_S, verbose: true });
    // The order and the cart written by setup(): one record on each table's shard.
    await a.waitFor(/EcommerceOrders shard \S+: 1 stored/, 10_000);
    await a.waitFor(/EcommerceCarts shard \S+: 1 stored/, 10_000);
    const b = await startFollower(prefix, { leaseSeconds: LEASE_S });
    await a.waitFor(/lease lost/, 10_000);
    const stopped = await a.stop('SIGTERM');
    expect(stopped.exitCode).toBe(0);
    expect(JSON.parse(stopped.stdout.trim())).toMatchObject({ result: 'stopped', records: 2 });
    expect((await b.stop('SIGTERM')).exitCode).toBe(0);
  });
});
