/**
 * The help and terminal rules of issue 9: every command's help shows the
 * global options and marks required ones, `shopdb help <cmd…>` prints that
 * help on stdout with exit 0, a mistyped status gets "did you mean", `local
 * start --help` names SHOPDB_HOME, a stopped or failed command shows no green
 * tick; all under a real pty at 80 and 50 columns too.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BIN, createTables, shopdb, uniquePrefix } from '../support/cli.js';
import { pty, STACK_LINE, stripAnsi } from '../support/pty.js';

const prefix = uniquePrefix('help');
const work = mkdtempSync(join(tmpdir(), 'shopdb-help-'));

beforeAll(async () => {
  await createTables(prefix);
  const run = await shopdb(['order', 'create', 'o-help', '--user', 'u-help', '--amount', '5.00'], { prefix });
  if (run.exitCode !== 0) throw new Error(run.stderr);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The subcommand names a help text lists under "Commands:" (help itself excluded). */
function commandsIn(help: string): string[] {
  const section = help.split(/\n\n/).find((block) => block.startsWith('Commands:')) ?? '';
  return section
    .split('\n')
    .slice(1)
    .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

/** Every command path of the tree, found by reading the help (so commands added later are covered too). */
async function allCommands(path: string[] = []): Promise<string[][]> {
  const help = (await shopdb([...path, '--help'])).stdout;
  const subs = commandsIn(help);
  const nested = await Promise.all(subs.map((sub) => allCommands([...path, sub])));
  return [path, ...nested.flat()];
}

/** An option's line in a help text, with its wrapped continuation lines joined. */
function optionEntry(help: string, flag: string): string {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => new RegExp(`^ {2}(-\\w, )?${flag}\\b`).test(line));
  if (start === -1) return '';
  let end = start + 1;
  while (end < lines.length && /^ {6,}\S/.test(lines[end] ?? '')) end++;
  return lines.slice(start, end).join(' ').replace(/\s+/g, ' ');
}

describe('help', () => {
  it('every command and subcommand --help: exit 0 on stdout, with the global options', async () => {
    const paths = await allCommands();
    expect(paths.length).toBeGreaterThan(15);
    for (const path of paths.filter((candidate) => candidate.length > 0)) {
      const run = await shopdb([...path, '--help']);
      const name = path.join(' ');
      expect(run.exitCode, name).toBe(0);
      expect(run.stderr, name).toBe('');
      expect(run.stdout, name).toContain(`Usage: shopdb ${name}`);
      expect(run.stdout, name).toContain('Global Options:');
      for (const flag of ['--endpoint <url>', '--table-prefix <prefix>', '--json', '--redis-url <url>']) expect(run.stdout, `${name}: ${flag}`).toContain(flag);
    }
  });

  it.each([
    [['order', 'create'], ['--user', '--amount'], []],
    [['cart', 'create'], ['--user'], []],
    [['cart', 'add-product'], ['--price'], ['--quantity', '--name']],
    [['order', 'set-status'], [], ['--expect', '--force']],
  ])('%j marks its required options (required) and no others', async (path, required, optional) => {
    const help = (await shopdb([...path, '--help'])).stdout;
    for (const flag of required) expect(optionEntry(help, flag), flag).toMatch(/\(required\)$/);
    for (const flag of optional) {
      expect(optionEntry(help, flag), flag).not.toBe('');
      expect(optionEntry(help, flag), flag).not.toContain('(required)');
    }
    expect(optionEntry(help, '--endpoint')).not.toContain('(required)');
  });

  it.each([
    [['help', 'order', 'create'], ['order', 'create', '--help']],
    [['order', 'help', 'create'], ['order', 'create', '--help']],
    [['help', 'order'], ['order', '--help']],
    [['help', 'cart', 'add-product'], ['cart', 'add-product', '--help']],
    [['help', 'tables', 'delete'], ['tables', 'delete', '--help']],
    [['help'], ['--help']],
  ])('shopdb %j prints the same help as %j on stdout, exit 0', async (asked, same) => {
    const [run, reference] = await Promise.all([shopdb(asked), shopdb(same)]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(reference.stdout);
  });

  it.each([[['help', 'nosuch']], [['help', 'order', 'nosuch']], [['help', 'order', 'create', 'extra']]])('shopdb %j is BAD_INPUT naming the command, exit 2', async (args) => {
    const run = await shopdb(args);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(JSON.parse(run.stderr).error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/^command: "(nosuch|extra)" is not a command of/) });
  });

  it('a bare group (shopdb order) is a usage error: its help on stderr, nothing on stdout, exit 2', async () => {
    for (const group of ['order', 'cart', 'tables']) {
      const run = await shopdb([group]);
      expect(run.exitCode, group).toBe(2);
      expect(run.stdout, group).toBe('');
      expect(run.stderr, group).toContain(`Usage: shopdb ${group} [options] [command]`);
    }
  });

  it('local start --help names SHOPDB_HOME and what lives there', async () => {
    const run = await shopdb(['local', 'start', '--help']);
    expect(run.exitCode).toBe(0);
    const text = run.stdout.replace(/\s+/g, ' ');
    for (const fact of ['SHOPDB_HOME', 'engine.json', 'engine.lock', 'dynamodb-local.log', 'SHOPDB_HOME/dynamodb', '$XDG_STATE_HOME/shopdb', '~/.local/state/shopdb']) expect(text, fact).toContain(fact);
  });
});

describe('did you mean (a mistyped status)', () => {
  it.each([
    [['order', 'set-status', 'o-help', 'shipped'], 'status', 'SHIPPED'],
    [['order', 'set-status', 'o-help', 'SHIPED'], 'status', 'SHIPPED'],
    [['order', 'set-status', 'o-help', 'Paid'], 'status', 'PAID'],
    [['order', 'set-status', 'o-help', 'PAID', '--expect', 'pendng'], 'expect', 'PENDING'],
  ])('%j: BAD_INPUT naming %s, ending "did you mean %s?", nothing written', async (args, field, suggestion) => {
    const run = await shopdb(args, { prefix });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    const { message } = JSON.parse(run.stderr).error as { message: string };
    expect(message.startsWith(`${field}: `)).toBe(true);
    expect(message).toContain('use one of PENDING, PAID, SHIPPED, COMPLETED, CANCELLED');
    expect(message.endsWith(`; did you mean ${suggestion}?`)).toBe(true);
    const order = await shopdb(['order', 'get', 'o-help', '--strong'], { prefix });
    expect(order.json()).toMatchObject({ status: 'PENDING', version: 1 });
  });

  it('no suggestion for a word far from every status', async () => {
    const run = await shopdb(['order', 'set-status', 'o-help', 'REFUNDED'], { prefix });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).not.toContain('did you mean');
  });
});

describe.each([80, 50])('on a terminal, %i columns', (columns) => {
  it('every command --help fits, with its global options', async () => {
    for (const path of await allCommands()) {
      const run = await pty([...path, '--help'], { columns });
      const context = `${path.join(' ')} --help at ${columns} columns:\n${run.text}`;
      expect(run.exitCode, context).toBe(0);
      expect(run.overflows, context).toEqual([]);
      if (path.length > 0) expect(run.text, context).toContain('Global Options:');
      // An example continued with \ must not end inside a shell comment (the next line would become a command).
      expect(run.text, context).not.toMatch(/#[^\n]*\\$/m);
    }
  }, 120_000);

  it('help order create: fits, global options and (required) shown, exit 0', async () => {
    const run = await pty(['help', 'order', 'create'], { columns });
    const context = `screen at ${columns} columns:\n${run.text}`;
    expect(run.exitCode, context).toBe(0);
    expect(run.overflows, context).toEqual([]);
    expect(run.text, context).toContain('Global Options:');
    expect(run.text.replace(/\s+/g, ' '), context).toMatch(/--amount <decimal>.*\(required\)/);
  });

  it('local start --help: fits and names SHOPDB_HOME', async () => {
    const run = await pty(['local', 'start', '--help'], { columns });
    const context = `screen at ${columns} columns:\n${run.text}`;
    expect(run.exitCode, context).toBe(0);
    expect(run.overflows, context).toEqual([]);
    expect(run.text, context).toContain('SHOPDB_HOME');
  });

  it('a mistyped status: one line, did you mean, exit 2, no stack, no tick', async () => {
    const run = await pty(['order', 'set-status', 'o-help', 'SHIPED'], { columns, prefix });
    const lines = run.raw.split('\n').filter((line) => line.startsWith('shopdb: '));
    expect(run.exitCode).toBe(2);
    expect(lines).toHaveLength(1);
    expect(stripAnsi(lines[0] ?? '')).toMatch(/did you mean SHIPPED\?$/);
    expect(run.text).not.toMatch(STACK_LINE);
    expect(run.raw).not.toContain('✓');
  });

  it('a bare group: help fitted to the terminal, exit 2', async () => {
    const run = await pty(['order'], { columns });
    expect(run.exitCode).toBe(2);
    expect(run.overflows).toEqual([]);
    expect(run.text).toContain('Usage: shopdb order');
  });
});

describe('never a green tick on a failed or stopped run', () => {
  it('an import stopped by SIGINT after writing all it read shows "!" and the interruption, not ✓', async () => {
    const input = join(work, 'one.ndjson');
    await execa('sh', ['-c', `printf '%s\\n' '{"orderId":"o-tick","userId":"u","totalAmount":"1.00","status":"PENDING"}' > '${input}'`]);
    // Standard input stays open after the line (sleep), so the import waits for more until the signal.
    const script = `stty cols 80; (cat '${input}'; sleep 6) | '${BIN}' order import --overwrite - & pid=$!; sleep 3; kill -INT $pid; wait $pid; echo "exit=$?"`;
    const run = await execa('script', ['-qec', `sh -c '${script.replace(/'/g, `'\\''`)}'`, '/dev/null'], {
      reject: false,
      timeout: 30_000,
      env: { SHOPDB_ENDPOINT: inject('dynamoEndpoint'), SHOPDB_TABLE_PREFIX: prefix, TERM: 'xterm-256color', NO_COLOR: undefined, HOME: '/nonexistent-shopdb-test-home', AWS_PROFILE: undefined },
    });
    const screen = stripAnsi(String(run.stdout));
    expect(screen).toContain('interrupted by SIGINT');
    expect(screen).toContain('exit=130');
    expect(screen).toMatch(/! read 1, written 1/);
    expect(screen).not.toContain('✓');
  });
});
