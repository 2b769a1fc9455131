import { statusShard } from '../../src/core/indexes.js';
import type { OrderStatus } from '../../src/core/status.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromCart, fromOrder, toCart, toOrder, type Attributes } from '../../src/core/attributes.js';
import { itemSize, parseAttribute } from '../../src/core/limits.js';
import type { AttributeJson } from '../../src/core/model.js';
import { linesTotal, parseCartRecord, parseOrderRecord } from '../../src/core/records.js';
import { toDocument, toJson } from '../../src/store/items.js';

const numberText = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.option(fc.bigInt({ min: 0n, max: 10n ** 12n }), { nil: undefined }))
  .map(([negative, whole, fraction]) => `${negative && whole > 0n ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}`);
const base64 = fc.uint8Array({ minLength: 0, maxLength: 12 }).map((bytes) => Buffer.from(bytes).toString('base64'));
// Names that are Object.prototype members once crashed reads (valueOf) or vanished (constructor, toString): mixed in on purpose.
// `__proto__` is left out: import refuses it by name (the SDK's document conversion cannot carry it).
const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__'];
const attributeName = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(...PROTOTYPE_NAMES));

const { value: attribute } = fc.letrec<{ value: AttributeJson }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 12 }).filter((text) => text.isWellFormed()).map((S) => ({ S })),
    numberText.map((N) => ({ N })),
    base64.map((B) => ({ B })),
    fc.boolean().map((BOOL) => ({ BOOL })),
    fc.constant({ NULL: true as const }),
    fc.uniqueArray(fc.string({ maxLength: 6 }).filter((text) => text.isWellFormed()), { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), { minLength: 1, maxLength: 4 }).map((values) => ({ NS: values.map(String) })),
    fc.uniqueArray(base64.filter((text) => text.length > 0), { minLength: 1, maxLength: 3 }).map((BS) => ({ BS })),
    fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
    fc.dictionary(attributeName, tie('value'), { maxKeys: 3 }).map((M) => ({ M })),
  ),
}));

/** A known field holding what shopdb writes, something foreign, or nothing. */
function field(valid: fc.Arbitrary<AttributeJson>): fc.Arbitrary<AttributeJson | undefined> {
  return fc.oneof(valid, attribute, fc.constant(undefined));
}

const id = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/).map((S) => ({ S }));
const amount = fc.bigInt({ min: 0n, max: 10n ** 20n }).map((cents) => ({ N: `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}` }));
const whole = fc.oneof(fc.integer({ min: 1, max: 1000 }).map(String), fc.bigInt({ min: 1n, max: 10n ** 37n }).map(String)).map((N) => ({ N }));
const time = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => ({ S: date.toISOString() }));

function item(known: Record<string, fc.Arbitrary<AttributeJson | undefined>>, key?: [string, fc.Arbitrary<AttributeJson>]): fc.Arbitrary<Attributes> {
  const extras = fc.dictionary(attributeName.filter((name) => !Object.hasOwn(known, name) && name !== key?.[0]), attribute, { maxKeys: 3 });
  return fc.tuple(fc.record(known), extras, key ? key[1] : fc.constant(undefined)).map(([fields, extra, keyValue]) => {
    const result: Attributes = { ...extra };
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) result[name] = value;
    if (key && keyValue) result[key[0]] = keyValue;
    return result;
  });
}

const line = item({ productId: field(id), name: field(fc.string({ minLength: 1, maxLength: 8 }).filter((text) => text.trim() === text && text.trim().length > 0 && !/\p{Cc}/u.test(text)).map((S) => ({ S }))), quantity: field(whole), unitPrice: field(amount) });
const lines = fc.array(line.map((M) => ({ M })), { maxLength: 3 }).map((L) => ({ L }));
const cartItem = item(
  { userId: field(id), products: field(lines), totalAmount: field(amount), createdAt: field(time), updatedAt: field(time), version: field(whole), status: field(fc.constant({ S: 'CHECKED_OUT' })), orderId: field(id) },
  ['cartId', id],
);
const orderItem = item(
  { userId: field(id), totalAmount: field(amount), status: field(fc.constantFrom('PENDING', 'PAID', 'SHIPPED').map((S) => ({ S }))), createdAt: field(time), updatedAt: field(time), version: field(whole), cartId: field(id), products: field(lines) },
  ['orderId', id],
);

/** NULL in a known field reads as "no value" and is written back absent; everything else must come back as stored. */
function withoutKnownNulls(attrs: Attributes, known: string[]): Attributes {
  return Object.fromEntries(Object.entries(attrs).filter(([name, value]) => !(known.includes(name) && 'NULL' in value)));
}

function unindexable(extra: Attributes | undefined, keys: string[]): boolean {
  return keys.some((name) => extra?.[name] !== undefined && !('S' in extra[name]));
}

function linesWithoutKnownNulls(expected: Attributes): void {
  const products = expected.products;
  if (products && 'L' in products && products.L.every((element) => 'M' in element)) {
    expected.products = { L: products.L.map((element) => ({ M: withoutKnownNulls((element as { M: Attributes }).M, ['productId', 'name', 'quantity', 'unitPrice']) })) };
  }
}

describe('the item mapping', () => {
  it('the document client form carries every DynamoDB JSON value exactly', () => {
    fc.assert(fc.property(fc.dictionary(attributeName, attribute, { maxKeys: 6 }), (attrs) => {
      expect(toJson(toDocument(attrs))).toEqual(attrs);
    }), { examples: [[{ constructor: { S: 'v' }, m: { M: { constructor: { S: 'x' }, valueOf: { M: { toString: { L: [{ M: { hasOwnProperty: { N: '1' } } }] } } } } } }]] });
  });

  it('orders: read then written back is the stored item, and import takes back what export prints', () => {
    fc.assert(fc.property(orderItem, (attrs) => {
      const order = toOrder(attrs);
      const expected = withoutKnownNulls(attrs, ['userId', 'totalAmount', 'status', 'createdAt', 'updatedAt', 'version', 'cartId', 'products']);
      linesWithoutKnownNulls(expected);
      // The one attribute written back that was not read: the status index's key, derived from the status (core/indexes.ts).
      if (order.status !== null && order.updatedAt !== null) expected.statusShard = { S: statusShard(order.orderId, order.status as OrderStatus) };
      expect(canonicalAmounts(fromOrder(order))).toEqual(canonicalAmounts(expected));
      // An index key attribute (userId, createdAt, updatedAt) holding other than a string cannot be written to an indexed table.
      if (unindexable(order.extra, ['userId', 'createdAt', 'updatedAt'])) expect(() => parseOrderRecord(structuredClone(order))).toThrow(/secondary indexes/);
      else expect(parseOrderRecord(structuredClone(order))).toEqual(order);
    }));
  });

  it('carts: read then written back is the stored item, and import takes back what export prints', () => {
    fc.assert(fc.property(cartItem, (attrs) => {
      const cart = toCart(attrs);
      const expected = withoutKnownNulls(attrs, ['userId', 'products', 'totalAmount', 'createdAt', 'updatedAt', 'version', 'status', 'orderId']);
      linesWithoutKnownNulls(expected);
      expect(canonicalAmounts(fromCart(cart))).toEqual(canonicalAmounts(expected));
      // The one record import refuses: a cart with a version (shopdb's own) whose total is not the sum of its lines.
      const sum = linesTotal(cart);
      if (unindexable(cart.extra, ['userId', 'createdAt'])) {
        expect(() => parseCartRecord(structuredClone(cart))).toThrow(/secondary indexes/);
      } else if (cart.version !== null && cart.totalAmount !== null && sum !== undefined && sum !== cart.totalAmount) {
        expect(() => parseCartRecord(structuredClone(cart))).toThrow(/^totalAmount: is /);
      } else {
        expect(parseCartRecord(structuredClone(cart))).toEqual(cart);
      }
    }));
  });

  it('extra values are accepted back by the import check as they are printed', () => {
    fc.assert(fc.property(attribute, (value) => {
      expect(parseAttribute(structuredClone(value), 'extra.x')).toEqual(value);
    }));
  });
});

describe("DynamoDB's item size", () => {
  it.each([
    [{ a: { S: 'abc' } }, 1 + 3],
    [{ a: { N: '12345' } }, 1 + 4],
    [{ a: { N: '0.0100' } }, 1 + 2],
    [{ a: { B: Buffer.from('hello').toString('base64') } }, 1 + 5],
    [{ a: { BOOL: true }, bb: { NULL: true } }, 2 + 3],
    [{ a: { L: [{ S: 'x' }, { N: '1' }] } }, 1 + 3 + (1 + 1) + (1 + 2)],
    [{ a: { M: { k: { S: 'xy' } } } }, 1 + 3 + 1 + 1 + 2],
    [{ é: { SS: ['ab', 'c'] } }, 2 + 3],
  ])('%j is %i bytes', (attrs, size) => {
    expect(itemSize(attrs as Attributes)).toBe(size);
  });
});

/** Known amounts are written with 2 decimals; DynamoDB keeps the value, so compare numbers by value. */
function canonicalAmounts(attrs: Attributes): Attributes {
  return JSON.parse(JSON.stringify(attrs, (key, value: unknown) => (key === 'N' && typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? value.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '') : value))) as Attributes;
}
