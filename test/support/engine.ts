import type { ChildProcess } from 'node:child_process';
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../../src/local/engine.js';

export interface TestEngine {
  endpoint: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A DynamoDB Local of a test's own: freshly started (cold), or on disk so it can be killed and restarted. */
export async function startTestEngine(options: { port?: number; dataDir?: string } = {}): Promise<TestEngine> {
  const port = options.port ?? (await freePort());
  const child = spawnEngine({ port, inMemory: options.dataDir === undefined, dataDir: options.dataDir, detached: false, env: process.env });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) await stopProcess(child.pid);
  };
  // An orphaned java would keep its port: make sure it dies with the test process.
  process.once('exit', () => child.kill('SIGKILL'));
  try {
    await waitUntilReady(endpoint, 60_000, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, child, stop };
}
