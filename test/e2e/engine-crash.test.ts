import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

const prefix = uniquePrefix('crash');
const dataDir = mkdtempSync(join(tmpdir(), 'shopdb-crash-'));
let engine: TestEngine | undefined;

afterAll(async () => {
  await engine?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('DynamoDB Local killed in the middle of a run of writes', () => {
  it('keeps every write reported as done, and half-applies none', async () => {
    engine = await startTestEngine({ dataDir });
    const { endpoint, port } = engine;
    const run = (args: string[]): Promise<Run> => shopdb([...args, '--timeout', '3'], { prefix, env: { SHOPDB_ENDPOINT: endpoint } });
    expect((await run(['tables', 'create'])).exitCode).toBe(0);
    expect((await run(['cart', 'create', 'c-crash', '--user', 'u1'])).exitCode).toBe(0);

    // Four writers, each a chain of separate processes, until well after the kill.
    const orders: Array<{ id: string; amount: string; run: Run }> = [];
    const adds: Array<{ quantity: number; run: Run }> = [];
    let killed = false;
    const writer = async (lane: number) => {
      for (let i = 0; i < 12; i++) {
        const id = `o-${lane}-${i}`;
        const amount = `${lane}.${String(i).padStart(2, '0')}`;
        orders.push({ id, amount, run: await run(['order', 'create', id, '--user', 'u1', '--amount', amount]) });
        const quantity = lane + 1;
        adds.push({ quantity, run: await run(['cart', 'add-product', 'c-crash', `p${lane}`, '--price', '1.25', '--quantity', String(quantity)]) });
      }
    };
    const killer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      engine?.child.kill('SIGKILL');
      killed = true;
    })();
    await Promise.all([writer(0), writer(1), writer(2), writer(3), killer]);
    expect(killed).toBe(true);

    const all = [...orders.map((entry) => entry.run), ...adds.map((entry) => entry.run)];
    const failed = all.filter((result) => result.exitCode !== 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const result of failed) {
      expect(result.exitCode).toBe(5);
      expect(result.stderr).toContain(endpoint);
    }

    engine = await startTestEngine({ port, dataDir });
    const reported = orders.filter((entry) => entry.run.exitCode === 0);
    for (const entry of orders) {
      const stored = await run(['order', 'get', entry.id, '--strong']);
      if (entry.run.exitCode === 0) {
        expect(stored.json(), entry.id).toMatchObject({ orderId: entry.id, totalAmount: entry.amount, status: 'PENDING', version: 1 });
      } else if (stored.exitCode === 0) {
        // The write may have landed before the answer was lost; then it landed whole.
        expect(stored.json()).toMatchObject({ totalAmount: entry.amount, status: 'PENDING', version: 1 });
      } else {
        expect(stored.exitCode, stored.stderr).toBe(3);
      }
    }

    const cart = (await run(['cart', 'get', 'c-crash', '--strong'])).json<{ products: Array<{ quantity: number; unitPrice: string }>; totalAmount: string; version: number }>();
    const quantity = cart.products.reduce((sum, line) => sum + line.quantity, 0);
    const confirmed = adds.filter((entry) => entry.run.exitCode === 0).reduce((sum, entry) => sum + entry.quantity, 0);
    const attempted = adds.reduce((sum, entry) => sum + entry.quantity, 0);
    expect(quantity).toBeGreaterThanOrEqual(confirmed);
    expect(quantity).toBeLessThanOrEqual(attempted);
    // Total, lines and version moved together in every write that landed.
    expect(cart.totalAmount).toBe((quantity * 1.25).toFixed(2));
    expect(cart.version - 1).toBeGreaterThanOrEqual(adds.filter((entry) => entry.run.exitCode === 0).length);
    expect(cart.version - 1).toBeLessThanOrEqual(adds.length);
    console.log(
      `engine killed mid-run: ${reported.length}/${orders.length} creates and ${adds.filter((entry) => entry.run.exitCode === 0).length}/${adds.length} adds reported done, all present; ${failed.length} failed with exit 5; cart quantity ${quantity} (confirmed ${confirmed})`,
    );
  }, 180_000);
});
