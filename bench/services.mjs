/**
 * What a bench section that runs shopdb against real services starts: an
 * in-memory DynamoDB Local and a redis-server on free ports, and a set of
 * child processes killed (with both services) if the section exits early.
 */
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../dist/local/engine.js';
import { startRedis } from '../dist/local/redis-server.js';

export async function startServices() {
  const children = new Set();
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const enginePort = await freePort();
  const engine = spawnEngine({ port: enginePort, inMemory: true, detached: false, env: process.env });
  children.add(engine);
  const endpoint = `http://127.0.0.1:${enginePort}`;
  const redis = await startRedis({ port: await freePort() });
  process.on('exit', () => redis.kill());
  await waitUntilReady(endpoint, 60_000, engine);
  return {
    children,
    engine,
    endpoint,
    redis,
    stop: async () => {
      await redis.stop();
      await stopProcess(engine.pid);
    },
  };
}
