/**
 * `order set-status --ids-from <file|-> <status>` through the built binary
 * against the DynamoDB Local of test/support/services.ts: one NDJSON result
 * line per distinct id in input order, the table's state afterwards, racing
 * writers, lost answers, signals, a closed pipe, a dead endpoint, a terminal.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { execa } from 'execa';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { validateId } from '../../src/core/validate.js';
import { freePort } from '../../src/local/engine.js';
import { BIN, createTables, shopdb, testEnv, uniquePrefix } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { pty } from '../support/pty.js';

const prefix = uniquePrefix('many');
const table = `${prefix}EcommerceOrders`;
const client = rawClient();
const dir = mkdtempSync(join(tmpdir(), 'shopdb-many-'));

beforeAll(() => createTables(prefix));
afterAll(() => {
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
});

type Line = { orderId?: string; line?: number; result?: string; error?: { code: string; message: string } };
type Summary = { read: number; updated: number; unchanged: number; failed: number; duplicates: number; notAttempted: number };

let files = 0;
function file(text: string): string {
  const path = join(dir, `ids-${files++}.txt`);
  writeFileSync(path, text);
  return path;
}

/** Stores orders in the given statuses (version 1) through import. */
async function seed(orders: Array<[string, string]>): Promise<void> {
  const text = orders.map(([orderId, status]) => JSON.stringify({ orderId, userId: 'u1', totalAmount: '1.00', status, createdAt: null, updatedAt: null, version: 1 })).join('\n');
  const run = await shopdb(['order', 'import', '-', '--overwrite'], { prefix, input: `${text}\n` });
  if (run.exitCode !== 0) throw new Error(`seeding failed: ${run.stderr}`);
}

async function stored(orderId: string): Promise<{ status: string; version: number } | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { orderId: { S: orderId } }, ConsistentRead: true }));
  return Item ? { status: Item.status?.S ?? '', version: Number(Item.version?.N) } : undefined;
}

function results(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => JSON.parse(text) as Line);
}

/** stderr in JSON mode: the summary line, then the error lines. */
function stderrJson(stderr: string): { summary: Summary | undefined; errors: Array<{ code: string; message: string }> } {
  const objects = stderr
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as { summary?: Summary; error?: { code: string; message: string } });
  return { summary: objects.find((object) => object.summary)?.summary, errors: objects.flatMap((object) => (object.error ? [object.error] : [])) };
}

function range(label: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${label}-${String(i).padStart(4, '0')}`);
}

describe('mixed outcomes', () => {
  it('300+ ids: one line per distinct id in input order, each outcome right, the table as the lines say', async () => {
    const paid = range('mix-paid', 120);
    const shipped = range('mix-shipped', 60);
    const completed = range('mix-done', 60);
    const missing = range('mix-missing', 50);
    await seed([...paid.map((id): [string, string] => [id, 'PAID']), ...shipped.map((id): [string, string] => [id, 'SHIPPED']), ...completed.map((id): [string, string] => [id, 'COMPLETED'])]);
    // Interleaved, with CRLF line ends, blank lines, padded (bad) lines and duplicates.
    const input: string[] = [];
    const expected: Line[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < 120; i++) {
      for (const [ids, outcome] of [[paid, 'updated'], [shipped, 'unchanged'], [completed, 'ILLEGAL_TRANSITION'], [missing, 'NOT_FOUND']] as const) {
        const id = ids[i];
        if (id === undefined) continue;
        input.push(i % 3 === 0 ? `${id}\r` : id);
        if (seen.has(id)) continue;
        seen.add(id);
        expected.push(outcome === 'updated' || outcome === 'unchanged' ? { orderId: id, result: outcome } : { orderId: id, error: { code: outcome, message: expect.stringContaining(id) as unknown as string } });
      }
      if (i % 10 === 0) input.push('', '   ');
      if (i % 12 === 0) {
        input.push(` ${paid[i]}`);
        expected.push({ line: input.length, orderId: ` ${paid[i]}`, error: { code: 'BAD_INPUT', message: `line ${input.length}: orderId: must not start or end with whitespace` } });
      }
      // A repeat of an id already handled: no second line.
      if (i % 7 === 0 && i > 0) input.push(paid[i - 1] as string);
    }
    const run = await shopdb(['order', 'set-status', '--ids-from', file(`${input.join('\n')}\n`), 'SHIPPED'], { prefix });

    expect(run.exitCode, run.stderr).toBe(4);
    const lines = results(run.stdout);
    expect(lines.length).toBeGreaterThanOrEqual(300);
    expect(lines).toEqual(expected);
    const { summary, errors } = stderrJson(run.stderr);
    expect(summary).toEqual({ read: input.filter((text) => text.trim() !== '').length, updated: 120, unchanged: 60, failed: 60 + 50 + 10, duplicates: 17, notAttempted: 0 });
    expect(errors).toEqual([{ code: 'ILLEGAL_TRANSITION', message: `120 of ${120 + 60 + 60 + 50 + 10} ids did not end in SHIPPED (60 ILLEGAL_TRANSITION, 50 NOT_FOUND, 10 BAD_INPUT); each has its error on its result line` }]);
    for (const id of paid) expect(await stored(id)).toEqual({ status: 'SHIPPED', version: 2 });
    for (const id of shipped) expect(await stored(id)).toEqual({ status: 'SHIPPED', version: 1 });
    for (const id of completed) expect(await stored(id)).toEqual({ status: 'COMPLETED', version: 1 });
    for (const id of missing) expect(await stored(id)).toBeUndefined();
  });

  it('reads standard input with -, honours --expect, and exits 0 when every id ends in the status', async () => {
    const paid = range('stdin-paid', 40);
    const pending = range('stdin-pending', 10);
    await seed([...paid.map((id): [string, string] => [id, 'PAID']), ...pending.map((id): [string, string] => [id, 'PENDING'])]);
    const ok = await shopdb(['order', 'set-status', '--ids-from', '-', 'SHIPPED', '--expect', 'PAID', '--concurrency', '3'], { prefix, input: paid.join('\n') });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(results(ok.stdout)).toEqual(paid.map((orderId) => ({ orderId, result: 'updated' })));
    expect(stderrJson(ok.stderr)).toEqual({ summary: { read: 40, updated: 40, unchanged: 0, failed: 0, duplicates: 0, notAttempted: 0 }, errors: [] });

    const wrong = await shopdb(['order', 'set-status', '--ids-from', '-', 'SHIPPED', '--expect', 'PAID'], { prefix, input: `${pending[0]}\n${paid[0]}\n` });
    expect(wrong.exitCode).toBe(4);
    expect(results(wrong.stdout)).toEqual([
      { orderId: pending[0], error: { code: 'UNEXPECTED_STATUS', message: `order ${pending[0]} is PENDING, not PAID as expected; nothing was changed` } },
      { orderId: paid[0], result: 'unchanged' },
    ]);
    expect(await stored(pending[0] as string)).toEqual({ status: 'PENDING', version: 1 });
  });

  it('racing another run: every order moves exactly once, and each run says which it moved', async () => {
    const ids = range('race', 200);
    await seed(ids.map((id): [string, string] => [id, 'PAID']));
    const path = file(`${ids.join('\n')}\n`);
    const [ship, cancel] = await Promise.all([
      shopdb(['order', 'set-status', '--ids-from', path, 'SHIPPED'], { prefix }),
      shopdb(['order', 'set-status', '--ids-from', path, 'CANCELLED'], { prefix }),
    ]);
    const shipped = new Map(results(ship.stdout).map((line) => [line.orderId, line]));
    const cancelled = new Map(results(cancel.stdout).map((line) => [line.orderId, line]));
    expect(shipped.size).toBe(200);
    expect(cancelled.size).toBe(200);
    for (const id of ids) {
      const a = shipped.get(id);
      const b = cancelled.get(id);
      // Exactly one run moved it; the other saw the move and was refused.
      expect([a?.result, b?.result].filter((result) => result === 'updated'), id).toHaveLength(1);
      const winner = a?.result === 'updated' ? 'SHIPPED' : 'CANCELLED';
      expect((a?.result === 'updated' ? b : a)?.error?.code).toBe('ILLEGAL_TRANSITION');
      expect(await stored(id)).toEqual({ status: winner, version: 2 });
    }
  });
});

describe('faults, signals and pipes', () => {
  it('answers lost after DynamoDB applied the move: each order moved exactly once, exit 0', async () => {
    const ids = range('lost', 60);
    await seed(ids.map((id): [string, string] => [id, 'PAID']));
    // The first answer for every third order is lost after DynamoDB applied the move; the SDK's resend then finds it moved.
    const tried = new Set<string>();
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => {
      if (request.operation !== 'UpdateItem') return 'forward';
      const orderId = (JSON.parse(request.body) as { Key: { orderId: { S: string } } }).Key.orderId.S;
      const first = !tried.has(orderId);
      tried.add(orderId);
      return first && Number(orderId.slice(-4)) % 3 === 0 ? 'drop-response' : 'forward';
    });
    try {
      const run = await shopdb(['order', 'set-status', '--ids-from', file(ids.join('\n')), 'SHIPPED'], { prefix, env: { SHOPDB_ENDPOINT: proxy.endpoint } });
      expect(run.exitCode, run.stderr).toBe(0);
      const lines = results(run.stdout);
      expect(lines.map((line) => line.orderId)).toEqual(ids);
      // A resend after a lost answer finds the order moved: "unchanged", still a success.
      expect(lines.every((line) => line.result === 'updated' || line.result === 'unchanged')).toBe(true);
      expect(lines.filter((line) => line.result === 'unchanged').map((line) => line.orderId)).toEqual(ids.filter((_, i) => i % 3 === 0));
      expect(proxy.seen.filter((request) => request.operation === 'UpdateItem').length).toBeGreaterThan(ids.length);
    } finally {
      await proxy.close();
    }
    for (const id of ids) expect(await stored(id)).toEqual({ status: 'SHIPPED', version: 2 });
  });

  it('a dead endpoint stops the run at the first failures instead of failing every id: exit 5, the rest not attempted', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const ids = range('dead', 2000);
    const started = Date.now();
    const run = await shopdb(['order', 'set-status', '--ids-from', file(ids.join('\n')), 'SHIPPED', '--concurrency', '4'], { prefix, env: { SHOPDB_ENDPOINT: endpoint } });
    expect(run.exitCode).toBe(5);
    expect(Date.now() - started).toBeLessThan(15_000);
    const lines = results(run.stdout);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(4);
    expect(lines.every((line) => line.error?.code === 'UNAVAILABLE')).toBe(true);
    const { summary, errors } = stderrJson(run.stderr);
    expect(summary).toEqual({ read: 2000, updated: 0, unchanged: 0, failed: lines.length, duplicates: 0, notAttempted: 2000 - lines.length });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain(`${2000 - lines.length} more ids after it were not attempted`);
  });

  it('SIGINT mid-run: in-flight moves finish, every id read has its line, the rest untouched, exit 130', async () => {
    const ids = range('sigint', 1500);
    await seed(ids.map((id): [string, string] => [id, 'PAID']));
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => (request.operation === 'UpdateItem' ? { holdMs: 40 } : 'forward'));
    try {
      const child = execa(BIN, ['order', 'set-status', '--ids-from', file(ids.join('\n')), 'SHIPPED', '--concurrency', '4'], {
        reject: false,
        timeout: 60_000,
        env: testEnv(prefix, { SHOPDB_ENDPOINT: proxy.endpoint }),
        extendEnv: true,
        stdin: 'ignore',
      });
      let seen = '';
      child.stdout?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
      for (let i = 0; i < 600 && seen.split('\n').length < 40; i++) await sleep(50);
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode, String(result.stderr)).toBe(130);
      const lines = results(String(result.stdout));
      expect(lines.length).toBeGreaterThanOrEqual(39);
      expect(lines.length).toBeLessThan(ids.length);
      // Input order, no gap: the lines are exactly the first ids read.
      expect(lines).toEqual(ids.slice(0, lines.length).map((orderId) => ({ orderId, result: 'updated' })));
      const { summary, errors } = stderrJson(String(result.stderr));
      expect(summary).toEqual({ read: lines.length, updated: lines.length, unchanged: 0, failed: 0, duplicates: 0, notAttempted: 0 });
      expect(errors).toEqual([{ code: 'INTERRUPTED', message: `interrupted by SIGINT: stopped reading after line ${lines.length}; every id read before the stop has its result line (${lines.length} updated, 0 unchanged, 0 failed)` }]);
      await sleep(200);
      for (const [index, id] of ids.entries()) {
        if (index < lines.length + 5 || index % 50 === 0) expect(await stored(id)).toEqual(index < lines.length ? { status: 'SHIPPED', version: 2 } : { status: 'PAID', version: 1 });
      }
    } finally {
      await proxy.close();
    }
  });

  it('piped into `head -1` exits 0 (pipefail) and prints one whole line', async () => {
    const ids = range('head', 3000);
    await seed(ids.map((id): [string, string] => [id, 'PAID']));
    const path = file(ids.join('\n'));
    const run = await execa('bash', ['-o', 'pipefail', '-c', `"${BIN}" order set-status --ids-from "${path}" SHIPPED | head -1`], { reject: false, env: testEnv(prefix), extendEnv: true });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(JSON.parse(String(run.stdout))).toEqual({ orderId: ids[0], result: 'updated' });
    expect(String(run.stderr)).not.toMatch(/"error"|\n\s+at /);
    // It stopped: the last ids were never moved.
    expect(await stored(ids[2999] as string)).toEqual({ status: 'PAID', version: 1 });
  });
});

describe('bad input', () => {
  it.each([
    [['--concurrency', '0'], 'concurrency: "0" is not allowed; use an integer from 1 to 256'],
    [['--concurrency', '257'], 'concurrency: "257" is not allowed; use an integer from 1 to 256'],
    [['--concurrency', 'many'], 'concurrency: "many" is not allowed; use an integer from 1 to 256'],
    [['--expect', 'paid'], 'expect: "paid" is not a status; use one of PENDING, PAID, SHIPPED, COMPLETED, CANCELLED; did you mean PAID?'],
  ])('%j: exit 2, one line naming the field, nothing changed', async (flags, message) => {
    const id = `bad-1-${files}`;
    await seed([[id, 'PAID']]);
    const run = await shopdb(['order', 'set-status', '--ids-from', file(`${id}\n`), 'SHIPPED', ...flags], { prefix });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(stderrJson(run.stderr).errors).toEqual([{ code: 'BAD_INPUT', message }]);
    expect(await stored(id)).toEqual({ status: 'PAID', version: 1 });
  });

  it.each([
    [['order', 'set-status', 'bad-2', '--ids-from', 'x', 'SHIPPED'], '--ids-from: cannot be combined with an orderId argument ("bad-2"); give either one order id or --ids-from <file|->, then the status'],
    [['order', 'set-status', '--ids-from', 'x'], "missing required argument 'status' (see --help)"],
    [['order', 'set-status', 'bad-2', 'SHIPPED', '--concurrency', '4'], '--concurrency: applies only with --ids-from (one order is one request)'],
    [['order', 'set-status', '--ids-from', '/nonexistent/ids.txt', 'SHIPPED'], '--ids-from: cannot read "/nonexistent/ids.txt" (ENOENT)'],
    [['order', 'set-status', '--ids-from', '/tmp', 'SHIPPED'], '--ids-from: "/tmp" is a directory, not a file of ids'],
  ])('%j: exit 2 naming the option', async (args, message) => {
    await seed([['bad-2', 'PAID']]);
    const before = await stored('bad-2');
    const run = await shopdb(args, { prefix });
    expect(run.exitCode).toBe(2);
    expect(stderrJson(run.stderr).errors).toEqual([{ code: 'BAD_INPUT', message }]);
    expect(await stored('bad-2')).toEqual(before);
  });
});

describe('at a terminal', () => {
  for (const columns of [80, 50]) {
    it(`fits ${columns} columns: a line per id, a partial summary marked !, never a green ✓`, async () => {
      const long = `pty-${columns}-${'x'.repeat(90)}`;
      await seed([[`pty-${columns}-a`, 'PAID'], [`pty-${columns}-b`, 'COMPLETED'], [long, 'PAID']]);
      const path = file([`pty-${columns}-a`, `pty-${columns}-b`, long, `pty-${columns}-missing`, ` pty-${columns}-pad`].join('\n'));
      const run = await pty(['order', 'set-status', '--ids-from', path, 'SHIPPED'], { columns, prefix });
      expect(run.exitCode, run.text).toBe(4);
      // Error lines (`shopdb: …`) are left to the terminal to wrap, as everywhere in shopdb.
      expect(run.overflows.filter((line) => !line.startsWith('shopdb: ')), run.text).toEqual([]);
      expect(run.text).toMatch(/^updated +pty-\d+-a$/m);
      expect(run.text).toContain('failed    order pty-');
      expect(run.text.replace(/\n */g, ' ')).toContain('! 5 ids → SHIPPED: 2 updated, 0 unchanged, 3 failed');
      expect(run.text).not.toContain('✓');
      expect(run.text).toContain('did not end in SHIPPED');
    });
  }

  it('a complete run ends with ✓', async () => {
    await seed([['pty-ok-1', 'PAID'], ['pty-ok-2', 'SHIPPED']]);
    const run = await pty(['order', 'set-status', '--ids-from', file('pty-ok-1\npty-ok-2\n'), 'SHIPPED'], { columns: 50, prefix });
    expect(run.exitCode, run.text).toBe(0);
    expect(run.text.replace(/\n */g, ' ')).toContain('✓ 2 ids → SHIPPED: 1 updated, 1 unchanged, 0 failed');
    expect(run.overflows).toEqual([]);
  });
});

describe('generated id lists', () => {
  // Ids with odd Unicode (astral, combining, bidi, wide), padded with spaces; lines with CRLF; blanks; repeats.
  const body = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', '-', '😀', '\u0301', '\u202e', '漢', ' ', '\t', '\u00a0', '\ufeff', '\ud800', 'é'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 0, maxLength: 6 });

  it('the result lines are exactly the distinct valid ids (and the bad lines), in input order', async () => {
    const samples = fc.sample(
      fc.array(fc.tuple(fc.nat({ max: 7 }), body, fc.constantFrom('', ' ', '\r'), fc.boolean()), { minLength: 1, maxLength: 40 }),
      { numRuns: 12, seed: 20261128 },
    );
    for (const [n, sample] of samples.entries()) {
      const tag = `prop${n}-`;
      // Some ids are picked from a small pool, so repeats are common.
      const lines = sample.map(([pool, text, end, blank]) => (blank && pool === 0 ? '' : `${pool < 3 ? ` `.repeat(pool % 2) : ''}${tag}${pool < 4 ? `pool${pool}` : text}${end}`));
      const input = lines.join('\n');
      const existing = new Set<string>();
      const model: Line[] = [];
      const seen = new Set<string>();
      // The model: bytes as written, split at \n, one trailing \r dropped, blank lines skipped, a leading byte-order mark dropped.
      Buffer.from(input, 'utf8')
        .toString('utf8')
        .split('\n')
        .forEach((raw, index) => {
          let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
          if (text.startsWith('\ufeff')) text = text.slice(1);
          if (text.trim() === '') return;
          let valid = true;
          try {
            validateId(text, 'orderId');
          } catch {
            valid = false;
          }
          if (!valid) model.push({ line: index + 1, orderId: text, error: { code: 'BAD_INPUT', message: expect.stringMatching(new RegExp(`^line ${index + 1}: orderId: `)) as unknown as string } });
          else if (!seen.has(text)) {
            seen.add(text);
            // Every other distinct id exists (PAID), the rest are not found.
            if (seen.size % 2 === 1) existing.add(text);
            model.push(existing.has(text) ? { orderId: text, result: 'updated' } : { orderId: text, error: { code: 'NOT_FOUND', message: `order ${text} not found` } });
          }
        });
      if (existing.size > 0) await seed([...existing].map((id): [string, string] => [id, 'PAID']));
      const run = await shopdb(['order', 'set-status', '--ids-from', file(input), 'SHIPPED'], { prefix });
      expect(results(run.stdout), JSON.stringify(input)).toEqual(model);
      const failed = model.filter((line) => line.error).length;
      expect(run.exitCode).toBe(failed === 0 ? 0 : model.some((line) => line.error?.code === 'NOT_FOUND') ? 3 : 2);
      for (const id of existing) expect(await stored(id)).toEqual({ status: 'SHIPPED', version: 2 });
    }
  });
});
