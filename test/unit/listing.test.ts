import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isShopError } from '../../src/core/errors.js';
import { allStatusShards, shardOf } from '../../src/core/indexes.js';
import { decodeCursor, encodeCursor, ListService, parseInstant, type IndexPage, type ListStore, type Position } from '../../src/core/listing.js';
import type { Order } from '../../src/core/model.js';

const query = { kind: 'order' as const, user: 'u1' };

describe('cursor', () => {
  it('round-trips and binds to its query', () => {
    const text = encodeCursor({ v: 1, q: query, u: { ph: 'd', at: { id: 'o-1', sort: '2024-01-01T00:00:00.000Z' } } });
    expect(decodeCursor(text, query).u?.at?.id).toBe('o-1');
    expect(() => decodeCursor(text, { kind: 'order', user: 'u2' })).toThrow(/^cursor: was given for another listing/);
    expect(() => decodeCursor(text, { kind: 'cart', user: 'u1' })).toThrow(/^cursor: /);
  });

  it('anything else is bad input naming the cursor, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
          fc.jsonValue().map((value) => encodeCursor(value as never)),
          fc.record({ v: fc.constant(1), q: fc.constant(query), u: fc.record({ ph: fc.string(), at: fc.anything() }) }).map((value) => encodeCursor(value as never)),
        ),
        (text) => {
          try {
            decodeCursor(text, query);
          } catch (error) {
            expect(isShopError(error, 'BAD_INPUT')).toBe(true);
            expect((error as Error).message).toMatch(/^cursor: /);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a shard position outside --updated-before (DynamoDB would refuse the start key)', () => {
    const status = { kind: 'order' as const, status: 'PAID' as const, before: '2024-01-01T00:00:00.000Z' };
    const text = encodeCursor({ v: 1, q: status, s: { 'PAID#1': { id: 'o', sort: '2025-01-01T00:00:00.000Z' } } });
    expect(() => decodeCursor(text, status)).toThrow(/^cursor: /);
    const shard = encodeCursor({ v: 1, q: status, s: { 'SHIPPED#1': true } });
    expect(() => decodeCursor(shard, status)).toThrow(/^cursor: /);
  });
});

/** The status index in memory, per shard newest first: the merge's logic alone (DynamoDB's paging is exercised in test/e2e/list.test.ts). */
function memoryStore(orders: Order[], reads: { items: number }): ListStore<Order> {
  const sorted = (shard: string) =>
    orders
      .filter((order) => `${order.status}#${shardOf(order.orderId)}` === shard)
      .sort((a, b) => (a.updatedAt! === b.updatedAt! ? (a.orderId < b.orderId ? 1 : -1) : a.updatedAt! < b.updatedAt! ? 1 : -1));
  return {
    queryUserDated: () => Promise.reject(new Error('unused')),
    queryUserUndated: () => Promise.reject(new Error('unused')),
    getMany: () => Promise.reject(new Error('unused')),
    queryShard(shard: string, before: string | undefined, after: Position | undefined, limit: number): Promise<IndexPage<Order>> {
      let items = sorted(shard).filter((order) => before === undefined || order.updatedAt! < before);
      if (after) items = items.slice(items.findIndex((order) => order.orderId === after.id) + 1);
      const page = items.slice(0, limit);
      reads.items += page.length;
      return Promise.resolve({ items: page, more: items.length > limit, capacityUnits: 0 });
    },
  };
}

describe('merge over the status shards', () => {
  it('pages every order once, newest first, and reads about one page per page', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('PAID', 'SHIPPED'), fc.integer({ min: 0, max: 50 })), { maxLength: 120 }), fc.integer({ min: 1, max: 30 }), async (rows, limit) => {
        const orders = rows.map(([status, minute], i): Order => ({
          orderId: `o-${i}`, userId: 'u', totalAmount: '1.00', status, createdAt: null, version: 1, cartId: null, products: null,
          updatedAt: new Date(Date.UTC(2024, 0, 1, 0, minute)).toISOString(),
        }));
        const reads = { items: 0 };
        const service = new ListService<Order>('order', memoryStore(orders, reads));
        const seen: Order[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await service.page({ limit: String(limit), ...(cursor ? { cursor } : {}) });
          if (page.nextCursor !== null) expect(page.items).toHaveLength(limit);
          seen.push(...page.items);
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor);
        expect(seen.map((order) => order.orderId).sort()).toEqual(orders.map((order) => order.orderId).sort());
        for (let i = 1; i < seen.length; i++) expect(seen[i]!.updatedAt! <= seen[i - 1]!.updatedAt!).toBe(true);
        // Each page reads its items plus at most a small page per shard ahead.
        expect(reads.items).toBeLessThanOrEqual(orders.length + pages * allStatusShards().length * (Math.ceil((limit + 1) / 40) + 2) * 2);
      }),
      { numRuns: 60 },
    );
  });
});

describe('--updated-before', () => {
  it('takes a date (midnight UTC) or a date-time with its zone, as the same instant', () => {
    expect(parseInstant('2026-05-01', 'updated-before')).toBe('2026-05-01T00:00:00.000Z');
    expect(parseInstant('2026-05-01T12:30:00Z', 'updated-before')).toBe('2026-05-01T12:30:00.000Z');
    expect(parseInstant('2026-05-01T12:30+02:00', 'updated-before')).toBe('2026-05-01T10:30:00.000Z');
    expect(parseInstant('2024-02-29', 'updated-before')).toBe('2024-02-29T00:00:00.000Z');
    // Finer than shopdb's milliseconds: "before 19.5481" includes 19.548.
    expect(parseInstant('2026-11-28T01:53:19.5481Z', 'updated-before')).toBe('2026-11-28T01:53:19.549Z');
    expect(parseInstant('2026-11-28T01:53:19.548000Z', 'updated-before')).toBe('2026-11-28T01:53:19.548Z');
  });

  it('refuses a time without a zone, a day not in the calendar and a time not in the day, naming the field', () => {
    for (const [text, why] of [
      ['2026-05-01T12:30', /has no time zone/],
      ['2026-05-01 12:30:00', /has no time zone/],
      ['2026-02-30', /not a day of the calendar/],
      ['2026-11-31T00:00:00Z', /not a day of the calendar/],
      ['2025-02-29', /not a day of the calendar/],
      ['2026-05-01T24:00:00Z', /not a time of the day/],
      ['2026-05-01T12:60Z', /not a time of the day/],
      ['yesterday', /not an ISO 8601 date or time/],
      ['', /not an ISO 8601 date or time/],
    ] as const) {
      expect(() => parseInstant(text, 'updated-before')).toThrow(new RegExp(`^updated-before: .*${why.source}`));
    }
  });
});
