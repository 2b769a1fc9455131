/**
 * `shopdb local start` run several times at once, as two terminals or a
 * script's loop do: exactly one engine runs, the state file names it, and
 * `local stop` leaves none behind.
 */
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { BIN, shopdb, testEnv, type Run } from '../support/cli.js';

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

/** Starts `local start` in the background, for a test that acts while it runs. */
function startInBackground(home: string, args: string[]) {
  return execa(BIN, ['local', 'start', ...args], { reject: false, timeout: 120_000, env: testEnv(undefined, { SHOPDB_HOME: home }), extendEnv: true });
}

/** Polls until the engine `local start` spawned for `home` exists; fails (never by timing) after a generous bound. */
async function spawnedEngine(home: string): Promise<number> {
  for (let i = 0; i < 2400; i++) {
    const [pid] = enginesOf(home);
    if (pid !== undefined) return pid;
    await sleep(25);
  }
  throw new Error('local start never spawned an engine');
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

describe('a signal during local start', () => {
  it.each([
    ['SIGINT', 130, 1],
    ['SIGTERM', 143, 1],
    ['SIGHUP', 129, 1],
    ['SIGINT', 130, 2],
  ] as const)('%s (%i) while the engine boots (%i signals): the engine it spawned is stopped, none is orphaned', async (signal, code, times) => {
    const home = newHome();
    const port = await freePort();
    const run = startInBackground(home, ['--in-memory', '--port', String(port)]);
    await spawnedEngine(home);
    for (let i = 0; i < times; i++) run.kill(signal);
    const result = await run;
    expect(result.exitCode, String(result.stderr)).toBe(code);
    // The second signal exits on the spot, without a word; the first says why.
    if (times === 1) expect(String(result.stderr)).toContain(`interrupted by ${signal}`);
    // Gone by the time shopdb has exited: nothing holds the port, nothing is recorded.
    expect(enginesOf(home)).toEqual([]);
    expect(existsSync(join(home, 'engine.json'))).toBe(false);
    const status = await local(home, ['status']);
    expect(status.exitCode).toBe(3);
    const again = await local(home, ['start', '--in-memory', '--port', String(port)]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ result: 'started', port });
    expect((await local(home, ['stop'])).exitCode).toBe(0);
  });
});

describe('another server takes the port while the engine boots', () => {
  it('exits 5 naming the port in use; its own engine (dead on bind) is not recorded, none left', async () => {
    const home = newHome();
    const port = await freePort();
    const run = startInBackground(home, ['--in-memory', '--port', String(port)]);
    await spawnedEngine(home);
    // The JVM takes a second or more to bind: this server gets the port first and answers the readiness poll.
    const intruder = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve, reject) => {
      intruder.once('error', reject);
      intruder.listen(port, '127.0.0.1', resolve);
    });
    try {
      const result = await run;
      expect(result.exitCode, String(result.stdout)).toBe(5);
      expect(String(result.stderr)).toContain(`port ${port} is in use by another process`);
      expect(String(result.stdout)).toBe('');
      expect(existsSync(join(home, 'engine.json'))).toBe(false);
      expect(enginesOf(home)).toEqual([]);
    } finally {
      intruder.closeAllConnections();
      await new Promise((resolve) => intruder.close(resolve));
    }
  });
});

describe('the state file names this home\'s engine only', () => {
  it('a state file copied from another home: stop and status refuse (exit 4), the other engine keeps running', async () => {
    const owner = newHome();
    const other = newHome();
    const started = await local(owner, ['start', '--in-memory', '--port', '0']);
    expect(started.exitCode, started.stderr).toBe(0);
    const { pid } = started.json<{ pid: number }>();
    copyFileSync(join(owner, 'engine.json'), join(other, 'engine.json'));

    for (const command of ['stop', 'status', 'start']) {
      const refused = await local(other, [command]);
      expect(refused.exitCode, `${command}: ${refused.stderr}`).toBe(4);
      expect(refused.stderr).toContain(`names pid ${pid}, a DynamoDB Local that was not started for ${other}`);
    }
    expect(enginesOf(owner)).toEqual([pid]);
    expect((await local(owner, ['status'])).exitCode).toBe(0);
    expect((await local(owner, ['stop'])).json()).toMatchObject({ result: 'stopped', pid });
  });

  it('SHOPDB_HOME naming a file: exit 2 naming SHOPDB_HOME, for every local command', async () => {
    const root = newHome();
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    mkdirSync(join(root, 'dir'));
    for (const home of [file, join(file, 'below')]) {
      for (const command of ['start', 'status', 'stop']) {
        const run = await local(home, [command, ...(command === 'start' ? ['--in-memory', '--port', '0'] : [])]);
        expect(run.exitCode, `${command}: ${run.stderr}`).toBe(2);
        expect(run.stderr).toContain(`SHOPDB_HOME: ${home} is not a directory`);
        expect(run.stderr).not.toContain('please report');
      }
    }
  });

  it('--data-dir naming a file (or below one): exit 2 naming data-dir, no engine started', async () => {
    const root = newHome();
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    for (const dataDir of [file, join(file, 'below')]) {
      const run = await local(join(root, 'home'), ['start', '--data-dir', dataDir, '--port', '0']);
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toContain(`data-dir: ${dataDir}`);
      expect(run.stderr).not.toContain('please report');
      expect(enginesOf(join(root, 'home'))).toEqual([]);
    }
  });
});
