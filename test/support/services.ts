/**
 * Vitest global setup: one in-memory DynamoDB Local and one redis-server for
 * the whole run, shared by every test file through inject(). The project
 * named "cluster" (vitest.config.ts) runs the cache files again against a
 * 3-master Redis Cluster: its redisUrl is the cluster's seed node, and
 * redisCluster tells the helpers (test/support/redis-target.ts) to use
 * cluster mode. Vitest calls this once per project: the services are started
 * once, and stopped when the last project is done.
 */
import type { ChildProcess } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { startCluster, type RunningCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    redisUrl: string;
    redisPort: number;
    /** redisUrl is the seed node of a Redis Cluster (the "cluster" project). */
    redisCluster: boolean;
  }
}

// Generous: a loaded CI machine can take several seconds to boot the JVM.
const READY_TIMEOUT_MS = 30_000;
const ABRUPT_END_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Services {
  dynamo: { endpoint: string };
  redis: RunningRedis;
  cluster(): Promise<RunningCluster>;
  stop(): Promise<void>;
}

/** Shared by the projects' calls, which load this module once each. */
const shared = globalThis as { shopdbServices?: Promise<Services>; shopdbServiceUsers?: number };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  shared.shopdbServiceUsers = (shared.shopdbServiceUsers ?? 0) + 1;
  shared.shopdbServices ??= startServices();
  const release = async () => {
    shared.shopdbServiceUsers = (shared.shopdbServiceUsers ?? 1) - 1;
    if (shared.shopdbServiceUsers > 0) return;
    const services = shared.shopdbServices;
    shared.shopdbServices = undefined;
    await services?.then((running) => running.stop(), () => {});
  };
  try {
    const services = await shared.shopdbServices;
    project.provide('dynamoEndpoint', services.dynamo.endpoint);
    if (project.name === 'cluster') {
      const cluster = await services.cluster();
      project.provide('redisUrl', cluster.url);
      project.provide('redisPort', Number(new URL(cluster.url).port));
      project.provide('redisCluster', true);
    } else {
      project.provide('redisUrl', services.redis.url);
      project.provide('redisPort', services.redis.port);
      project.provide('redisCluster', false);
    }
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

async function startServices(): Promise<Services> {
  const killOnAbruptEnd = new Set<() => void>();
  const removeEmergencyHandlers = installEmergencyHandlers(killOnAbruptEnd);

  const [dynamo, redis] = await Promise.allSettled([
    startDynamo(killOnAbruptEnd),
    startRedisOnFreePort(killOnAbruptEnd),
  ]);
  let cluster: Promise<RunningCluster> | undefined;

  const teardown = async () => {
    await Promise.allSettled([
      dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined,
      redis.status === 'fulfilled' ? redis.value.stop() : undefined,
      cluster?.then((running) => running.stop()),
    ]);
    removeEmergencyHandlers();
  };

  if (dynamo.status === 'rejected' || redis.status === 'rejected') {
    await teardown();
    throw dynamo.status === 'rejected' ? dynamo.reason : (redis as PromiseRejectedResult).reason;
  }

  return {
    dynamo: dynamo.value,
    redis: redis.value,
    // Started by the first project that asks for it: a run of the default project alone never does.
    cluster: () => {
      cluster ??= startCluster().then((running) => {
        killOnAbruptEnd.add(running.kill);
        return running;
      });
      return cluster;
    },
    stop: teardown,
  };
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
