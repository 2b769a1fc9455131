/**
 * import and export on a real pseudo-terminal (util-linux `script`), where the
 * progress line is drawn: 80 and 50 columns, and TERM=dumb. The bundled
 * cli-progress once crashed here on every run ("i is not a constructor").
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, shopdb, testEnv, uniquePrefix } from '../support/cli.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

/* eslint-disable no-control-regex -- the point is to find terminal control sequences */
const dir = mkdtempSync(join(tmpdir(), 'shopdb-bulk-pty-'));
const prefix = uniquePrefix('bulk-pty');
const COUNT = 3000;

/*
 * A DynamoDB Local of its own: these imports write 3,000 items each, and late in the suite the shared
 * engine, holding every other file's tables, once took over 10 s to answer one of them.
 */
let engine: TestEngine;

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await engine?.stop();
});
beforeAll(async () => {
  engine = await startTestEngine();
  const created = await shopdb(['tables', 'create', '--no-stream'], { prefix, env: { SHOPDB_ENDPOINT: engine.endpoint } });
  if (created.exitCode !== 0) throw new Error(`tables create failed (${created.exitCode}): ${created.stderr}`);
}, 120_000);

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs `command` under a pty `columns` wide; returns what the terminal received and the command's exit code. */
async function onTerminal(command: string, columns: number, term = 'xterm-256color'): Promise<{ exitCode: number; screen: string }> {
  const result = await execa('script', ['-qec', `stty cols ${columns} rows 24; ${command}`, '/dev/null'], {
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    env: testEnv(prefix, { TERM: term, NO_COLOR: undefined, SHOPDB_ENDPOINT: engine.endpoint }),
    extendEnv: true,
  });
  return { exitCode: result.exitCode ?? -1, screen: String(result.stdout) };
}

function orders(label: string): string {
  const file = join(dir, `${label}.ndjson`);
  let text = '';
  for (let i = 0; i < COUNT; i++) text += `${JSON.stringify({ orderId: `${label}-${i}`, userId: 'u1', totalAmount: '1.00', status: 'PENDING' })}\n`;
  writeFileSync(file, text);
  return file;
}

/** The states the progress line went through: the text after each carriage return, control sequences removed. */
function frames(screen: string): string[] {
  return screen
    .split(/\r(?!\n)/)
    .slice(1)
    .map((frame) => frame.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\r\n')[0] ?? '')
    .filter((frame) => frame !== '');
}

describe('import on a terminal', () => {
  for (const columns of [80, 50]) {
    it(`draws a progress line that fits ${columns} columns, erases it, and prints the summary`, async () => {
      const file = orders(`pty-${columns}`);
      const { exitCode, screen } = await onTerminal(`${quote(BIN)} order import ${quote(file)}`, columns);
      expect(exitCode, screen).toBe(0);
      expect(screen).not.toMatch(/unexpected error|not a constructor/);
      // The summary may wrap at 50 columns, at a space.
      expect(screen).toMatch(new RegExp(`read ${COUNT},\\s+written ${COUNT},\\s+skipped 0\\s+\\(existing\\),\\s+failed 0`));
      const drawn = frames(screen).filter((frame) => /written|w \d/.test(frame) && !frame.includes('(existing)'));
      expect(drawn.length, screen).toBeGreaterThan(0);
      // One column short of the width: a line that reached the edge would wrap and could not be erased.
      for (const frame of drawn) expect([...frame].length, frame).toBeLessThan(columns);
      // Erased before the summary.
      expect(screen).toMatch(/\r\x1b\[K[^\r]*read 3000/);
    });
  }

  it('with TERM=dumb prints no cursor control at all', async () => {
    const file = orders('pty-dumb');
    const { exitCode, screen } = await onTerminal(`${quote(BIN)} order import ${quote(file)}`, 80, 'dumb');
    expect(exitCode, screen).toBe(0);
    expect(screen).toMatch(/read 3000, written 3000/);
    expect(screen).not.toContain('\x1b[K');
    expect(screen).not.toMatch(/\r(?!\n)/);
  });

  it('warnings for existing ids start on a clean line, capped, with the count of the rest', async () => {
    const file = join(dir, 'pty-80.ndjson');
    const { exitCode, screen } = await onTerminal(`${quote(BIN)} order import ${quote(file)}`, 80);
    expect(exitCode, screen).toBe(0);
    const warnings = screen.split('\r\n').filter((line) => line.includes('already exists; skipped'));
    expect(warnings).toHaveLength(50);
    // Any progress drawn before a warning was erased first: the warning text itself is whole.
    for (const warning of warnings) expect(warning.replace(/^.*\r\x1b\[K/, '')).toMatch(/^shopdb: warning: order pty-80-\d+ already exists; skipped \(--overwrite replaces it\)$/);
    expect(screen).toContain(`shopdb: warning: ${COUNT - 50} more existing orders were skipped (not shown)`);
  });
});

describe('export on a terminal', () => {
  for (const [columns, term] of [[80, 'xterm-256color'], [50, 'xterm-256color'], [80, 'dumb']] as const) {
    it(`to a file, with a count on the terminal (${columns} columns, TERM=${term}): every line whole`, async () => {
      const out = join(dir, `export-${columns}-${term}.ndjson`);
      const { exitCode, screen } = await onTerminal(`${quote(BIN)} order export > ${quote(out)}`, columns, term);
      expect(exitCode, screen).toBe(0);
      const lines = readFileSync(out, 'utf8').split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.length).toBeGreaterThanOrEqual(COUNT);
      for (const line of lines) expect(JSON.parse(line)).toHaveProperty('orderId');
      if (term === 'dumb') {
        expect(screen).not.toMatch(/\x1b|\r(?!\n)/);
      } else {
        for (const frame of frames(screen)) expect([...frame].length, frame).toBeLessThan(columns);
      }
    });
  }

  it('to the terminal itself: the records, then the count', async () => {
    const { exitCode, screen } = await onTerminal(`${quote(BIN)} order export --segments 1`, 50);
    expect(exitCode, screen).toBe(0);
    const records = screen.split('\r\n').filter((line) => line.startsWith('{'));
    expect(records.length).toBeGreaterThanOrEqual(COUNT);
    for (const record of records) expect(JSON.parse(record)).toHaveProperty('orderId');
    expect(screen).toMatch(/exported \d+ orders/);
  });
});
