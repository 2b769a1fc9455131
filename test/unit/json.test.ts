/**
 * The strict parser behind import and the exact printer behind output,
 * checked against JSON.parse / JSON.stringify on generated texts: every text
 * is either refused with a JsonError or read back exactly, never an abort.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonError, MAX_JSON_DEPTH, parseStrict, stringifyExact, type JsonValue } from '../../src/core/json.js';

/** parseStrict's answer as JSON.parse would round it: each bigint to the nearest double. */
function rounded(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(rounded);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rounded(item)]));
  return value;
}

function refusal(text: string): string | undefined {
  try {
    parseStrict(text);
    return undefined;
  } catch (error) {
    if (!(error instanceof JsonError)) throw error;
    return error.message;
  }
}

/** JSON values as shopdb's lines hold them, with the awkward parts: lone surrogates, line separators, big integers. */
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).filter((n) => n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.constantFrom('\u2028', '\u2029', '\ud800', '\udfff', '"', '\\', '\n', '\u0000', 'é', '😀') }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** What a printed value reads back as: -0 prints as 0, and a double past 2^53 printed without an exponent is an integer literal. */
function afterRoundTrip(value: JsonValue): unknown {
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return 0;
    const printed = String(value);
    return !Number.isSafeInteger(value) && /^-?\d+$/.test(printed) ? BigInt(printed) : value;
  }
  if (Array.isArray(value)) return value.map(afterRoundTrip);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, afterRoundTrip(item)]));
  return value;
}

describe('parseStrict', () => {
  it('reads back exactly whatever stringifyExact printed, bigints included', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(parseStrict(stringifyExact(value))).toStrictEqual(afterRoundTrip(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with JSON.parse on texts without repeated keys or big integers, and refuses what it refuses', () => {
    // Texts JSON.parse accepts, texts near them (cut, spliced), and random characters.
    const nearJson = fc.tuple(jsonValue.map((value) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null'), fc.nat(), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', ' ', '-', '0', 'e', 'x', '\u0001') })).chain(([text, at, junk]) =>
      fc.constantFrom(text, text.slice(0, at % (text.length + 1)), text.slice(0, at % (text.length + 1)) + junk + text.slice(at % (text.length + 1)), ` ${text}\r\n`),
    );
    fc.assert(
      fc.property(fc.oneof(nearJson, fc.string({ unit: 'binary' })), (text) => {
        let expected: unknown;
        try {
          expected = JSON.parse(text);
        } catch {
          // Refused too; a repeated key or too deep a nesting may be met before the syntax error ({"":1,"":2 cut short).
          expect(refusal(text)).toMatch(/^not valid JSON|appears twice in one object|nested deeper/);
          return;
        }
        const message = refusal(text);
        if (message === undefined) {
          expect(rounded(parseStrict(text))).toStrictEqual(expected);
        } else {
          // JSON.parse took it; only a repeat, depth or nothing else may explain the refusal.
          expect(message).toMatch(/appears twice in one object|nested deeper/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps integers past 2^53 exact as bigints, and everything else as numbers', () => {
    expect(parseStrict('{"version":9007199254740993,"q":-18446744073709551617}')).toStrictEqual({ version: 9007199254740993n, q: -18446744073709551617n });
    expect(parseStrict('[9007199254740991,-9007199254740991,1e400,0.1,-0,12345678901234567890.5]')).toStrictEqual([9007199254740991, -9007199254740991, Infinity, 0.1, -0, 12345678901234567000]);
  });

  it('refuses a key repeated inside one object, at any depth, naming it', () => {
    expect(refusal('{"orderId":"a","orderId":"b"}')).toBe('key "orderId" appears twice in one object');
    expect(refusal('{"p":[{"q":1,"r":2,"q":3}]}')).toBe('key "q" appears twice in one object');
    // The same key spelt two ways is still the same key.
    expect(refusal('{"a":1,"\\u0061":2}')).toBe('key "a" appears twice in one object');
    expect(refusal('{"__proto__":1,"__proto__":2}')).toBe('key "__proto__" appears twice in one object');
    // Equal keys in sibling objects are fine.
    expect(parseStrict('[{"a":1},{"a":2}]')).toStrictEqual([{ a: 1 }, { a: 2 }]);
  });

  it('keeps "__proto__" as an own member, as JSON.parse does', () => {
    const value = parseStrict('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more, or a million, without overflowing the stack`, () => {
    const nested = (depth: number, open: string, close: string) => `${open.repeat(depth)}${close.repeat(depth)}`;
    expect(refusal(nested(MAX_JSON_DEPTH, '[', ']'))).toBeUndefined();
    expect(refusal(nested(MAX_JSON_DEPTH + 1, '[', ']'))).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(refusal(`${'{"a":'.repeat(1_000_000)}1${'}'.repeat(1_000_000)}`)).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(refusal('['.repeat(5_000_000))).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('refuses what JSON refuses: control characters in strings, bad escapes, trailing text', () => {
    for (const text of ['', ' ', '{"a":"\u0001"}', '"\\x41"', '"\\u12G4"', '{"a":1}x', '{"a":1,}', '[1,]', '01', '-', '1.', '.5', '1e', 'tru', 'NaN', '"abc']) {
      expect(refusal(text), text).toMatch(/^not valid JSON/);
    }
  });
});

describe('stringifyExact', () => {
  it('prints exactly what JSON.stringify prints for values without a bigint', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stringifyExact(value)).toBe(JSON.stringify(value));
      }),
    );
    const withUndefined = { a: undefined, b: [undefined, () => 1], c: new Date(0) };
    expect(stringifyExact(withUndefined)).toBe(JSON.stringify(withUndefined));
  });

  it('prints bigints as exact integer literals, and the same members JSON.stringify would keep around them', () => {
    expect(stringifyExact({ version: 2n ** 64n + 1n, skip: undefined, products: [{ quantity: 9007199254740993n }, undefined], at: new Date(0) })).toBe(
      '{"version":18446744073709551617,"products":[{"quantity":9007199254740993},null],"at":"1970-01-01T00:00:00.000Z"}',
    );
    const cycle: Record<string, unknown> = { n: 1n };
    cycle.self = cycle;
    expect(() => stringifyExact(cycle)).toThrow(TypeError);
  });
});
