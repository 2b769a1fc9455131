import { describe, expect, it } from 'vitest';
import { parseCartRecord, parseOrderRecord } from '../../src/core/records.js';
import { badInputMessage } from '../support/bad-input.js';

const order = { orderId: 'o1', userId: 'u1', totalAmount: '19.90', status: 'PAID', createdAt: '2026-01-31T12:00:00.000Z', updatedAt: null, version: 3, cartId: null, products: null };
const cart = {
  cartId: 'c1',
  userId: 'u1',
  products: [
    { productId: 'mug', name: 'Tea mug', quantity: 3, unitPrice: '19.99' },
    { productId: 'pen', name: null, quantity: 1, unitPrice: '0.10' },
  ],
  totalAmount: '60.07',
  createdAt: null,
  updatedAt: null,
  version: null,
  status: null,
  orderId: null,
};


describe('import records', () => {
  it('accepts what get --json prints, normalising money', () => {
    expect(parseOrderRecord({ ...order, totalAmount: '19.9' })).toEqual({ ...order, totalAmount: '19.90' });
    expect(parseCartRecord(cart)).toEqual(cart);
  });

  it.each([
    [{ ...order, totalAmount: 19.9 }, 'totalAmount'],
    [{ ...order, status: 'paid' }, 'status'],
    [{ ...order, createdAt: '2026-02-30T00:00:00.000Z' }, 'createdAt'],
    [{ ...order, createdAt: '2026-01-01T24:00:00Z' }, 'createdAt'],
    [{ ...order, version: 0 }, 'version'],
    [{ ...order, extra: 1 }, 'extra'],
    [{ ...order, other: 1 }, 'order'],
  ])('rejects an order with a bad %s', (record, field) => {
    badInputMessage(() => parseOrderRecord(record), field);
  });

  it.each([
    [{ ...cart, totalAmount: '60.06', version: 2 }, 'totalAmount'],
    [{ ...cart, products: [cart.products[0], cart.products[0]] }, 'products[1].productId'],
    [{ ...cart, products: [{ ...cart.products[0], quantity: 1.5 }] }, 'products[0].quantity'],
    [{ ...cart, products: Array.from({ length: 4000 }, (_, i) => ({ productId: `p${i}`, name: 'x'.repeat(80), quantity: 1, unitPrice: '0.00' })), totalAmount: '0.00' }, 'cart'],
  ])('rejects a cart with a bad %s', (record, field) => {
    badInputMessage(() => parseCartRecord(record), field);
  });
});

describe('import takes back whatever DynamoDB holds', () => {
  it('whole numbers and amounts by significant digits, as DynamoDB counts them', () => {
    const big = 10n ** 38n;
    expect(parseOrderRecord({ ...order, version: big }).version).toBe(big);
    expect(parseOrderRecord({ ...order, version: 10n ** 125n }).version).toBe(10n ** 125n);
    expect(badInputMessage(() => parseOrderRecord({ ...order, version: 10n ** 126n }), 'version')).toMatch(/38 significant digits, below 10\^126/);
    expect(badInputMessage(() => parseOrderRecord({ ...order, version: 10n ** 38n + 1n }), 'version')).toMatch(/38 significant digits/);
    expect(parseOrderRecord({ ...order, totalAmount: `1${'0'.repeat(40)}.00` }).totalAmount).toBe(`1${'0'.repeat(40)}.00`);
    expect(badInputMessage(() => parseOrderRecord({ ...order, totalAmount: `${'9'.repeat(37)}.99` }), 'totalAmount')).toMatch(/38 significant digits/);
  });

  it('extra: names checked at every depth, and a product line starts at DynamoDB level 3', () => {
    expect(badInputMessage(() => parseOrderRecord({ ...order, extra: { y: { M: { '': { S: 'b' } } } } }), 'extra.y.M')).toMatch(/empty name/);
    expect(badInputMessage(() => parseOrderRecord({ ...order, extra: { ['é'.repeat(32768)]: { S: 'b' } } }), `extra."${'é'.repeat(40)}…"`)).toMatch(/65536 bytes/);
    expect(parseOrderRecord({ ...order, extra: { ['n'.repeat(65535)]: { S: 'b' } } }).extra).toBeDefined();
    const nest = (levels: number): unknown => (levels === 0 ? { S: 'x' } : { M: { a: nest(levels - 1) } });
    const line = (levels: number) => ({ ...cart, products: [{ ...cart.products[0], extra: { deep: nest(levels) } }], totalAmount: '59.97' });
    expect(parseCartRecord(line(29)).products?.[0]?.extra).toBeDefined();
    expect(() => parseCartRecord(line(30))).toThrow(/nests deeper than DynamoDB's 32 levels/);
    expect(parseOrderRecord({ ...order, extra: { deep: nest(31) } }).extra).toBeDefined();
    expect(() => parseOrderRecord({ ...order, extra: { deep: nest(32) } })).toThrow(/nests deeper/);
  });
});

describe('index key attributes in extra', () => {
  it('refuses a non-string value under a name the secondary indexes key on, naming it', () => {
    for (const name of ['userId', 'createdAt', 'updatedAt']) {
      expect(() => parseOrderRecord({ orderId: 'o', [name]: null, extra: { [name]: { N: '5' } } })).toThrow(new RegExp(`^extra\\.${name}: is a key of the table's secondary indexes`));
    }
    for (const name of ['userId', 'createdAt']) {
      expect(() => parseCartRecord({ cartId: 'c', [name]: null, extra: { [name]: { BOOL: true } } })).toThrow(/secondary indexes/);
    }
    // Carts have no index on updatedAt: any value is kept.
    expect(parseCartRecord({ cartId: 'c', updatedAt: null, extra: { updatedAt: { N: '1' } } }).extra).toEqual({ updatedAt: { N: '1' } });
    expect(() => parseOrderRecord({ orderId: 'o', extra: { statusShard: { S: 'PAID#1' } } })).toThrow(/^extra\.statusShard: is shopdb's own index attribute/);
    // Strings that shopdb does not read as the field are still kept (a foreign timestamp format).
    expect(parseOrderRecord({ orderId: 'o', createdAt: null, extra: { createdAt: { S: 'yesterday' } } }).extra).toEqual({ createdAt: { S: 'yesterday' } });
  });
});
