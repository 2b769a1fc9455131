/**
 * `shopdb cache follow` as a command: a table without a stream is a clear
 * error (exit 4, one line naming the table and `tables create`, nothing
 * created, nothing left running), also on dynalite (no streams at all);
 * SIGINT/SIGTERM/SIGHUP end it with exit 0 and its "stopped" result; it
 * behaves in a pipe; its lines under a real terminal at 80 and 50 columns;
 * bad option values are exit 2 naming the option.
 */
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3 } from '../support/boto3.js';
import { BIN, createTables, jsonError, shopdb, testEnv, uniquePrefix } from '../support/cli.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';
import { dynamoEndpoint } from '../support/endpoint.js';
import { killAllFollowers, redisEnv, startFollower, FOLLOWING } from '../support/follower.js';
import { displayWidth, STACK_LINE, stripAnsi } from '../support/pty.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const prefix = uniquePrefix('follow-cli');
let client: DynamoDBClient;

beforeAll(async () => {
  client = new DynamoDBClient({ endpoint: dynamoEndpoint(), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await createTables(prefix, { streams: true });
});

afterAll(async () => {
  await killAllFollowers();
  client?.destroy();
});

async function tablesOf(tablePrefix: string): Promise<string[]> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  return names.filter((name) => name.startsWith(tablePrefix)).sort();
}

/** `cache follow` expected to refuse at once: its run, checked to be one line, no trace. */
async function refused(tablePrefix: string, env: Record<string, string> = {}) {
  const started = Date.now();
  const run = await shopdb(['cache', 'follow', '--lease-seconds', '2'], { prefix: tablePrefix, env: { ...redisEnv(), ...env }, timeoutMs: 30_000 });
  expect(run.exitCode, run.stderr).toBe(4);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(STACK_LINE);
  expect(Date.now() - started).toBeLessThan(20_000);
  return jsonError(run);
}

describe('a table without a stream', () => {
  it('the original design’s tables (boto3 create_table): exit 4 naming the table and tables create; nothing created', async () => {
    const legacy = uniquePrefix('follow-nostream');
    await boto3([{ op: 'create_tables', prefix: legacy }]);
    const error = await refused(legacy);
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain(`${legacy}EcommerceOrders`);
    expect(error.message).toContain('has no stream');
    expect(error.message).toContain('tables create');
    // No lease table was made, nothing else either.
    expect(await tablesOf(legacy)).toEqual([`${legacy}EcommerceCarts`, `${legacy}EcommerceOrders`]);
  });

  it('a stream disabled with UpdateTable on one table (carts): the error names that table', async () => {
    const off = uniquePrefix('follow-streamoff');
    await createTables(off, { streams: true });
    await client.send(new UpdateTableCommand({ TableName: `${off}EcommerceCarts`, StreamSpecification: { StreamEnabled: false } }));
    const error = await refused(off);
    expect(error.message).toContain(`${off}EcommerceCarts`);
    expect(error.message).not.toContain(`${off}EcommerceOrders`);
    expect(error.message).toContain('tables create');
    expect(await tablesOf(off)).not.toContain(`${off}EcommerceCacheFollowerLeases`);
    // As the message says: tables create turns it back on, and the follower then starts.
    expect((await shopdb(['tables', 'create'], { prefix: off })).exitCode).toBe(0);
    const follower = await startFollower(off);
    expect((await follower.stop('SIGTERM')).exitCode).toBe(0);
  });

  it('a table missing altogether is a clear error too, not a start', async () => {
    const none = uniquePrefix('follow-notables');
    await client.send(
      new CreateTableCommand({
        TableName: `${none}EcommerceOrders`,
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const run = await shopdb(['cache', 'follow'], { prefix: none, env: redisEnv() });
    expect(run.exitCode, run.stderr).not.toBe(0);
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(jsonError(run).message).toContain(`${none}EcommerceCarts`);
  });

  describe('on dynalite (no streams at all)', () => {
    let dynalite: RunningDynalite | undefined;
    beforeAll(async () => {
      dynalite = await startDynalite({ createTableMs: 0, deleteTableMs: 0 });
    });
    afterAll(async () => {
      await dynalite?.stop();
    });

    it('tables create there, then cache follow: exit 4 with the same clear line', async () => {
      const env = { SHOPDB_ENDPOINT: dynalite?.endpoint ?? '' };
      const created = await shopdb(['tables', 'create'], { prefix, env });
      expect(created.exitCode, created.stderr).toBe(0);
      const error = await refused(prefix, env);
      expect(error.code).toBe('SCHEMA_MISMATCH');
      expect(error.message).toContain(`${prefix}EcommerceOrders`);
      expect(error.message).toContain(dynalite?.endpoint ?? '');
      expect(error.message).toContain('no stream');
    });
  });
});

describe('signals and pipes', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal}: exit 0, the stopping line, the stopped result`, async () => {
      const follower = await startFollower(prefix);
      const stopped = await follower.stop(signal);
      expect(stopped.signal).toBeNull();
      expect(stopped.exitCode, stopped.stderr).toBe(0);
      expect(stopped.ms).toBeLessThan(5_000);
      expect(stopped.stderr).toContain(`stopping (${signal}): finishing the batch in hand, releasing the leases`);
      expect(stopped.stderr).not.toMatch(STACK_LINE);
      const lines = stopped.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? '')).toMatchObject({ result: 'stopped', records: 0, errors: 0 });
    });
  }

  /** `bash -c <pipeline>` with shopdb in it; resolves the shopdb process's pid once it logs "following". */
  async function pipeline(command: string) {
    const env = { ...process.env, ...testEnv(prefix, redisEnv()) };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const child = spawn('bash', ['-c', `${command}; echo "status \${PIPESTATUS[*]}"`], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const started = Date.now();
    while (!FOLLOWING.test(err)) {
      if (Date.now() - started > 30_000) throw new Error(`not following:\n${err}`);
      await sleep(50);
    }
    const ps = await execa('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)]);
    const pid = Number(
      String(ps.stdout)
        .split('\n')
        .find((line) => line.includes('cache follow'))
        ?.trim()
        .split(/\s+/)[0],
    );
    expect(pid).toBeGreaterThan(0);
    return { pid, exited, out: () => out, err: () => err, kill: () => child.kill('SIGKILL') };
  }

  it('cache follow --json | head -1: the stopped line reaches head, both exit 0', async () => {
    const run = await pipeline(`'${BIN}' cache follow --json --lease-seconds 2 | head -1`);
    process.kill(run.pid, 'SIGINT');
    const done = await Promise.race([run.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!done) run.kill();
    expect(done, run.err()).toBe(true);
    const [line, status] = run.out().trim().split('\n');
    expect(JSON.parse(line ?? '')).toMatchObject({ result: 'stopped' });
    expect(status).toBe('status 0 0');
    expect(run.err()).not.toMatch(STACK_LINE);
  });

  it('cache follow --json | true (the reader gone before any output): a signal still ends it cleanly, no EPIPE trace', async () => {
    const run = await pipeline(`'${BIN}' cache follow --json --lease-seconds 2 | true`);
    await sleep(300);
    process.kill(run.pid, 'SIGTERM');
    const done = await Promise.race([run.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!done) run.kill();
    expect(done, run.err()).toBe(true);
    expect(run.err()).not.toMatch(STACK_LINE);
    expect(run.err()).not.toMatch(/EPIPE|Unhandled|Error:/);
    expect(run.out().trim()).toMatch(/^status \d+ 0$/);
  });
});

describe('under a terminal', () => {
  for (const columns of [80, 50]) {
    it(`at ${columns} columns: the log and the ✓ line fit, no escapes left`, async () => {
      const command = `stty cols ${columns} rows 40 && exec timeout --preserve-status -s INT 4 '${BIN}' cache follow --lease-seconds 2 --report-seconds 1`;
      const env = { ...testEnv(prefix, redisEnv()), SHELL: '/bin/sh', TERM: 'xterm-256color', NO_COLOR: undefined, FORCE_COLOR: undefined, COLUMNS: undefined, SHOPDB_OUTPUT: undefined };
      const result = await execa('script', ['-qec', command, '/dev/null'], { reject: false, stdin: 'ignore', timeout: 30_000, env, extendEnv: true });
      expect(result.exitCode, String(result.stdout)).toBe(0);
      const lines = stripAnsi(String(result.stdout).replace(/\r\n/g, '\n')).split('\n').filter((line) => line.trim() !== '');
      const text = lines.join('\n');
      expect(text).toMatch(/following/);
      expect(text).toMatch(/applied 0 records/);
      expect(text).toMatch(/✓ Stopped following: 0 records applied, 0 errors/);
      expect(text).not.toMatch(STACK_LINE);
      // The quality bar: human output fits the terminal. The ✓ line does; each log line must too.
      const over = lines.filter((line) => displayWidth(line) > columns);
      expect(over, `lines wider than ${columns} columns:\n${over.join('\n')}`).toEqual([]);
    });
  }
});

describe('bad option values', () => {
  for (const [option, value] of [
    ['--lease-seconds', '0'],
    ['--lease-seconds', 'abc'],
    ['--lease-seconds', '99999'],
    ['--lease-seconds', '1.5'],
    ['--report-seconds', '-1'],
    ['--report-seconds', '0'],
  ] as const) {
    it(`${option} ${value}: exit 2, one line naming the option, nothing started`, async () => {
      const run = await shopdb(['cache', 'follow', `${option}=${value}`], { prefix, env: redisEnv() });
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      const error = jsonError(run);
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain(option.slice(2));
      expect(error.message).toContain(JSON.stringify(value));
      expect(run.stderr).not.toContain('following');
    });
  }

  it('--report-seconds -1 as two words is read the same (not as an unknown option)', async () => {
    const run = await shopdb(['cache', 'follow', '--report-seconds', '-1'], { prefix, env: redisEnv() });
    expect(run.exitCode, run.stderr).toBe(2);
    expect(jsonError(run).message).toContain('report-seconds');
  });
});
