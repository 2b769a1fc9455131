import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, MAX_NAME_LENGTH, MAX_QUANTITY, parsePositiveInteger, parseQuantity, quote, validateId, validateName } from '../../src/core/validate.js';
import { badInputMessage } from '../support/bad-input.js';


describe('validateId', () => {
  it.each([['o1'], ['ord-1001'], ['a b'], ['Ünïcødé'], ['日本語'], ['😀'], ['x'.repeat(MAX_KEY_BYTES)]])('accepts %j and returns it unchanged', (id) => {
    expect(validateId(id, 'orderId')).toBe(id);
  });

  it('rejects the empty string', () => {
    expect(badInputMessage(() => validateId('', 'orderId'), 'orderId')).toMatch(/empty/);
  });

  it('rejects U+FFFD, what Node makes of an argument that is not valid UTF-8', () => {
    expect(badInputMessage(() => validateId('\uFFFD\uFFFD', 'orderId'), 'orderId')).toMatch(/U\+FFFD.*not valid UTF-8/);
  });

  it.each([[' '], ['   '], ['\u00a0'], ['\u3000']])('rejects whitespace-only %j', (id) => {
    expect(badInputMessage(() => validateId(id, 'cartId'), 'cartId')).toMatch(/whitespace/);
  });

  it('allows exactly 2048 UTF-8 bytes and refuses 2049, counting bytes not characters', () => {
    expect(MAX_KEY_BYTES).toBe(2048);
    const twoByte = 'é'.repeat(1024); // 1024 characters, 2048 bytes
    expect(Buffer.byteLength(twoByte, 'utf8')).toBe(2048);
    expect(validateId(twoByte, 'orderId')).toBe(twoByte);
    const fourByte = '😀'.repeat(512); // 2048 bytes
    expect(validateId(fourByte, 'orderId')).toBe(fourByte);
    expect(validateId('€'.repeat(682) + 'ab', 'orderId')).toHaveLength(684); // 2046 + 2 bytes

    expect(badInputMessage(() => validateId(`${twoByte}a`, 'orderId'), 'orderId')).toMatch(/2049 bytes/);
    badInputMessage(() => validateId('x'.repeat(2049), 'orderId'), 'orderId');
    badInputMessage(() => validateId(`${'€'.repeat(682)}éa`, 'orderId'), 'orderId'); // 2046 + 2 + 1
    badInputMessage(() => validateId(`${fourByte}a`, 'orderId'), 'orderId');
  });

  it.each([['a\u0000b'], ['a\nb'], ['a\rb'], ['a\tb'], ['a\u001bb'], ['a\u007fb'], ['a\u0085b'], ['a\u009fb'], ['\u0007']])(
    'rejects control characters in %j',
    (id) => {
      expect(badInputMessage(() => validateId(id, 'productId'), 'productId')).toMatch(/control/);
    },
  );

  it.each([['\ud800'], ['a\udc00b'], ['😀'.slice(0, 1)], [`x${'😀'.slice(1)}`]])('rejects the lone surrogate in %j', (id) => {
    expect(badInputMessage(() => validateId(id, 'orderId'), 'orderId')).toMatch(/lone surrogate/);
  });

  it.each([[' a'], ['a '], ['\u00a0a'], ['a\u3000'], [' a ']])('rejects leading or trailing whitespace in %j', (id) => {
    expect(badInputMessage(() => validateId(id, 'userId'), 'userId')).toMatch(/start or end with whitespace/);
  });
});

describe('validateName', () => {
  it.each([['Tea mug'], [' padded '], ['x'.repeat(MAX_NAME_LENGTH)], ['日本語の名前']])('accepts %j unchanged', (name) => {
    expect(validateName(name, 'name')).toBe(name);
  });

  it.each([[''], [' '], ['\u00a0\u3000']])('rejects empty or blank %j', (name) => {
    expect(badInputMessage(() => validateName(name, 'name'), 'name')).toMatch(/empty/);
  });

  it('rejects more than 1000 characters', () => {
    expect(MAX_NAME_LENGTH).toBe(1000);
    expect(badInputMessage(() => validateName('x'.repeat(1001), 'name'), 'name')).toMatch(/1000/);
  });

  it('rejects control characters and lone surrogates', () => {
    expect(badInputMessage(() => validateName('Tea\nmug', 'name'), 'name')).toMatch(/control/);
    expect(badInputMessage(() => validateName('Tea \ud83d mug', 'name'), 'name')).toMatch(/surrogate/);
  });
});

describe('parseQuantity', () => {
  it.each([
    ['1', 1],
    ['3', 3],
    ['01', 1],
    ['1000000', 1_000_000],
  ])('parses %j as %d', (text, quantity) => {
    expect(parseQuantity(text, 'quantity')).toBe(quantity);
  });

  it.each([['0'], ['1000001'], [String(2 ** 53 + 1)], ['9'.repeat(400)]])('rejects %j as out of range', (text) => {
    expect(MAX_QUANTITY).toBe(1_000_000);
    expect(badInputMessage(() => parseQuantity(text, 'quantity'), 'quantity')).toMatch(/from 1 to 1000000/);
  });

  it.each([['-1'], ['0'], ['1000001']])('rejects the whole number %j as out of range, quoting it', (text) => {
    expect(badInputMessage(() => parseQuantity(text, 'quantity'), 'quantity')).toBe(`quantity: "${text}" is out of range; use an integer from 1 to 1000000`);
  });

  it.each([['1.5'], ['abc'], [''], [' 1'], ['1e3'], ['0x10'], ['+1'], ['１']])('rejects %j as not a whole number', (text) => {
    expect(badInputMessage(() => parseQuantity(text, 'quantity'), 'quantity')).toMatch(/not a whole number/);
  });
});

describe('parsePositiveInteger', () => {
  it('accepts 1..max and rejects the rest, naming the field', () => {
    expect(parsePositiveInteger('1', 'rcu', 10)).toBe(1);
    expect(parsePositiveInteger('10', 'rcu', 10)).toBe(10);
    for (const text of ['0', '11', '-1', '1.0', 'x', '']) badInputMessage(() => parsePositiveInteger(text, 'rcu', 10), 'rcu');
  });
});

describe('quote', () => {
  it('wraps text in double quotes', () => {
    expect(quote('abc')).toBe('"abc"');
  });

  it('escapes control characters and quotes so the message stays on one line', () => {
    expect(quote('a\nb')).toBe('"a\\nb"');
    expect(quote('a\u0000b')).toBe('"a\\u0000b"');
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
    expect([...quote('\r\n\t\u001b')].filter((char) => char.charCodeAt(0) < 0x20)).toEqual([]);
  });

  it('cuts text longer than the limit with an ellipsis, keeping text at the limit whole', () => {
    expect(quote('x'.repeat(40))).toBe(`"${'x'.repeat(40)}"`);
    expect(quote('x'.repeat(41))).toBe(`"${'x'.repeat(40)}…"`);
    expect(quote('abcdef', 3)).toBe('"abc…"');
  });

  it('escapes a surrogate pair cut in half instead of emitting invalid Unicode', () => {
    const quoted = quote(`${'x'.repeat(39)}😀`);
    expect(quoted.isWellFormed()).toBe(true);
    expect(quoted).toBe(`"${'x'.repeat(39)}\\ud83d…"`);
  });
});

describe('one-line messages', () => {
  it('rejects Unicode line separators in ids and escapes them when quoting', () => {
    expect(badInputMessage(() => validateId('a\u2028b', 'orderId'), 'orderId')).toMatch(/control characters/);
    expect(quote('a\u2028b\u2029c')).toBe('"a\\u2028b\\u2029c"');
  });
});
