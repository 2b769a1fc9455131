import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { badInput, ShopError } from '../../core/errors.js';
import { belongsToHome, freePort, isEngineProcess, isPortInUse, killNow, listensOn, spawnEngine, stopProcess, waitUntilReady } from '../../local/engine.js';
import { checkStateDir, clearState, ensurePrivateDir, readState, resolveLocalPaths, withEngineLock, writeState, type EngineState, type LocalPaths } from '../../local/state.js';
import { Interrupted, isStopSignal, type CommandContext } from '../context.js';

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
  const requestedPort = options.port === undefined ? DEFAULT_PORT : parsePort(options.port);
  const paths = resolveLocalPaths(ctx.env, homedir());
  checkStateDir(paths);
  // A signal must not leave the engine being started behind, unrecorded: this command handles it itself.
  ctx.stopsGracefully();
  const interrupt = signalsOnly(ctx.signal);

  // One start (or stop) at a time per state directory: exactly one engine runs, and the state names it.
  const outcome = await withEngineLock(paths.stateDir, { ...ENGINE_LOCK, signal: interrupt }, async () => {
    if (interrupt.aborted) throw new Interrupted('; nothing was started');
    const running = readState(paths.stateDir);
    if (running && isEngineProcess(running.pid)) {
      assertOwnEngine(running, paths);
      checkCompatible(running, options, requestedPort);
      return { result: 'running' as const, state: running };
    }
    if (running) clearState(paths.stateDir);
    return { result: 'started' as const, state: await start(ctx, options, requestedPort, paths, interrupt) };
  });
  const interrupted = interrupt.aborted && outcome.result === 'started';
  await print(ctx, outcome.result, outcome.state, interrupted);
  // The engine answered before the signal could stop it: it is recorded (above) and keeps running.
  if (interrupted) {
    throw new Interrupted(`; DynamoDB Local had already started at ${outcome.state.endpoint} (pid ${outcome.state.pid}) and keeps running: shopdb local stop stops it`);
  }
}

/** Aborts on a signal only: a reader closing stdout does not stop an engine from starting. */
function signalsOnly(signal: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const check = () => {
    if (isStopSignal(signal.reason)) controller.abort(signal.reason);
  };
  if (signal.aborted) check();
  else signal.addEventListener('abort', check, { once: true });
  return controller.signal;
}

/**
 * The recorded engine must have been started for this state directory: a
 * state file copied from another home names another home's engine, which
 * shopdb must neither stop nor report as its own.
 */
export function assertOwnEngine(state: EngineState, paths: LocalPaths): void {
  if (belongsToHome(state.pid, paths.stateDir, paths.logFile)) return;
  throw new ShopError(
    'CONFLICT',
    `${paths.stateFile} names pid ${state.pid}, a DynamoDB Local that was not started for ${paths.stateDir} (a state file copied from another SHOPDB_HOME?); it was left alone. Stop it with the SHOPDB_HOME it was started with, or delete ${paths.stateFile} if it is stale`,
  );
}

async function start(ctx: CommandContext, options: StartOptions, requestedPort: number, paths: LocalPaths, interrupt: AbortSignal): Promise<EngineState> {
  const port = requestedPort === 0 ? await freePort() : requestedPort;
  if (await isPortInUse(port)) {
    throw new ShopError('UNAVAILABLE', `port ${port} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one)`);
  }
  const dataDir = options.inMemory ? null : resolve(options.dataDir ?? paths.dataDir);
  if (dataDir !== null) ensurePrivateDir(dataDir);

  const endpoint = `http://127.0.0.1:${port}`;
  if (interrupt.aborted) throw new Interrupted('; nothing was started');
  const child = spawnEngine({ port, inMemory: options.inMemory, dataDir: dataDir ?? undefined, detached: true, logFile: paths.logFile, env: ctx.env, home: paths.stateDir });
  const { pid } = child;
  // A second signal exits on the spot: the engine, not yet recorded, goes with it.
  const unregister = pid === undefined ? () => {} : ctx.onExit(() => killNow(pid));
  const spinner = ctx.out.spinner();
  spinner.update(`starting DynamoDB Local on ${endpoint}`);
  try {
    const ready = waitUntilReady(endpoint, READY_TIMEOUT_MS, child, paths.logFile);
    // Settles (rejects) once the engine is stopped below, whoever won the race.
    ready.catch(() => {});
    await Promise.race([ready, untilAborted(interrupt)]);
    if (interrupt.aborted) throw new Interrupted('; the DynamoDB Local being started was stopped, nothing was started');
    // The answer may have come from another server that took the port meanwhile: only our engine, alive and listening, is recorded.
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null || !isEngineProcess(pid)) {
      throw new ShopError('UNAVAILABLE', `DynamoDB Local exited right after ${endpoint} answered: port ${port} is in use by another process; choose another with --port (0 picks a free one); see ${paths.logFile}`);
    }
    if (listensOn(pid, port) === false) {
      throw new ShopError('UNAVAILABLE', `port ${port} answered, but not from the DynamoDB Local just started (pid ${pid}): port ${port} is in use by another process; choose another with --port (0 picks a free one); nothing was started`);
    }
  } catch (error) {
    if (pid !== undefined) await stopProcess(pid).catch(() => killNow(pid));
    throw error;
  } finally {
    spinner.stop();
    unregister();
  }
  const state: EngineState = {
    pid,
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

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
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

/** `interrupted`: a signal came after the engine answered; the run then ends with the signal's code, so no green tick. */
async function print(ctx: CommandContext, result: 'started' | 'running', state: EngineState, interrupted: boolean): Promise<void> {
  const exportLine = `export SHOPDB_ENDPOINT=${state.endpoint}`;
  await ctx.out.result({ result, ...state, export: exportLine }, (render) =>
    [
      (interrupted ? render.partial.bind(render) : render.done.bind(render))(
        `DynamoDB Local ${result === 'started' ? 'started' : 'is already running'} at ${state.endpoint} (pid ${state.pid}, ${describeStorage(state)})`,
      ),
      'Point shopdb at it with:',
      `  ${exportLine}`,
    ].join('\n'),
  );
}

function parsePort(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw badInput('port', `${JSON.stringify(text)} is not a port; use 0 (any free port) or 1 to 65535`);
  return Number(text);
}
