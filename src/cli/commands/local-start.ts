import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { badInput, ShopError } from '../../core/errors.js';
import { parsePositiveInteger } from '../../core/validate.js';
import { freePort, isEngineProcess, isPortInUse, spawnEngine, stopProcess, waitUntilReady } from '../../local/engine.js';
import { clearState, ensurePrivateDir, readState, resolveLocalPaths, withEngineLock, writeState, type EngineState } from '../../local/state.js';
import type { CommandContext } from '../context.js';

const DEFAULT_PORT = 8000;
/** A cold JVM on a busy 2-core machine can take several seconds. */
const READY_TIMEOUT_MS = 60_000;
/** Concurrent starts queue behind one another: a waiting one outlasts the one starting. */
export const ENGINE_LOCK = { waitMs: READY_TIMEOUT_MS + 30_000, staleMs: READY_TIMEOUT_MS + 60_000 };

interface StartOptions {
  port?: string | undefined;
  inMemory: boolean;
  dataDir?: string | undefined;
}

export async function localStart(ctx: CommandContext, options: StartOptions): Promise<void> {
  if (options.inMemory && options.dataDir !== undefined) throw badInput('data-dir', '--in-memory keeps no data on disk; use one or the other');
  const requestedPort = options.port === undefined ? DEFAULT_PORT : options.port === '0' ? 0 : parsePositiveInteger(options.port, 'port', 65535);
  const paths = resolveLocalPaths(ctx.env, homedir());

  // One start (or stop) at a time per state directory: exactly one engine runs, and the state names it.
  const outcome = await withEngineLock(paths.stateDir, ENGINE_LOCK, async () => {
    const running = readState(paths.stateDir);
    if (running && isEngineProcess(running.pid)) {
      checkCompatible(running, options, requestedPort);
      return { result: 'running' as const, state: running };
    }
    if (running) clearState(paths.stateDir);
    return { result: 'started' as const, state: await start(ctx, options, requestedPort, paths) };
  });
  await print(ctx, outcome.result, outcome.state);
}

async function start(ctx: CommandContext, options: StartOptions, requestedPort: number, paths: ReturnType<typeof resolveLocalPaths>): Promise<EngineState> {
  const port = requestedPort === 0 ? await freePort() : requestedPort;
  if (await isPortInUse(port)) {
    throw new ShopError('UNAVAILABLE', `port ${port} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one)`);
  }
  const dataDir = options.inMemory ? null : resolve(options.dataDir ?? paths.dataDir);
  if (dataDir !== null) ensurePrivateDir(dataDir);

  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawnEngine({ port, inMemory: options.inMemory, dataDir: dataDir ?? undefined, detached: true, logFile: paths.logFile, env: ctx.env });
  const spinner = ctx.out.spinner();
  spinner.update(`starting DynamoDB Local on ${endpoint}`);
  try {
    await waitUntilReady(endpoint, READY_TIMEOUT_MS, child, paths.logFile);
    // The answer may have come from another server that took the port meanwhile: only our engine, alive, is recorded.
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null || !isEngineProcess(child.pid)) {
      throw new ShopError('UNAVAILABLE', `DynamoDB Local exited right after ${endpoint} answered (another server on port ${port}?); see ${paths.logFile}`);
    }
  } catch (error) {
    if (child.pid !== undefined) await stopProcess(child.pid).catch(() => undefined);
    throw error;
  } finally {
    spinner.stop();
  }
  const state: EngineState = {
    pid: child.pid,
    port,
    endpoint,
    inMemory: options.inMemory,
    dataDir,
    logFile: paths.logFile,
    startedAt: new Date().toISOString(),
  };
  writeState(paths.stateDir, state);
  return state;
}

/** Options given explicitly must match the running engine; options left out accept whatever runs. */
function checkCompatible(running: EngineState, options: StartOptions, requestedPort: number): void {
  const conflicts: string[] = [];
  if (options.port !== undefined && requestedPort !== 0 && requestedPort !== running.port) conflicts.push(`port ${requestedPort} was asked`);
  if (options.inMemory && !running.inMemory) conflicts.push('--in-memory was asked');
  if (options.dataDir !== undefined) {
    const asked = resolve(options.dataDir);
    if (running.inMemory) conflicts.push(`--data-dir ${asked} was asked`);
    else if (running.dataDir !== asked) conflicts.push(`data in ${asked} was asked`);
  }
  if (conflicts.length === 0) return;
  throw new ShopError('CONFLICT', `DynamoDB Local already runs at ${running.endpoint} (pid ${running.pid}, port ${running.port}, ${describeStorage(running)}), but ${conflicts.join(' and ')}; nothing was started`, {
    hint: { kind: 'stop-local' },
  });
}

function describeStorage(state: EngineState): string {
  return state.inMemory ? 'in memory' : `data in ${state.dataDir}`;
}

async function print(ctx: CommandContext, result: 'started' | 'running', state: EngineState): Promise<void> {
  const exportLine = `export SHOPDB_ENDPOINT=${state.endpoint}`;
  await ctx.out.result({ result, ...state, export: exportLine }, (render) =>
    [
      render.done(`DynamoDB Local ${result === 'started' ? 'started' : 'is already running'} at ${state.endpoint} (pid ${state.pid}, ${describeStorage(state)})`),
      'Point shopdb at it with:',
      `  ${exportLine}`,
    ].join('\n'),
  );
}
