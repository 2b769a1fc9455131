/**
 * Vitest global setup: one in-memory DynamoDB Local and one redis-server for
 * the whole run, shared by every test file through inject().
 */
import type { ChildProcess } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    redisUrl: string;
    redisPort: number;
  }
}

// Generous: a loaded CI machine can take several seconds to boot the JVM.
const READY_TIMEOUT_MS = 30_000;
const ABRUPT_END_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const killOnAbruptEnd = new Set<() => void>();
  const removeEmergencyHandlers = installEmergencyHandlers(killOnAbruptEnd);

  const [dynamo, redis] = await Promise.allSettled([
    startDynamo(killOnAbruptEnd),
    startRedisOnFreePort(killOnAbruptEnd),
  ]);

  const teardown = async () => {
    await Promise.allSettled([
      dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined,
      redis.status === 'fulfilled' ? redis.value.stop() : undefined,
    ]);
    removeEmergencyHandlers();
  };

  if (dynamo.status === 'rejected' || redis.status === 'rejected') {
    await teardown();
    throw dynamo.status === 'rejected' ? dynamo.reason : (redis as PromiseRejectedResult).reason;
  }

  project.provide('dynamoEndpoint', dynamo.value.endpoint);
  project.provide('redisUrl', redis.value.url);
  project.provide('redisPort', redis.value.port);
  return teardown;
}

async function startDynamo(killOnAbruptEnd: Set<() => void>) {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawnEngine({ port, inMemory: true, detached: false, env: process.env });
  const kill = () => killChild(child);
  killOnAbruptEnd.add(kill);
  try {
    await waitUntilReady(endpoint, READY_TIMEOUT_MS, child);
  } catch (error) {
    kill();
    throw error;
  }
  return {
    endpoint,
    stop: async () => {
      if (child.pid !== undefined) await stopProcess(child.pid);
      killOnAbruptEnd.delete(kill);
    },
  };
}

async function startRedisOnFreePort(killOnAbruptEnd: Set<() => void>): Promise<RunningRedis> {
  const redis = await startRedis({ port: await freePort() });
  const kill = () => redis.kill();
  killOnAbruptEnd.add(kill);
  return {
    ...redis,
    stop: async () => {
      await redis.stop();
      killOnAbruptEnd.delete(kill);
    },
  };
}

function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * If vitest dies without running teardown, an orphaned java would keep its
 * port (and memory) forever, so SIGKILL the children synchronously on the way out.
 */
function installEmergencyHandlers(killOnAbruptEnd: Set<() => void>): () => void {
  const killAll = () => {
    for (const kill of killOnAbruptEnd) kill();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    removeHandlers();
    // Nobody else handles this signal: re-raise it so the default (terminate) still happens.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const removeHandlers = () => {
    process.off('exit', killAll);
    for (const signal of ABRUPT_END_SIGNALS) process.off(signal, onSignal);
  };
  process.on('exit', killAll);
  for (const signal of ABRUPT_END_SIGNALS) process.on(signal, onSignal);
  return removeHandlers;
}
