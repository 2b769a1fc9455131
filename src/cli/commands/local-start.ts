import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { badInput, ShopError } from '../../core/errors.js';
import { parsePositiveInteger } from '../../core/validate.js';
import { freePort, isEngineProcess, isPortInUse, spawnEngine, stopProcess, waitUntilReady } from '../../local/engine.js';
import { clearState, ensurePrivateDir, readState, resolveLocalPaths, writeState, type EngineState } from '../../local/state.js';
import type { CommandContext } from '../context.js';

const DEFAULT_PORT = 8000;
/** A cold JVM on a busy 2-core machine can take several seconds. */
const READY_TIMEOUT_MS = 60_000;

export async function localStart(ctx: CommandContext, options: { port?: string | undefined; inMemory: boolean; dataDir?: string | undefined }): Promise<void> {
  if (options.inMemory && options.dataDir !== undefined) throw badInput('data-dir', '--in-memory keeps no data on disk; use one or the other');
  const requestedPort = options.port === undefined ? DEFAULT_PORT : options.port === '0' ? 0 : parsePositiveInteger(options.port, 'port', 65535);
  const paths = resolveLocalPaths(ctx.env, homedir());

  const running = readState(paths.stateDir);
  if (running && isEngineProcess(running.pid)) {
    await print(ctx, 'running', running);
    return;
  }
  if (running) clearState(paths.stateDir);

  const port = requestedPort === 0 ? await freePort() : requestedPort;
  if (await isPortInUse(port)) {
    throw new ShopError('UNAVAILABLE', `port ${port} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one)`);
  }
  const dataDir = options.inMemory ? null : resolve(options.dataDir ?? paths.dataDir);
  if (dataDir !== null) ensurePrivateDir(dataDir);
  ensurePrivateDir(paths.stateDir);

  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawnEngine({ port, inMemory: options.inMemory, dataDir: dataDir ?? undefined, detached: true, logFile: paths.logFile, env: ctx.env });
  const spinner = ctx.out.spinner();
  spinner.update(`starting DynamoDB Local on ${endpoint}`);
  try {
    await waitUntilReady(endpoint, READY_TIMEOUT_MS, child, paths.logFile);
  } catch (error) {
    if (child.pid !== undefined) await stopProcess(child.pid).catch(() => undefined);
    throw error;
  } finally {
    spinner.stop();
  }
  const state: EngineState = {
    pid: child.pid ?? 0,
    port,
    endpoint,
    inMemory: options.inMemory,
    dataDir,
    logFile: paths.logFile,
    startedAt: new Date().toISOString(),
  };
  writeState(paths.stateDir, state);
  await print(ctx, 'started', state);
}

async function print(ctx: CommandContext, result: 'started' | 'running', state: EngineState): Promise<void> {
  const exportLine = `export SHOPDB_ENDPOINT=${state.endpoint}`;
  await ctx.out.result({ result, ...state, export: exportLine }, (render) =>
    [
      render.done(`DynamoDB Local ${result === 'started' ? 'started' : 'is already running'} at ${state.endpoint} (pid ${state.pid}, ${state.inMemory ? 'in memory' : `data in ${state.dataDir}`})`),
      'Point shopdb at it with:',
      `  ${exportLine}`,
    ].join('\n'),
  );
}
