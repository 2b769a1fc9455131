import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/cli/config.js';
import { cut, displayWidth, usableColumns, wrap } from '../../src/cli/layout.js';
import { Renderer } from '../../src/cli/render.js';
import type { Cart } from '../../src/core/model.js';

describe('colour follows the terminal', () => {
  it('is off on TERM=dumb, which understands no escape codes', () => {
    expect(resolveConfig({}, { TERM: 'dumb' }, true, false).color).toBe(false);
    expect(resolveConfig({}, { TERM: 'xterm-256color' }, true, false).color).toBe(true);
  });
});

describe('layout', () => {
  it('counts display columns: ANSI codes none, CJK and emoji two, combining marks none', () => {
    expect(displayWidth('\x1b[1mabc\x1b[22m')).toBe(3);
    expect(displayWidth('茶碗🍵')).toBe(6);
    expect(displayWidth('e\u0301')).toBe(1);
  });

  it('measures printable ASCII by its length, and any text as the sum of its characters', () => {
    fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (ascii) => {
      expect(displayWidth(ascii)).toBe(ascii.length);
    }));
    // No ESC: a sequence split across characters would not be one any more.
    const char = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x7f, max: 0x10ffff })).filter((cp) => cp < 0xd800 || cp > 0xdfff).map((cp) => String.fromCodePoint(cp));
    fc.assert(fc.property(fc.array(char, { maxLength: 30 }), (chars) => {
      expect(displayWidth(chars.join(''))).toBe(chars.reduce((sum, c) => sum + displayWidth(c), 0));
    }));
    expect(displayWidth('tab\there')).toBe(7);
  });

  it('cuts with … inside the width, never splitting a wide character past it', () => {
    expect(cut('abcdef', 4)).toBe('abc…');
    expect(cut('abc', 4)).toBe('abc');
    expect(displayWidth(cut('茶碗茶碗茶碗', 5))).toBeLessThanOrEqual(5);
  });

  it('wraps prose at spaces, breaks words longer than a line, drops nothing', () => {
    const long = 'x'.repeat(45);
    const lines = wrap(`✓ Created order ${long} for u1`, 20, { indent: 2 });
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(20);
    expect(lines.join('').replace(/ /g, '')).toBe(`✓Createdorder${long}foru1`);
    expect(lines.slice(1).every((line) => line.startsWith('  '))).toBe(true);
  });

  it('treats an unknown or tiny terminal size as unknown', () => {
    expect(usableColumns(0)).toBeUndefined();
    expect(usableColumns(undefined)).toBeUndefined();
    expect(usableColumns(50)).toBe(50);
  });
});

describe('Renderer fits the terminal', () => {
  const cart: Cart = {
    cartId: `c-${'k'.repeat(198)}`,
    userId: 'u1',
    products: [
      { productId: 'sku-1', name: `Mug ${'n'.repeat(200)}`, quantity: 2, unitPrice: '5.00' },
      { productId: 'sku-2', name: null, quantity: 1, unitPrice: '0.10' },
    ],
    totalAmount: '10.10',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 3,
  } as Cart;

  it.each([50, 80, 120])('no line of a cart is wider than %i columns, and the whole id is there', (columns) => {
    const text = new Renderer(false, columns).cart(cart);
    for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(columns);
    expect(text.replace(/[\s│┌┐└┘├┤┬┴┼─]/g, '')).toContain(cart.cartId);
    expect(text).toContain('10.00');
  });

  it('cuts a long name with … and right-aligns amounts', () => {
    const text = new Renderer(false, 80).cart(cart);
    expect(text).toMatch(/Mug n+…/);
    const row = text.split('\n').find((line) => line.includes('sku-2')) ?? '';
    expect(row.split('│').at(-2)).toMatch(/^ +0\.10 $/);
  });

  it('without a known width draws the natural table, as before', () => {
    const text = new Renderer(false, undefined).cart(cart);
    expect(text).toContain(`Mug ${'n'.repeat(200)}`);
  });
});

describe('Renderer never lets stored text drive the terminal', () => {
  // U+009B is a one-character CSI on many terminals; JSON.stringify leaves it as it is.
  const order = {
    orderId: 'o-c1',
    userId: 'u\u009b31mred',
    totalAmount: '1.00',
    status: 'ODD\u001b[2J',
    createdAt: null,
    updatedAt: null,
    version: 1,
    cartId: null,
    products: null,
    extra: { note: { S: 'x\u009b2Jy\u007f' } },
  };

  it('escapes C0, DEL and C1 controls in values, statuses and kept attributes', () => {
    const text = new Renderer(false, 80).order(order);
    // eslint-disable-next-line no-control-regex -- the assertion is about control characters
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('u\\u009b31mred');
    expect(text).toContain('ODD\\u001b[2J');
    expect(text).toContain('\\u009b2Jy\\u007f');
  });

  it('escapes bidirectional controls, so a name cannot read as something else', () => {
    const text = new Renderer(false, 80).order({ ...order, userId: 'alice\u202egnp.exe', extra: { note: { S: 'a\u2066b' } } });
    expect(text).toContain('alice\\u202egnp.exe');
    expect(text).toContain('a\\u2066b');
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
  });

  it('marks a partial outcome without the green tick', () => {
    expect(new Renderer(false, 80).partial('read 3, written 2, failed 1')).toBe('! read 3, written 2, failed 1');
    expect(new Renderer(false, 80).done('read 3, written 3')).toBe('✓ read 3, written 3');
  });
});

describe('the progress line counts display columns', () => {
  it('fits wide characters one column short of the terminal', async () => {
    const { fit, widest } = await import('../../src/cli/progress.js');
    const text = `importing 注文注文注文注文注文注文注文注文注文注文 🛒🛒🛒`;
    for (const columns of [20, 30, 50]) {
      expect(displayWidth(fit(text, columns))).toBeLessThan(columns);
      expect(displayWidth(widest(columns, [text, 'importing 42%']))).toBeLessThan(columns);
    }
  });
});
