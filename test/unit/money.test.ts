import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShopError } from '../../src/core/errors.js';
import { formatCents, multiply, normalizeStoredAmount, parseAmount } from '../../src/core/money.js';
import { badInputMessage } from '../support/bad-input.js';


describe('parseAmount', () => {
  it.each([
    ['0', 0n],
    ['0.00', 0n],
    ['1', 100n],
    ['1.5', 150n],
    ['1.50', 150n],
    ['19.99', 1999n],
    ['0.01', 1n],
    ['007.10', 710n],
  ])('parses %j as %d cents', (text, cents) => {
    expect(parseAmount(text, 'amount')).toBe(cents);
  });

  it('accepts the largest amount, 17 integer digits, and round-trips it exactly', () => {
    const text = '99999999999999999.99';
    const cents = parseAmount(text, 'amount');
    expect(cents).toBe(9_999_999_999_999_999_999n);
    expect(formatCents(cents)).toBe(text);
  });

  it('counts integer digits after stripping leading zeros', () => {
    expect(parseAmount('000099999999999999999.99', 'amount')).toBe(9_999_999_999_999_999_999n);
    badInputMessage(() => parseAmount('100000000000000000', 'amount'), 'amount');
  });

  it.each([
    ['-1'],
    ['0.001'],
    ['1e400'],
    ['1e2'],
    ['NaN'],
    ['Infinity'],
    ['0x10'],
    ['1,5'],
    [''],
    [' 1'],
    ['1 '],
    ['1.'],
    ['.5'],
    ['+1'],
    ['1.2.3'],
    ['1\n'],
    ['１２'], // full-width digits are not ASCII digits
    ['1'.repeat(40)],
  ])('rejects %j as BAD_INPUT naming the field', (text) => {
    badInputMessage(() => parseAmount(text, 'price'), 'price');
  });

  it('says why a too-large amount is refused', () => {
    expect(badInputMessage(() => parseAmount('9'.repeat(40), 'amount'), 'amount')).toMatch(/too large/);
  });

  it('quotes the refused text in the message, escaped', () => {
    expect(badInputMessage(() => parseAmount('1\u0007', 'amount'), 'amount')).toContain('"1\\u0007"');
  });
});

describe('formatCents', () => {
  it.each([
    [0n, '0.00'],
    [1n, '0.01'],
    [10n, '0.10'],
    [100n, '1.00'],
    [5997n, '59.97'],
    [-5n, '-0.05'],
    [-105n, '-1.05'],
  ])('formats %d as %j', (cents, text) => {
    expect(formatCents(cents)).toBe(text);
  });
});

describe('multiply', () => {
  it('19.99 × 3 = 59.97 exactly (no binary float rounding)', () => {
    expect(formatCents(multiply(parseAmount('19.99', 'price'), 3))).toBe('59.97');
  });

  it('0.10 × 3 = 0.30, where binary floats give 0.30000000000000004', () => {
    expect(formatCents(multiply(parseAmount('0.10', 'price'), 3))).toBe('0.30');
    expect(0.1 * 3).not.toBe(0.3);
  });

  it('stays exact past 2^53 cents', () => {
    expect(formatCents(multiply(parseAmount('99999999999999999.99', 'price'), 1_000_000))).toBe('99999999999999999990000.00');
  });
});

describe('normalizeStoredAmount', () => {
  it.each([
    ['10', '10.00'],
    ['59.97', '59.97'],
    ['59.970', '59.97'],
    ['59.9', '59.90'],
    ['0', '0.00'],
    ['-5', '-5.00'],
    ['-0.5', '-0.50'],
    ['-0', '0.00'],
    ['007', '7.00'],
    [' 10 ', '10.00'],
    ['99999999999999999.99', '99999999999999999.99'],
    ['100000000000000000000', '100000000000000000000.00'],
  ])('normalizes stored %j to %j', (stored, expected) => {
    expect(normalizeStoredAmount(stored)).toBe(expected);
  });

  it.each([['1.005'], ['0.001'], ['abc'], [''], ['1e3'], ['+5'], ['.5'], ['5.'], ['NaN']])(
    'returns %j as found (nothing is rounded away or invented)',
    (stored) => {
      expect(normalizeStoredAmount(stored)).toBe(stored);
    },
  );
});

describe('money properties', () => {
  const cents = fc.bigInt({ min: 0n, max: 10n ** 19n - 1n });

  it('formatCents then parseAmount round-trips every amount in range', () => {
    fc.assert(
      fc.property(cents, (value) => {
        const text = formatCents(value);
        expect(text).toMatch(/^\d{1,17}\.\d\d$/);
        expect(parseAmount(text, 'amount')).toBe(value);
        expect(normalizeStoredAmount(text)).toBe(text);
      }),
    );
  });

  it('a cart total summed via multiply equals plain BigInt arithmetic', () => {
    const line = fc.record({
      price: fc.bigInt({ min: 0n, max: 10n ** 10n }),
      quantity: fc.integer({ min: 1, max: 1_000_000 }),
    });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
        let viaMultiply = 0n;
        let expected = 0n;
        for (const { price, quantity } of lines) {
          viaMultiply += multiply(parseAmount(formatCents(price), 'price'), quantity);
          expected += price * BigInt(quantity);
        }
        expect(viaMultiply).toBe(expected);
        expect(normalizeStoredAmount(formatCents(viaMultiply))).toBe(formatCents(expected));
      }),
    );
  });

  it('parseAmount throws nothing but a BAD_INPUT ShopError for arbitrary strings', () => {
    const numberish = fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', ' ', ',', 'x') });
    const anything = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), numberish);
    fc.assert(
      fc.property(anything, (text) => {
        let value: bigint | undefined;
        let thrown: unknown;
        try {
          value = parseAmount(text, 'amount');
        } catch (error) {
          thrown = error;
        }
        if (value === undefined) {
          expect(thrown).toBeInstanceOf(ShopError);
          expect((thrown as ShopError).code).toBe('BAD_INPUT');
          expect((thrown as ShopError).message.startsWith('amount: ')).toBe(true);
        } else {
          expect(value).toBeGreaterThanOrEqual(0n);
          expect(value).toBeLessThan(10n ** 19n);
          expect(formatCents(value)).toBe(normalizeStoredAmount(text));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
