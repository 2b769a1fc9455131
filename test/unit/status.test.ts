import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShopError } from '../../src/core/errors.js';
import { isLegalMove, legalSources, ORDER_STATUSES, parseStatus, type OrderStatus } from '../../src/core/status.js';

const FINAL: readonly OrderStatus[] = ['COMPLETED', 'CANCELLED'];

describe('parseStatus', () => {
  it.each(ORDER_STATUSES.map((status) => [status]))('accepts %s', (status) => {
    expect(parseStatus(status, 'status')).toBe(status);
  });

  it.each([['paid'], ['Paid'], ['PAID '], [' PAID'], ['REFUNDED'], [''], ['PENDING\n'], ['constructor'], ['toString']])(
    'rejects %j as BAD_INPUT naming the field and listing the statuses',
    (text) => {
      let caught: unknown;
      try {
        parseStatus(text, 'expect');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ShopError);
      expect((caught as ShopError).code).toBe('BAD_INPUT');
      expect((caught as ShopError).message).toMatch(/^expect: /);
      expect((caught as ShopError).message).toContain('PENDING, PAID, SHIPPED, COMPLETED, CANCELLED');
    },
  );
});

describe('isLegalMove', () => {
  // Rows: from; columns: to, in ORDER_STATUSES order (PENDING, PAID, SHIPPED, COMPLETED, CANCELLED).
  const TABLE: Record<OrderStatus, [boolean, boolean, boolean, boolean, boolean]> = {
    PENDING: [false, true, true, true, true],
    PAID: [false, false, true, true, true],
    SHIPPED: [false, false, false, true, false],
    COMPLETED: [false, false, false, false, false],
    CANCELLED: [false, false, false, false, false],
  };
  const pairs = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to, column) => [from, to, TABLE[from][column]] as const));

  it('covers all 25 pairs', () => {
    expect(ORDER_STATUSES).toEqual(['PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED']);
    expect(pairs).toHaveLength(25);
    expect(pairs.filter(([, , legal]) => legal)).toHaveLength(8);
  });

  it.each(pairs)('%s → %s is legal: %s', (from, to, legal) => {
    expect(isLegalMove(from, to)).toBe(legal);
  });

  it('never treats staying in the same status as a move', () => {
    for (const status of ORDER_STATUSES) expect(isLegalMove(status, status)).toBe(false);
  });
});

describe('legalSources', () => {
  it.each([
    ['PENDING', []],
    ['PAID', ['PENDING']],
    ['SHIPPED', ['PENDING', 'PAID']],
    ['COMPLETED', ['PENDING', 'PAID', 'SHIPPED']],
    ['CANCELLED', ['PENDING', 'PAID']],
  ] as const)('a move to %s is legal from %j', (to, sources) => {
    expect(legalSources(to)).toEqual(sources);
  });

  it('agrees with isLegalMove for every target', () => {
    for (const to of ORDER_STATUSES) {
      expect(legalSources(to)).toEqual(ORDER_STATUSES.filter((from) => isLegalMove(from, to)));
    }
  });
});

describe('status machine property', () => {
  /** Every status reachable from PENDING by zero or more legal moves (computed by search, not assumed). */
  function reachableFromPending(): Set<OrderStatus> {
    const seen = new Set<OrderStatus>(['PENDING']);
    const queue: OrderStatus[] = ['PENDING'];
    for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
      for (const to of ORDER_STATUSES) {
        if (isLegalMove(from, to) && !seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    return seen;
  }

  it('final statuses have no legal way out', () => {
    for (const from of FINAL) for (const to of ORDER_STATUSES) expect(isLegalMove(from, to)).toBe(false);
  });

  it('applying random attempted moves only when legal stays reachable, only goes forward, and freezes once final', () => {
    const reachable = reachableFromPending();
    expect([...reachable].sort()).toEqual([...ORDER_STATUSES].sort());
    const rank: Record<OrderStatus, number> = { PENDING: 0, PAID: 1, SHIPPED: 2, COMPLETED: 3, CANCELLED: 3 };

    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ORDER_STATUSES), { maxLength: 50 }), (attempts) => {
        let status: OrderStatus = 'PENDING';
        let finalAt: OrderStatus | undefined;
        let moves = 0;
        for (const to of attempts) {
          const before: OrderStatus = status;
          if (isLegalMove(status, to)) {
            status = to;
            moves++;
          }
          if (finalAt !== undefined) expect(status).toBe(finalAt);
          if (FINAL.includes(status)) finalAt ??= status;
          expect(rank[status]).toBeGreaterThanOrEqual(rank[before]);
          expect(reachable.has(status)).toBe(true);
        }
        // Each applied move strictly advances, so at most 3 can ever apply (PENDING → PAID → SHIPPED → COMPLETED).
        expect(moves).toBeLessThanOrEqual(3);
        if (status === 'CANCELLED') expect(attempts).toContain('CANCELLED');
      }),
      { numRuns: 500 },
    );
  });
});
