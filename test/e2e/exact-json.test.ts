/*
 * Whole numbers past 2^53 through shopdb's JSON, both ways: import reads the
 * literal exactly, get/export print every digit (no quotes), and writes move
 * them on exactly. JSON.parse would round 9007199254740993 to ...992.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

const prefix = uniquePrefix('exact-json');
beforeAll(() => createTables(prefix));

/** The digits of a field as printed, read from the raw JSON text (JSON.parse would round them). */
function digits(text: string, field: string): string[] {
  return [...text.matchAll(new RegExp(`"${field}":(-?\\d+)`, 'g'))].map((match) => match[1] ?? '');
}

describe('integers past 2^53 in JSON', () => {
  it('an order version is read, printed, advanced and exported exactly', async () => {
    const line = '{"orderId":"big-v","userId":"u","totalAmount":"1.00","status":"PENDING","createdAt":null,"updatedAt":null,"version":9007199254740993}';
    const imported = await shopdb(['order', 'import', '--overwrite'], { prefix, input: `${line}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const got = await shopdb(['order', 'get', 'big-v', '--strong', '--json'], { prefix });
    expect(digits(got.stdout, 'version')).toEqual(['9007199254740993']);
    const moved = await shopdb(['order', 'set-status', 'big-v', 'PAID', '--json'], { prefix });
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(digits(moved.stdout, 'version')).toEqual(['9007199254740994']);
    const exported = await shopdb(['order', 'export'], { prefix });
    const exportedLine = exported.stdout.split('\n').find((text) => text.includes('"big-v"')) ?? '';
    expect(digits(exportedLine, 'version')).toEqual(['9007199254740994']);
  });

  it('a cart quantity of 21 digits is read, raised and printed exactly, its total consistent', async () => {
    const line =
      '{"cartId":"big-q","userId":"u","products":[{"productId":"p","name":null,"quantity":123456789012345678901,"unitPrice":"0.01"}],"totalAmount":"1234567890123456789.01","createdAt":null,"updatedAt":null,"version":1}';
    const imported = await shopdb(['cart', 'import'], { prefix, input: `${line}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const raised = await shopdb(['cart', 'add-product', 'big-q', 'p', '--price', '0.01', '--quantity', '2', '--json'], { prefix });
    expect(raised.exitCode, raised.stderr).toBe(0);
    expect(digits(raised.stdout, 'quantity')).toEqual(['123456789012345678903']);
    expect(raised.stdout).toContain('"totalAmount":"1234567890123456789.03"');
  });
});
