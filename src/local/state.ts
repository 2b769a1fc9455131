/**
 * Per-user bookkeeping for `shopdb local`: where the engine's state, log and
 * data live, and the record of the engine that is currently running.
 * Callers pass the environment in, so this module never reads process.env.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ShopError } from '../core/errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface LocalPaths {
  stateDir: string;
  /** Default persistence directory for a non-in-memory engine. */
  dataDir: string;
  stateFile: string;
  logFile: string;
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
  };
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
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const stats = statSync(dir);
  if (!stats.isDirectory()) throw new ShopError('BAD_INPUT', `${dir} exists but is not a directory`);
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
  ensurePrivateDir(stateDir);
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
