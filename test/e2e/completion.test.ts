/**
 * `shopdb completion bash|zsh|fish`: scripts generated from the command tree,
 * exercised in the real shells: bash by sourcing the script and calling its
 * completion function as bash would, fish with `complete -C`, zsh by parsing
 * the script and running its walker. Every command the tree has (found by
 * reading the help, not from a list) must be offered.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopdb } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'shopdb-completion-'));
const STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'];
const scripts: Record<string, string> = {};

async function installed(shell: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${shell}`], { reject: false })).exitCode === 0;
}
const hasZsh = await installed('zsh');
const hasFish = await installed('fish');

beforeAll(async () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const run = await shopdb(['completion', shell]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    scripts[shell] = join(work, `shopdb.${shell}`);
    writeFileSync(scripts[shell], run.stdout);
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What bash's completion offers for `words` (the last one is the word being completed). */
async function bashComplete(words: string[], cwd = work): Promise<string[]> {
  const quoted = words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `source '${scripts.bash}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _shopdb; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const run = await execa('bash', ['--norc', '--noprofile', '-c', script], { reject: false, cwd });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  return String(run.stdout).split('\n').filter((line) => line !== '');
}

/** The subcommand names a help text lists under "Commands:". */
function commandsIn(help: string): string[] {
  const section = help.split(/\n\n/).find((block) => block.startsWith('Commands:')) ?? '';
  return section
    .split('\n')
    .slice(1)
    .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe('completion (any shell)', () => {
  it.each([['tcsh'], ['BASH'], ['']])('an unknown shell %j is BAD_INPUT naming shell, exit 2, nothing on stdout', async (shell) => {
    const run = await shopdb(['completion', shell]);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(run.stderr).error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/^shell: .*bash, zsh, fish/) });
  });

  it('the generator keeps no list of commands: it names none of them', () => {
    const code = readFileSync(new URL('../../src/cli/completion.ts', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\*\*?|\*|\/\/)/.test(line))
      .join('\n');
    // No command or option name as a quoted literal in the code (statuses go by the value's name: `<status>`, --status).
    expect(code).not.toMatch(/['"`](tables|order|cart|local|config|completion|set-status|add-product|create|get|import|export|show|delete|list|checkout|flush|--expect|--billing)['"`]/);
  });
});

describe('bash', () => {
  it('completes every command and subcommand the tree has (read from the help), at every level', async () => {
    const top = commandsIn((await shopdb(['--help'])).stdout);
    expect(top).toEqual(expect.arrayContaining(['tables', 'order', 'cart', 'local', 'config', 'completion', 'help']));
    expect((await bashComplete(['shopdb', ''])).sort()).toEqual([...top].sort());
    for (const group of top) {
      const subs = commandsIn((await shopdb([group, '--help'])).stdout);
      // A command without subcommands (help, completion) completes its arguments instead: tested below.
      if (subs.length === 0) continue;
      expect((await bashComplete(['shopdb', group, ''])).sort(), group).toEqual([...subs].sort());
    }
  });

  it('completes a command from its prefix', async () => {
    expect(await bashComplete(['shopdb', 'or'])).toEqual(['order']);
    expect(await bashComplete(['shopdb', 'order', 'set-s'])).toEqual(['set-status']);
    expect(await bashComplete(['shopdb', 'tables', 'cr'])).toEqual(['create']);
  });

  it('options: those of the command and the global ones, at any position', async () => {
    const options = await bashComplete(['shopdb', 'order', 'set-status', '--']);
    expect(options).toEqual(expect.arrayContaining(['--expect', '--force', '--help', '--endpoint', '--table-prefix', '--json', '--cache', '--redis-url', '--no-color']));
    expect(options).not.toContain('--user');
    expect(await bashComplete(['shopdb', 'order', 'create', '--u'])).toEqual(['--user']);
    expect(await bashComplete(['shopdb', 'cart', 'add-product', 'c1', 'p1', '--q'])).toEqual(['--quantity']);
    expect(await bashComplete(['shopdb', '--table-p'])).toEqual(['--table-prefix']);
  });

  it('statuses for a status argument and --expect; --billing choices; shells for completion', async () => {
    expect(await bashComplete(['shopdb', 'order', 'set-status', 'o-1', ''])).toEqual(STATUSES);
    expect(await bashComplete(['shopdb', 'order', 'set-status', 'o-1', 'P'])).toEqual(['PENDING', 'PAID']);
    expect(await bashComplete(['shopdb', 'order', 'set-status', 'o-1', 'PAID', '--expect', ''])).toEqual(STATUSES);
    expect(await bashComplete(['shopdb', 'order', 'set-status', '--expect', 'S'])).toEqual(['SHIPPED']);
    expect(await bashComplete(['shopdb', 'tables', 'create', '--billing', ''])).toEqual(['provisioned', 'on-demand']);
    expect(await bashComplete(['shopdb', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
  });

  it('skips option values while finding the command, even a URL bash split at : and =', async () => {
    // bash hands `--endpoint=http://127.0.0.1:8000` over as --endpoint = http : //127.0.0.1 : 8000.
    const split = ['--endpoint', '=', 'http', ':', '//127.0.0.1', ':', '8000'];
    expect(await bashComplete(['shopdb', ...split, 'order', 'set-status', 'o-1', 'C'])).toEqual(['COMPLETED', 'CANCELLED']);
    expect(await bashComplete(['shopdb', '--table-prefix', 'order', 'or'])).toEqual(['order']);
    expect(await bashComplete(['shopdb', '--region', 'eu-west-1', 'ca'])).toEqual(['cart', 'cache']);
  });

  it('help completes command names, level by level', async () => {
    const top = await bashComplete(['shopdb', 'help', '']);
    expect(top).toEqual(expect.arrayContaining(['order', 'cart', 'tables']));
    expect(top).not.toContain('help');
    expect(await bashComplete(['shopdb', 'help', 'order', 'set'])).toEqual(['set-status']);
  });

  it('file names for an import file', async () => {
    const dir = mkdtempSync(join(work, 'files-'));
    writeFileSync(join(dir, 'orders.ndjson'), '');
    writeFileSync(join(dir, 'other.txt'), '');
    expect(await bashComplete(['shopdb', 'order', 'import', 'ord'], dir)).toEqual(['orders.ndjson']);
  });
});

describe.skipIf(!hasFish)('fish', () => {
  async function fishComplete(line: string): Promise<string[]> {
    const run = await execa('fish', ['--no-config', '-c', `source '${scripts.fish}'; complete -C '${line}'`], { reject: false, cwd: work });
    expect(run.stderr).toBe('');
    return String(run.stdout)
      .split('\n')
      .filter((entry) => entry !== '')
      .map((entry) => entry.split('\t')[0] ?? '');
  }

  it('parses (fish -n)', async () => {
    expect((await execa('fish', ['-n', scripts.fish ?? ''], { reject: false })).exitCode).toBe(0);
  });

  it('completes commands with their descriptions, statuses, choices and options', async () => {
    expect(await fishComplete('shopdb or')).toEqual(['order']);
    const run = await execa('fish', ['--no-config', '-c', `source '${scripts.fish}'; complete -C 'shopdb order '`]);
    expect(String(run.stdout)).toContain('set-status\tmove an order, or every order listed in a file');
    expect((await fishComplete('shopdb order set-status o-1 ')).sort()).toEqual([...STATUSES].sort());
    expect((await fishComplete('shopdb order set-status o-1 SHIPPED --expect ')).sort()).toEqual([...STATUSES].sort());
    expect((await fishComplete('shopdb tables create --billing ')).sort()).toEqual(['on-demand', 'provisioned']);
    expect(await fishComplete('shopdb order get x --st')).toEqual(['--strong']);
    expect(await fishComplete('shopdb help order set')).toEqual(['set-status']);
  });
});

describe.skipIf(!hasZsh)('zsh', () => {
  it('parses (zsh -n) and registers itself with compdef once compinit has run', async () => {
    expect((await execa('zsh', ['-n', scripts.zsh ?? ''], { reject: false })).exitCode).toBe(0);
    const run = await execa('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -D; source '${scripts.zsh}'; print -r -- "\${_comps[shopdb]}"`], { reject: false });
    expect(run.stderr).toBe('');
    expect(String(run.stdout).trim()).toBe('_shopdb');
  });

  it('its walker and candidates (shared with bash) run in zsh', async () => {
    const candidates = async (...words: string[]) => {
      const current = words.pop() ?? '';
      const args = words.map((word) => `'${word}'`).join(' ');
      const run = await execa('zsh', ['-f', '-c', `source '${scripts.zsh}'; _shopdb_walk ${args}; _shopdb_candidates '${current}'`], { reject: false });
      expect(run.stderr).toBe('');
      return String(run.stdout)
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('\t')[0]);
    };
    expect(await candidates('order', 'set-status', 'o-1', '')).toEqual(STATUSES);
    expect(await candidates('tables', 'create', '--billing', '')).toEqual(['provisioned', 'on-demand']);
    expect(await candidates('')).toEqual(expect.arrayContaining(['order', 'cart', 'tables', 'config', 'completion']));
    expect(await candidates('order', 'create', '--')).toEqual(expect.arrayContaining(['--user', '--amount', '--endpoint']));
  });
});
