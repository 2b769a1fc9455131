/**
 * Generated import files through the built binary and DynamoDB Local: every
 * line is either reported as a bad line or comes back from export exactly as
 * it went in; never an abort (exit 1), never a line silently changed or lost.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStrict } from '../../src/core/json.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'shopdb-import-property-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const awkward = fc.string({ unit: fc.oneof(fc.constantFrom('\u2028', '\u2029', '"', '\\', '\n', '\t', 'é', '😀', '\ud800', '\udc00', '\u0000'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 });

/** One line: a valid order in export's shape, or one of the ways a line goes wrong. */
function lineArbitrary(id: string): fc.Arbitrary<string> {
  const orderObject = fc.record({
    orderId: fc.oneof(fc.constant(id), awkward.map((text) => `${id}${text}`)),
    userId: fc.oneof(fc.constant('u1'), awkward),
    totalAmount: fc.oneof(fc.constantFrom('0.00', '19.99', '99999999999999999.99'), fc.bigInt({ min: 0n, max: 10n ** 30n }).map((cents) => `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`)),
    status: fc.constantFrom('PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'),
    createdAt: fc.constantFrom('2026-01-31T12:00:00.000Z', null),
    updatedAt: fc.constantFrom('2026-02-01T08:30:00.000Z', null),
    version: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n })),
    cartId: fc.constantFrom(null, 'cart-1'),
    products: fc.constantFrom(null, [{ productId: 'p1', name: null, quantity: 2, unitPrice: '1.50' }]),
  });
  const print = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `__big${item}__` : item)).replace(/"__big(\d+)__"/g, '$1');
  return fc.oneof(
    { weight: 6, arbitrary: orderObject.map(print) },
    // A key repeated inside the object.
    orderObject.map((order) => print(order).replace(/}$/, ',"status":"PAID"}')),
    // Nesting far past the limit.
    fc.integer({ min: 129, max: 50_000 }).map((depth) => `{"orderId":"${id}","x":${'['.repeat(depth)}${']'.repeat(depth)}}`),
    // Random bytes (no newline), as text.
    fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => Buffer.from(bytes.filter((byte) => byte !== 0x0a)).toString('latin1')),
    // A long string.
    fc.integer({ min: 1000, max: 500_000 }).map((length) => print({ orderId: id, userId: 'u'.repeat(length), totalAmount: '1.00', status: 'PAID', createdAt: null, updatedAt: null, version: 1, cartId: null, products: null })),
  );
}

describe('generated import files', () => {
  it('every line is a reported bad line or an exact round trip through export; the run never aborts', async () => {
    const files = fc.sample(
      // At most 50 bad lines are reported one by one: files stay under that.
      fc.integer({ min: 20, max: 48 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => lineArbitrary(`gen-${i}`)))),
      { numRuns: 3, seed: 20261127 },
    );
    for (const [index, lines] of files.entries()) {
      const prefix = uniquePrefix(`gen-${index}`);
      await createTables(prefix);
      const file = join(dir, `gen-${index}.ndjson`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      const imported = await shopdb(['order', 'import', file], { prefix });
      expect([0, 2], imported.stderr.slice(0, 2000)).toContain(imported.exitCode);
      const summary = imported.json<{ read: number; written: number; skipped: number; failed: number }>();
      const nonBlank = lines.filter((line) => line.trim() !== '').length;
      expect(summary.read).toBe(nonBlank);
      expect(summary.written + summary.failed).toBe(summary.read);

      const reported = new Set(
        imported.stderr
          .split('\n')
          .filter((text) => text.startsWith('{'))
          .map((text) => /^line (\d+): /.exec((JSON.parse(text) as { error: { message: string } }).error.message)?.[1])
          .filter((number): number is string => number !== undefined)
          .map(Number),
      );
      const exported = await shopdb(['order', 'export'], { prefix });
      expect(exported.exitCode, exported.stderr).toBe(0);
      const byId = new Map(
        exported.stdout
          .split('\n')
          .filter((text) => text !== '')
          .map((text) => {
            const record = parseStrict(text) as { orderId: string };
            return [record.orderId, record] as const;
          }),
      );
      expect(byId.size).toBe(summary.written);
      lines.forEach((line, at) => {
        if (line.trim() === '') return;
        const number = at + 1;
        if (reported.has(number)) return;
        // Not reported: then it was written, and export gives it back exactly.
        const input = parseStrict(line) as { orderId: string };
        expect(byId.get(input.orderId), `line ${number}: ${line.slice(0, 200)} (summary ${JSON.stringify(summary)}, ${reported.size} reported)`).toStrictEqual(input);
      });
      expect(reported.size).toBe(summary.failed);
    }
  });
});
