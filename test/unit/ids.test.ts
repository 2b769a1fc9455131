import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/core/ids.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Decodes the 10-character time prefix back to milliseconds. */
function timeOf(id: string): number {
  let ms = 0;
  for (const char of id.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(char);
  return ms;
}

describe('newId', () => {
  it('is 26 characters of Crockford base32 (no I, L, O, U, no lower case)', () => {
    for (let i = 0; i < 200; i++) {
      const id = newId();
      expect(id).toHaveLength(26);
      expect(id).toMatch(ULID);
    }
  });

  it('encodes the given millisecond in the first 10 characters', () => {
    expect(newId(0).slice(0, 10)).toBe('0000000000');
    expect(newId(31).slice(0, 10)).toBe('000000000Z');
    expect(newId(32).slice(0, 10)).toBe('0000000010');
    expect(timeOf(newId(1_700_000_000_123))).toBe(1_700_000_000_123);
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(timeOf(id)).toBeGreaterThanOrEqual(before);
    expect(timeOf(id)).toBeLessThanOrEqual(after);
  });

  it('sorts ids made at a later millisecond after earlier ones, as plain strings', () => {
    const maxTime = 2 ** 48 - 1; // ULID time range
    fc.assert(
      fc.property(fc.integer({ min: 0, max: maxTime - 1 }), fc.integer({ min: 1, max: 10_000_000 }), (earlier, gap) => {
        const later = Math.min(earlier + gap, maxTime);
        const [a, b] = [newId(earlier), newId(later)];
        expect(a < b).toBe(true);
        expect([b, a].sort()).toEqual([a, b]);
      }),
      { numRuns: 500 },
    );
    expect(newId(1_700_000_000_000) < newId(1_700_000_000_001)).toBe(true);
  });

  it('makes 10,000 distinct ids even within one millisecond', () => {
    const now = 1_700_000_000_000;
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) ids.add(newId(now));
    expect(ids.size).toBe(10_000);
    const all = new Set<string>();
    for (let i = 0; i < 10_000; i++) all.add(newId());
    expect(all.size).toBe(10_000);
  });

  it('uses every random character position (the tail is not constant)', () => {
    const tails = Array.from({ length: 200 }, () => newId(0).slice(10));
    for (let position = 0; position < 16; position++) {
      expect(new Set(tails.map((tail) => tail[position])).size).toBeGreaterThan(1);
    }
  });
});
