/**
 * A second, independent DynamoDB implementation (npm dynalite, in memory) for
 * one test file, slow to create and delete tables the way AWS is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { freePort, waitUntilReady } from '../../src/local/engine.js';

export interface RunningDynalite {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startDynalite(options: { createTableMs: number; deleteTableMs: number; updateTableMs?: number }): Promise<RunningDynalite> {
  const cli = join(dirname(createRequire(import.meta.url).resolve('dynalite/package.json')), 'cli.js');
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, '--port', String(port), '--createTableMs', String(options.createTableMs), '--deleteTableMs', String(options.deleteTableMs), '--updateTableMs', String(options.updateTableMs ?? options.createTableMs)],
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, 20_000, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
