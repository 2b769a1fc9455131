/**
 * Signals and pipes, through the built binary against the DynamoDB Local of
 * test/support/services.ts: SIGINT/SIGTERM in the middle of an import or an
 * export end with the documented code (130/143), an honest summary, exactly
 * `written` items in the table and no spooled copy of the input left in the
 * temporary directory; `export | head -1` ends with exit 0.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ImportSummary } from '../../src/core/bulk.js';
import { BIN, createTables, shopdb, testEnv, uniquePrefix } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';
import { startFaultProxy } from '../support/fault-proxy.js';

const client = rawClient();
const dir = mkdtempSync(join(tmpdir(), 'shopdb-signals-'));

afterAll(() => {
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** What import prints as its summary (one JSON line on stdout). */
type Summary = ImportSummary;

/** Enough lines that an import is still running when the test has seen its first writes. */
const LINES = 50_000;

function orderLines(label: string, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) {
    text += `${JSON.stringify({ orderId: `${label}-${i}`, userId: 'u1', totalAmount: `${i}.50`, status: 'PENDING', createdAt: '2026-01-31T12:00:00.000Z', updatedAt: null, version: 1 })}\n`;
  }
  return text;
}

function env(prefix: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return testEnv(prefix, extra);
}

function start(args: string[], options: { env: Record<string, string | undefined>; input?: string; stdin?: 'pipe' }): ResultPromise {
  return execa(BIN, args, { reject: false, timeout: 120_000, env: options.env, extendEnv: true, ...(options.input === undefined ? { stdin: options.stdin ?? 'ignore' } : { input: options.input }) });
}

async function count(table: string): Promise<number> {
  let total = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: start }));
    total += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return total;
}

/** Polls until `condition` holds; fails the test (not by timing, by never seeing it) after a generous bound. */
async function until(what: string, condition: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`never saw: ${what}`);
}

function jsonErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => (JSON.parse(text) as { error: { message: string } }).error.message);
}

describe('a signal during import', () => {
  const cases = [
    { signal: 'SIGINT', code: 130, from: 'a file', strict: false },
    { signal: 'SIGTERM', code: 143, from: 'a file', strict: true },
    { signal: 'SIGINT', code: 130, from: 'stdin', strict: true },
    { signal: 'SIGTERM', code: 143, from: 'stdin', strict: false },
  ] as const;

  for (const { signal, code, from, strict } of cases) {
    it(`${signal} importing from ${from}${strict ? ' with --strict' : ''}: exit ${code}, the summary so far, exactly \`written\` items stored, no spool left`, async () => {
      const prefix = uniquePrefix(`sig-${signal.toLowerCase()}`);
      await createTables(prefix);
      const table = `${prefix}EcommerceOrders`;
      const text = orderLines('sig', LINES);
      const spoolRoot = mkdtempSync(join(dir, 'tmp-'));
      const args = ['order', 'import', ...(strict ? ['--strict'] : [])];
      let child: ResultPromise;
      if (from === 'a file') {
        const file = join(dir, `${prefix}.ndjson`);
        writeFileSync(file, text);
        child = start([...args, file], { env: env(prefix, { TMPDIR: spoolRoot }) });
      } else {
        child = start([...args, '-'], { env: env(prefix, { TMPDIR: spoolRoot }), input: text });
      }
      await until('the first writes', async () => (await count(table)) >= 500);
      child.kill(signal);
      const result = await child;

      expect(result.exitCode, String(result.stderr)).toBe(code);
      const summary = JSON.parse(String(result.stdout)) as Summary;
      expect(summary.written).toBeGreaterThanOrEqual(500);
      expect(summary.written).toBeLessThan(LINES);
      // Every line read was sent and settled: nothing is unaccounted for.
      expect(summary).toEqual({ read: summary.written, written: summary.written, skipped: 0, failed: 0 });
      expect(await count(table)).toBe(summary.written);
      expect(jsonErrors(String(result.stderr))).toEqual([`interrupted by ${signal}: stopped reading after line ${summary.read}`]);
      expect(String(result.stderr)).not.toMatch(/\n\s+at /);
      expect(readdirSync(spoolRoot), 'a spooled copy of the input').toEqual([]);
    });
  }

  // SIGHUP is what a closed terminal or a dropped ssh session sends; SIGQUIT is Ctrl-\.
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGQUIT', 131]] as const) {
    it(`${signal} while --strict still spools stdin: exit ${code}, nothing written, the spool removed`, async () => {
      const prefix = uniquePrefix('sig-spool');
      await createTables(prefix);
      const spoolRoot = mkdtempSync(join(dir, 'tmp-'));
      const child = start(['order', 'import', '--strict', '-'], { env: env(prefix, { TMPDIR: spoolRoot }), stdin: 'pipe' });
      // Half the input, and stdin left open: shopdb is still spooling.
      child.stdin?.write(orderLines('spool', 1000));
      await until('the spool directory', () => readdirSync(spoolRoot).some((name) => name.startsWith('shopdb-import-')));
      child.kill(signal);
      const result = await child;
      expect(result.exitCode, String(result.stderr)).toBe(code);
      expect(jsonErrors(String(result.stderr))).toEqual([`interrupted by ${signal} while reading the input (nothing was written)`]);
      expect(readdirSync(spoolRoot)).toEqual([]);
      expect(await count(`${prefix}EcommerceOrders`)).toBe(0);
    });
  }

  it('batches DynamoDB holds are abandoned after a bound and reported; a second signal exits at once, spool removed', async () => {
    const prefix = uniquePrefix('sig-hold');
    await createTables(prefix);
    // Writes are held far longer than the settle bound; everything else passes.
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => (/Write|Put|Transact/.test(request.operation) ? { holdMs: 60_000 } : 'forward'));
    try {
      const writes = () => proxy.seen.filter((request) => /Write|Put|Transact/.test(request.operation)).length;
      const text = orderLines('hold', 2000);

      const once = start(['order', 'import', '-'], { env: env(prefix, { SHOPDB_ENDPOINT: proxy.endpoint, SHOPDB_TIMEOUT: '120' }), input: text });
      await until('a held write', () => writes() > 0);
      once.kill('SIGINT');
      const first = await once;
      expect(first.exitCode, String(first.stderr)).toBe(130);
      const summary = JSON.parse(String(first.stdout)) as Summary;
      expect(summary.written).toBe(0);
      expect(summary.abandoned).toBeGreaterThan(0);
      expect(summary.read).toBe((summary.abandoned ?? 0) + (summary.notSent ?? 0));
      expect(jsonErrors(String(first.stderr))[0]).toMatch(/^interrupted by SIGINT: stopped reading after line \d+; \d+ orders in batches still in flight were abandoned and may or may not be written(; \d+ read but never sent \(not written\))?$/);

      const spoolRoot = mkdtempSync(join(dir, 'tmp-'));
      const held = writes();
      const twice = start(['order', 'import', '--strict', '-'], { env: env(prefix, { SHOPDB_ENDPOINT: proxy.endpoint, SHOPDB_TIMEOUT: '120', TMPDIR: spoolRoot }), input: text });
      await until('a held write', () => writes() > held);
      twice.kill('SIGTERM');
      await sleep(200);
      twice.kill('SIGINT');
      const second = await twice;
      // The second signal ends the run inside the settle bound: no summary was printed.
      expect(second.exitCode, String(second.stderr)).toBe(130);
      expect(String(second.stdout)).toBe('');
      expect(readdirSync(spoolRoot)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});

describe('what a stop leaves unsent', () => {
  it('--overwrite: only the 25-item requests actually sent count as abandoned; the rest are reported as never sent', async () => {
    const prefix = uniquePrefix('sig-unsent');
    await createTables(prefix);
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), (request) => (/BatchWriteItem/.test(request.operation) ? { holdMs: 60_000 } : 'forward'));
    try {
      const sent = () => proxy.seen.filter((request) => /BatchWriteItem/.test(request.operation)).length;
      const run = start(['order', 'import', '--overwrite', '-'], { env: env(prefix, { SHOPDB_ENDPOINT: proxy.endpoint, SHOPDB_TIMEOUT: '120' }), input: orderLines('unsent', 2000) });
      await until('held batch writes', () => sent() > 0);
      // Let the other batches in flight send their first request too.
      await sleep(500);
      run.kill('SIGINT');
      const stopped = await run;
      expect(stopped.exitCode, String(stopped.stderr)).toBe(130);
      const summary = JSON.parse(String(stopped.stdout)) as Summary;
      // Each held request carried 25 items; the later requests of each 100-item batch were never sent.
      expect(summary.abandoned).toBe(sent() * 25);
      expect(summary.notSent).toBeGreaterThan(0);
      expect(summary.read).toBe(summary.written + (summary.abandoned ?? 0) + (summary.notSent ?? 0));
    } finally {
      await proxy.close();
    }
  });
});

describe('export', () => {
  const prefix = uniquePrefix('sig-export');
  const COUNT = 12_000;
  beforeAll(async () => {
    await createTables(prefix);
    const file = join(dir, 'export-fill.ndjson');
    writeFileSync(file, orderLines('exp', COUNT));
    const filled = await start(['order', 'import', file], { env: env(prefix) });
    expect(filled.exitCode, String(filled.stderr)).toBe(0);
  }, 120_000);

  it('piped into `head -1` exits 0 (pipefail), printing one whole line', async () => {
    for (const command of [`"${BIN}" order export | head -1`, `"${BIN}" order export --segments 1 | head -c 10`]) {
      const result = await execa('bash', ['-o', 'pipefail', '-c', command], { reject: false, timeout: 60_000, env: env(prefix), extendEnv: true });
      expect(result.exitCode, `${command}: ${String(result.stderr)}`).toBe(0);
      expect(String(result.stderr)).toBe('');
    }
    const one = await execa('bash', ['-o', 'pipefail', '-c', `"${BIN}" order export | head -1`], { reject: false, env: env(prefix), extendEnv: true });
    expect(JSON.parse(String(one.stdout))).toMatchObject({ userId: 'u1', status: 'PENDING' });
  });

  it('`get` and an import summary into a closed pipe exit 0 too', async () => {
    for (const command of [`"${BIN}" order get exp-1 | true`, `"${BIN}" order export | true`, `printf '' | "${BIN}" order import - | true`]) {
      const result = await execa('bash', ['-o', 'pipefail', '-c', command], { reject: false, timeout: 60_000, env: env(prefix), extendEnv: true });
      expect(result.exitCode, `${command}: ${String(result.stderr)}`).toBe(0);
    }
  });

  it('SIGINT in the middle: exit 130 and how many were exported, every printed line whole', async () => {
    // A slow reader: export fills the pipe and waits, and the signal comes while it does.
    const child = execa(BIN, ['order', 'export', '--segments', '1'], { reject: false, env: env(prefix), extendEnv: true, buffer: false, stdout: 'pipe' });
    let received = '';
    let paused = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (!paused && received.length > 100_000) {
        paused = true;
        child.stdout?.pause();
        child.kill('SIGINT');
        setTimeout(() => child.stdout?.resume(), 200);
      }
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const result = await child;
    expect(result.exitCode, stderr).toBe(130);
    const lines = received.split('\n');
    expect(lines.pop()).toBe('');
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('orderId');
    const errors = jsonErrors(stderr);
    expect(errors).toHaveLength(1);
    const exported = Number(/^interrupted by SIGINT after exporting (\d+) orders$/.exec(errors[0] ?? '')?.[1]);
    expect(exported).toBeLessThan(COUNT);
    expect(lines.length).toBe(exported);
  });
});

describe('a signal during a single command', () => {
  it('ends it at once with 130/143 and one line, no stack trace', async () => {
    const proxy = await startFaultProxy(inject('dynamoEndpoint'), () => ({ holdMs: 60_000 }));
    try {
      for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const seen = proxy.seen.length;
        const child = start(['order', 'get', 'anything', '--verbose'], { env: env(uniquePrefix('sig-get'), { SHOPDB_ENDPOINT: proxy.endpoint, SHOPDB_TIMEOUT: '120' }) });
        await until('the held request', () => proxy.seen.length > seen);
        child.kill(signal);
        const result = await child;
        expect(result.exitCode, String(result.stderr)).toBe(code);
        expect(jsonErrors(String(result.stderr))).toEqual([`interrupted by ${signal}`]);
        expect(String(result.stderr)).not.toMatch(/\n\s+at /);
      }
    } finally {
      await proxy.close();
    }
  });
});

describe('stdout that fails (not a closed pipe)', () => {
  it('every command writing to /dev/full: one line "cannot write to standard output", exit 1', async () => {
    const prefix = uniquePrefix('sig-full');
    await createTables(prefix);
    const created = await shopdb(['order', 'create', 'full-1', '--user', 'u1', '--amount', '1.00'], { prefix });
    expect(created.exitCode, created.stderr).toBe(0);
    const file = join(dir, `${prefix}.ndjson`);
    writeFileSync(file, orderLines('full-new', 3));
    const commands = [
      ['order', 'get', 'full-1'],
      ['order', 'set-status', 'full-1', 'PAID'],
      ['order', 'import', file],
      ['order', 'export'],
      ['tables', 'status'],
      ['--help'],
    ];
    for (const args of commands) {
      const quoted = args.map((arg) => `'${arg}'`).join(' ');
      const result = await execa('bash', ['-c', `"${BIN}" ${quoted} > /dev/full`], { reject: false, timeout: 60_000, env: env(prefix), extendEnv: true });
      const what = `${args.join(' ')}: ${String(result.stderr)}`;
      expect(result.exitCode, what).toBe(1);
      // tables status also warns that these tables have no stream (created without, see support/cli.ts): not an error line.
      const errors = String(result.stderr).split('\n').filter((text) => text !== '' && !text.includes('no stream on'));
      expect(errors, what).toHaveLength(1);
      expect(JSON.parse(errors[0] ?? '')).toEqual({ error: { code: 'INTERNAL', message: expect.stringMatching(/^cannot write to standard output: ENOSPC/) as unknown } });
    }
  });
});

describe('a signal while import waits for a named pipe no one writes to', () => {
  it.each([
    ['SIGINT', 130, false, 1],
    ['SIGTERM', 143, false, 1],
    ['SIGINT', 130, true, 1],
    ['SIGINT', 130, true, 2],
  ] as const)('%s (exit %i, --strict %s, %i signals): ends, nothing written, no spool left', async (signal, code, strict, times) => {
    const prefix = uniquePrefix('sig-fifo');
    await createTables(prefix);
    const fifo = join(dir, `${prefix}.fifo`);
    await execa('mkfifo', [fifo]);
    const spoolRoot = mkdtempSync(join(dir, 'tmp-'));
    // Bounded so that the old behaviour (alive for ever) fails the test instead of hanging it.
    const child = execa(BIN, ['order', 'import', ...(strict ? ['--strict'] : []), fifo], { reject: false, timeout: 30_000, env: env(prefix, { TMPDIR: spoolRoot }), extendEnv: true, stdin: 'ignore' });
    // The open is under way once the process runs its command: the spool exists (--strict), or a moment has passed.
    if (strict) await until('the spool directory', () => readdirSync(spoolRoot).some((name) => name.startsWith('shopdb-import-')));
    else await sleep(1000);
    for (let i = 0; i < times; i++) child.kill(signal);
    const result = await child;
    expect(result.isTerminated, 'killed by the test timeout').toBe(false);
    expect(result.exitCode, String(result.stderr)).toBe(code);
    if (times === 1) expect(jsonErrors(String(result.stderr))[0]).toMatch(new RegExp(`^interrupted by ${signal}`));
    expect(readdirSync(spoolRoot)).toEqual([]);
    expect(await count(`${prefix}EcommerceOrders`)).toBe(0);
  });
});
