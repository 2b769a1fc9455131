/**
 * `shopdb local start` run several times at once, as two terminals or a
 * script's loop do: exactly one engine runs, the state file names it, and
 * `local stop` leaves none behind.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { shopdb, type Run } from '../support/cli.js';

const CONCURRENT = 3;
const homes: string[] = [];

/** Java processes running our jar whose output goes to this home's log: the engines `local start` left running for it. */
function enginesOf(home: string): number[] {
  const log = join(home, 'dynamodb-local.log');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('DynamoDBLocal.jar')) continue;
      if (readlinkSync(`/proc/${entry}/fd/1`) === log) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to inspect.
    }
  }
  return pids;
}

function local(home: string, args: string[]): Promise<Run> {
  return shopdb(['local', ...args], { env: { SHOPDB_HOME: home }, timeoutMs: 120_000 });
}

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'shopdb-lifecycle-'));
  homes.push(home);
  return home;
}

afterEach(() => {
  // Whatever a failed test left running dies here, by pid.
  for (const home of homes.splice(0)) {
    for (const pid of enginesOf(home)) process.kill(pid, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
});

describe('concurrent local start', () => {
  it.each([
    ['a free port each (--port 0)', ['--port', '0']],
    ['one fixed port', ['--port', 'FIXED']],
  ])('%s: one engine, named by the state file, stopped by local stop', async (_label, options) => {
    const home = newHome();
    const port = String(await freePort());
    const args = ['start', '--in-memory', ...options.map((option) => (option === 'FIXED' ? port : option))];
    const runs = await Promise.all(Array.from({ length: CONCURRENT }, () => local(home, args)));

    for (const run of runs) expect(run.exitCode, run.stderr).toBe(0);
    const answers = runs.map((run) => run.json<{ result: string; pid: number }>());
    expect(answers.filter((answer) => answer.result === 'started')).toHaveLength(1);
    expect(answers.filter((answer) => answer.result === 'running')).toHaveLength(CONCURRENT - 1);
    expect(new Set(answers.map((answer) => answer.pid)).size).toBe(1);

    const engines = enginesOf(home);
    expect(engines).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(home, 'engine.json'), 'utf8')) as { pid: number };
    expect(state.pid).toBe(engines[0]);
    expect(answers[0]?.pid).toBe(engines[0]);

    const stopped = await local(home, ['stop']);
    expect(stopped.json()).toMatchObject({ result: 'stopped', pid: engines[0] });
    expect(enginesOf(home)).toEqual([]);
    expect(readdirSync(home).filter((name) => name.startsWith('engine.'))).toEqual([]);
  });
});

describe('local start against a running engine with other settings', () => {
  it('exits 4 naming the conflict and what runs; options left out accept it', async () => {
    const home = newHome();
    const port = await freePort();
    const started = await local(home, ['start', '--in-memory', '--port', String(port)]);
    expect(started.exitCode, started.stderr).toBe(0);
    const { pid } = started.json<{ pid: number }>();

    const otherPort = await local(home, ['start', '--in-memory', '--port', String(port + 1)]);
    expect(otherPort.exitCode).toBe(4);
    expect(otherPort.stderr).toContain(`already runs at http://127.0.0.1:${port} (pid ${pid}, port ${port}, in memory), but port ${port + 1} was asked`);
    expect(otherPort.stderr).toContain('shopdb local stop');

    const dataDir = join(home, 'data');
    const onDisk = await local(home, ['start', '--data-dir', dataDir]);
    expect(onDisk.exitCode).toBe(4);
    expect(onDisk.stderr).toContain(`but --data-dir ${dataDir} was asked`);

    // Nothing given, or the same: the running engine is fine.
    for (const args of [['start'], ['start', '--in-memory', '--port', String(port)], ['start', '--port', '0']]) {
      const again = await local(home, args);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.json()).toMatchObject({ result: 'running', pid });
    }
    expect(enginesOf(home)).toEqual([pid]);
    expect((await local(home, ['stop'])).exitCode).toBe(0);
    expect(enginesOf(home)).toEqual([]);
  });
});
