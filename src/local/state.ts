/**
 * Per-user bookkeeping for `shopdb local`: where the engine's state, log and
 * data live, and the record of the engine that is currently running.
 * Callers pass the environment in, so this module never reads process.env.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShopError } from '../core/errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface LocalPaths {
  stateDir: string;
  /** Default persistence directory for a non-in-memory engine. */
  dataDir: string;
  stateFile: string;
  logFile: string;
  /** What set stateDir, for messages: SHOPDB_HOME, XDG_STATE_HOME or HOME. */
  stateDirFrom: 'SHOPDB_HOME' | 'XDG_STATE_HOME' | 'HOME';
}

export interface EngineState {
  pid: number;
  port: number;
  endpoint: string;
  inMemory: boolean;
  /** null when the engine keeps its tables in memory. */
  dataDir: string | null;
  logFile: string;
  /** ISO 8601 timestamp. */
  startedAt: string;
}

const STATE_FILE_NAME = 'engine.json';
const LOCK_FILE_NAME = 'engine.lock';
const LOG_FILE_NAME = 'dynamodb-local.log';
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

export function resolveLocalPaths(env: Environment, homedir: string): LocalPaths {
  const shopdbHome = nonEmpty(env.SHOPDB_HOME);
  const stateDir =
    shopdbHome ?? join(xdgBase(env.XDG_STATE_HOME) ?? join(homedir, '.local', 'state'), 'shopdb');
  const dataDir =
    shopdbHome === undefined
      ? join(xdgBase(env.XDG_DATA_HOME) ?? join(homedir, '.local', 'share'), 'shopdb', 'dynamodb')
      : join(shopdbHome, 'dynamodb');
  return {
    stateDir,
    dataDir,
    stateFile: join(stateDir, STATE_FILE_NAME),
    logFile: join(stateDir, LOG_FILE_NAME),
    stateDirFrom: shopdbHome !== undefined ? 'SHOPDB_HOME' : xdgBase(env.XDG_STATE_HOME) !== undefined ? 'XDG_STATE_HOME' : 'HOME',
  };
}

/**
 * Refuses a state directory that cannot be one (the path, or a parent of it,
 * is a file), naming the variable that chose it; a missing one is fine
 * (created when needed).
 */
export function checkStateDir(paths: LocalPaths): void {
  let stats;
  try {
    stats = statSync(paths.stateDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR') throw error;
  }
  if (stats?.isDirectory()) return;
  const variable = paths.stateDirFrom === 'HOME' ? 'the state directory (under HOME)' : paths.stateDirFrom;
  throw new ShopError('BAD_INPUT', `${variable}: ${paths.stateDir} is not a directory; point ${paths.stateDirFrom === 'SHOPDB_HOME' ? 'SHOPDB_HOME' : 'it'} at a directory (created if missing)`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The XDG spec says relative base directories are invalid and must be ignored. */
function xdgBase(value: string | undefined): string | undefined {
  const base = nonEmpty(value);
  return base !== undefined && isAbsolute(base) ? base : undefined;
}

/**
 * Creates the directory (and missing parents) readable by its owner only, and
 * tightens it if it already exists with looser bits: the log and data may
 * hold customer orders.
 */
export function ensurePrivateDir(dir: string, field = 'data-dir'): void {
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (error) {
    // A file where the directory (or one of its parents) should be, or no permission: the user's path, not a bug.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new ShopError('BAD_INPUT', `${field}: ${dir} (or a directory above it) exists but is not a directory`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new ShopError('BAD_INPUT', `${field}: cannot create ${dir} (${code})`);
    throw error;
  }
  const stats = statSync(dir);
  if (!stats.isDirectory()) throw new ShopError('BAD_INPUT', `${field}: ${dir} exists but is not a directory`);
  if ((stats.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
}

/** Returns undefined when no engine has been recorded. */
export function readState(stateDir: string): EngineState | undefined {
  const file = join(stateDir, STATE_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isEngineState(parsed)) {
    throw new ShopError('BAD_INPUT', `${file} is not a valid engine state file; delete it and check for a stray DynamoDBLocal java process`);
  }
  return parsed;
}

/** Atomic, so a concurrent `shopdb local status` never sees half a file. */
export function writeState(stateDir: string, state: EngineState): void {
  ensurePrivateDir(stateDir, 'SHOPDB_HOME');
  const file = join(stateDir, STATE_FILE_NAME);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

export function clearState(stateDir: string): void {
  rmSync(join(stateDir, STATE_FILE_NAME), { force: true });
}

function isEngineState(value: unknown): value is EngineState {
  if (typeof value !== 'object' || value === null) return false;
  const state = value as Record<string, unknown>;
  return (
    isPositiveInteger(state.pid) &&
    isPositiveInteger(state.port) &&
    state.port <= 65535 &&
    typeof state.endpoint === 'string' &&
    typeof state.inMemory === 'boolean' &&
    (state.dataDir === null || typeof state.dataDir === 'string') &&
    typeof state.logFile === 'string' &&
    typeof state.startedAt === 'string'
  );
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  waitMs: number;
  /** A lock older than this is stale even if its pid lives (the pid was reused). */
  staleMs: number;
  /** Whether a pid is a live process; injected for tests. */
  isAlive?: (pid: number) => boolean;
  pollMs?: number;
  /** Stops waiting for another holder (a signal). */
  signal?: AbortSignal;
}

/**
 * Runs `body` while holding the engine lock of `stateDir`: `local start` and
 * `local stop` in parallel (two terminals, a script's loop) would otherwise
 * each spawn an engine and record whichever finished last. The lock is a file
 * created with O_EXCL holding the holder's pid; a lock whose holder died (or
 * that is older than any start can take) is taken over.
 */
export async function withEngineLock<T>(stateDir: string, options: LockOptions, body: () => Promise<T>): Promise<T> {
  ensurePrivateDir(stateDir, 'SHOPDB_HOME');
  const lock = join(stateDir, LOCK_FILE_NAME);
  const token = `${process.pid} ${randomBytes(8).toString('hex')}`;
  const deadline = Date.now() + options.waitMs;
  const alive = options.isAlive ?? isAlive;
  for (;;) {
    if (tryCreate(lock, token)) break;
    const holder = readHolder(lock);
    // A holder between creating the file and writing its pid (empty file) is judged by age alone.
    const dead = holder !== undefined && holder.text !== '' && !alive(holder.pid);
    if (holder !== undefined && (dead || Date.now() - holder.mtimeMs > options.staleMs)) {
      takeOverStale(lock, holder.text);
      continue;
    }
    if (options.signal?.aborted) throw new ShopError('UNAVAILABLE', 'stopped while waiting for another shopdb starting or stopping DynamoDB Local');
    if (Date.now() > deadline) {
      throw new ShopError('UNAVAILABLE', `another shopdb (pid ${holder?.pid ?? 'unknown'}) is starting or stopping DynamoDB Local and did not finish in time; if none runs, delete ${lock}`);
    }
    await sleep(options.pollMs ?? 100, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
  try {
    return await body();
  } finally {
    // Only our own lock: a holder judged stale may have been replaced meanwhile.
    if (readHolder(lock)?.text === token) rmSync(lock, { force: true });
  }
}

function tryCreate(lock: string, token: string): boolean {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, token);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readHolder(lock: string): { pid: number; text: string; mtimeMs: number } | undefined {
  try {
    const text = readFileSync(lock, 'utf8');
    const { mtimeMs } = statSync(lock);
    const pid = Number(text.split(' ')[0]);
    return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : 0, text, mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Moves the stale lock aside (atomic), and checks that what was moved is the
 * lock judged stale: if another process took it over in between, its live
 * lock is put back (link fails if yet another one exists meanwhile).
 */
function takeOverStale(lock: string, staleText: string): void {
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(lock, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleText) linkSync(aside, lock);
  } catch {
    // Someone holds a newer lock already: theirs stands.
  } finally {
    rmSync(aside, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
