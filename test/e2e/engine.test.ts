import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { isShopError } from '../../src/core/errors.js';
import {
  freePort,
  isEngineProcess,
  isPortInUse,
  locateJar,
  spawnEngine,
  stopProcess,
  waitUntilReady,
} from '../../src/local/engine.js';

const START_TIMEOUT_MS = 30_000;

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('DynamoDB Local engine', () => {
  const started: ChildProcess[] = [];
  const cleanups: (() => void)[] = [];

  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('finds the jar and its native libraries in the installed package', () => {
    const { jar, libDir } = locateJar();
    expect(jar).toMatch(/dynamodb_local_[^/]+\/DynamoDBLocal\.jar$/);
    expect(existsSync(jar)).toBe(true);
    expect(statSync(libDir).isDirectory()).toBe(true);
  });

  it('the shared engine from the global setup is answering', async () => {
    const endpoint = inject('dynamoEndpoint');
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(waitUntilReady(endpoint, 2000)).resolves.toBeUndefined();
  });

  it('starts a second in-memory engine, recognises it, and stops it', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    expect(await isPortInUse(port)).toBe(false);

    const child = spawnEngine({ port, inMemory: true, detached: false, env: process.env });
    started.push(child);
    const pid = child.pid as number;
    await waitUntilReady(endpoint, START_TIMEOUT_MS, child);

    expect(isEngineProcess(pid)).toBe(true);
    expect(await isPortInUse(port)).toBe(true);

    const exited = once(child, 'exit');
    await stopProcess(pid);
    await exited;
    expect(isEngineProcess(pid)).toBe(false);
    expect(await isPortInUse(port)).toBe(false);
  }, START_TIMEOUT_MS + 10_000);

  it('runs a detached engine whose output goes to a private log file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdb-engine-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = join(dir, 'dynamodb-local.log');
    const port = await freePort();

    const child = spawnEngine({ port, inMemory: false, dataDir: dir, detached: true, logFile, env: process.env });
    started.push(child);
    await waitUntilReady(`http://127.0.0.1:${port}`, START_TIMEOUT_MS, child, logFile);

    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(logFile, 'utf8')).toContain(`Port:\t${port}`);
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).toContain(dir);
    await stopProcess(child.pid as number);
    expect(isEngineProcess(child.pid as number)).toBe(false);
  }, START_TIMEOUT_MS + 10_000);

  it('fails at once with the exit code and the Java reason when the engine cannot bind its port', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => squatter.close());
    const { port } = squatter.address() as { port: number };

    const child = spawnEngine({ port, inMemory: true, detached: false, env: process.env });
    started.push(child);
    const startedAt = Date.now();
    const error = await rejectionOf(waitUntilReady(`http://127.0.0.1:${port}`, START_TIMEOUT_MS, child));

    // The squatter accepts connections but never answers HTTP, so only the exit can end the wait early.
    expect(Date.now() - startedAt).toBeLessThan(START_TIMEOUT_MS / 2);
    expect(isShopError(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('exited with code 1');
    expect((error as Error).message).toContain('Address already in use');
    expect((error as Error).message).not.toMatch(/^\s+at /m);
  }, START_TIMEOUT_MS);

  it('gives up on a closed port with UNAVAILABLE once the timeout has passed', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const startedAt = Date.now();
    const error = await rejectionOf(waitUntilReady(endpoint, 400));
    const elapsed = Date.now() - startedAt;

    expect(isShopError(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(endpoint);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1500);
  });

  it('never mistakes an unrelated or impossible pid for the engine', () => {
    expect(isEngineProcess(process.pid)).toBe(false);
    expect(isEngineProcess(0)).toBe(false);
    expect(isEngineProcess(-1)).toBe(false);
  });

  it('refuses to signal process groups', async () => {
    const error = await rejectionOf(stopProcess(0));
    expect(isShopError(error, 'BAD_INPUT')).toBe(true);
  });
});
