import { beforeAll, describe, expect, it } from 'vitest';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

/*
 * `--verbose` reports the capacity every command consumed, per table, from
 * the ConsumedCapacity DynamoDB (Local) answers with: writes, lists, export
 * and import as totals, not only get.
 */
const prefix = uniquePrefix('capacity');
const ORDERS = `${prefix}EcommerceOrders`;
const CARTS = `${prefix}EcommerceCarts`;

beforeAll(() => createTables(prefix));

/** The units reported on stderr for one table: [read, write], or undefined when no line names it. */
function consumed(stderr: string, table: string): [number, number] | undefined {
  const line = stderr.split('\n').find((text) => text.startsWith(`shopdb: capacity: ${table} consumed `));
  const match = line && /consumed ([\d.]+) read and ([\d.]+) write capacity units$/.exec(line);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

describe('--verbose capacity', () => {
  it('counts writes: create, set-status, delete, and cart edits and checkout on both tables', async () => {
    const created = await shopdb(['order', 'create', 'cap-1', '--user', 'u-cap', '--amount', '5', '--verbose'], { prefix });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(consumed(created.stderr, ORDERS)?.[1]).toBeGreaterThan(0);
    const moved = await shopdb(['order', 'set-status', 'cap-1', 'CANCELLED', '--verbose'], { prefix });
    expect(consumed(moved.stderr, ORDERS)?.[1]).toBeGreaterThan(0);
    const deleted = await shopdb(['order', 'delete', 'cap-1', '--verbose'], { prefix });
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    const [read, write] = consumed(deleted.stderr, ORDERS) ?? [0, 0];
    // The strong read before the delete, and the delete itself.
    expect(read).toBeGreaterThan(0);
    expect(write).toBeGreaterThan(0);

    await shopdb(['cart', 'create', 'cap-cart', '--user', 'u-cap'], { prefix });
    await shopdb(['cart', 'add-product', 'cap-cart', 'p1', '--price', '2.50'], { prefix });
    const checkout = await shopdb(['cart', 'checkout', 'cap-cart', '--order-id', 'cap-2', '--verbose'], { prefix });
    expect(checkout.exitCode, checkout.stderr).toBe(0);
    expect(consumed(checkout.stderr, CARTS)?.[1]).toBeGreaterThan(0);
    expect(consumed(checkout.stderr, ORDERS)?.[1]).toBeGreaterThan(0);
  });

  it('counts lists, export and import as totals, and nothing without --verbose', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ orderId: `cap-i-${i}`, userId: 'u-many', totalAmount: '1.00', status: 'PAID', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', version: 1 }));
    const imported = await shopdb(['order', 'import', '-', '--verbose'], { prefix, input: `${lines.join('\n')}\n` });
    expect(imported.exitCode, imported.stderr).toBe(0);
    // Each batch is one TransactWriteItems; DynamoDB Local reports about 2 units for a whole transaction (AWS charges 2 per item).
    expect(consumed(imported.stderr, ORDERS)?.[1]).toBeGreaterThan(0);
    const overwritten = await shopdb(['order', 'import', '-', '--overwrite', '--verbose'], { prefix, input: `${lines.join('\n')}\n` });
    expect(overwritten.exitCode, overwritten.stderr).toBe(0);
    // BatchWriteItem: at least one unit per item written.
    expect(consumed(overwritten.stderr, ORDERS)?.[1]).toBeGreaterThanOrEqual(30);
    const listed = await shopdb(['order', 'list', '--user', 'u-many', '--verbose'], { prefix });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(consumed(listed.stderr, ORDERS)?.[0]).toBeGreaterThan(0);
    const exported = await shopdb(['order', 'export', '--verbose'], { prefix });
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(consumed(exported.stderr, ORDERS)?.[0]).toBeGreaterThan(0);
    const quiet = await shopdb(['order', 'list', '--user', 'u-many'], { prefix });
    expect(quiet.stderr).not.toContain('capacity');
  });
});
