import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShopError } from '../../src/core/errors.js';
import { isLegalMove, legalSources, ORDER_STATUSES, parseStatus, suggestStatus, type OrderStatus } from '../../src/core/status.js';

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

describe('did you mean: suggestStatus and the parseStatus message', () => {
  function messageFor(text: string): string {
    try {
      parseStatus(text, 'status');
    } catch (error) {
      return (error as ShopError).message;
    }
    throw new Error(`${JSON.stringify(text)} was accepted`);
  }

  it.each([
    ['shipped', 'SHIPPED'],
    ['SHIPED', 'SHIPPED'],
    ['Paid', 'PAID'],
    ['paid', 'PAID'],
    [' PAID', 'PAID'],
    ['PENDNIG', 'PENDING'],
    ['CANCELED', 'CANCELLED'],
    ['canceled', 'CANCELLED'],
    ['COMPLETE', 'COMPLETED'],
    ['complet', 'COMPLETED'],
  ] as const)('%j → did you mean %s? (statuses stay upper case)', (text, status) => {
    expect(suggestStatus(text)).toBe(status);
    const message = messageFor(text);
    expect(message).toMatch(new RegExp(`; did you mean ${status}\\?$`));
    // The list of statuses stays, the suggestion only follows it; no CLI wording in the core.
    expect(message).toContain('use one of PENDING, PAID, SHIPPED, COMPLETED, CANCELLED');
    expect(message).not.toMatch(/--/);
  });

  it.each([['REFUNDED'], [''], ['x'], ['constructor'], ['toString'], ['P'.repeat(1000)], ['ORDER']])('%j gets no suggestion (too far from every status)', (text) => {
    expect(suggestStatus(text)).toBeUndefined();
    expect(messageFor(text)).not.toContain('did you mean');
  });

  it('suggests nothing for a valid status', () => {
    for (const status of ORDER_STATUSES) expect(suggestStatus(status)).toBeUndefined();
  });

  /** One typo: a letter dropped, added, changed or two neighbours swapped, and any letters' case changed. */
  const typo = fc
    .record({
      status: fc.constantFrom(...ORDER_STATUSES),
      kind: fc.constantFrom('drop', 'add', 'change', 'swap', 'none'),
      at: fc.nat(),
      letter: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
      lower: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
    })
    .map(({ status, kind, at, letter, lower }) => {
      const i = at % status.length;
      let text: string = status;
      if (kind === 'drop') text = status.slice(0, i) + status.slice(i + 1);
      if (kind === 'add') text = status.slice(0, i) + letter + status.slice(i);
      if (kind === 'change') text = status.slice(0, i) + letter + status.slice(i + 1);
      if (kind === 'swap' && i + 1 < status.length) text = status.slice(0, i) + (status[i + 1] ?? '') + (status[i] ?? '') + status.slice(i + 2);
      return { status, text: [...text].map((char, index) => (lower[index] ? char.toLowerCase() : char)).join('') };
    });

  it('property: one typo of a status, in any case, suggests that status (or is the status itself)', () => {
    fc.assert(
      fc.property(typo, ({ status, text }) => {
        if (text === status) expect(suggestStatus(text)).toBeUndefined();
        else expect(suggestStatus(text)).toBe(status);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any suggestion is unambiguous and the message always names the field and lists every status', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 14 }), (text) => {
        fc.pre(!(ORDER_STATUSES as readonly string[]).includes(text));
        const suggestion = suggestStatus(text);
        const message = messageFor(text);
        expect(message).toMatch(/^status: /);
        expect(message).toContain('PENDING, PAID, SHIPPED, COMPLETED, CANCELLED');
        if (suggestion === undefined) expect(message).not.toContain('did you mean');
        else expect(message.endsWith(`did you mean ${suggestion}?`)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
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
