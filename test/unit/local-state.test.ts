import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isShopError } from '../../src/core/errors.js';
import {
  clearState,
  ensurePrivateDir,
  readState,
  resolveLocalPaths,
  writeState,
  type EngineState,
} from '../../src/local/state.js';

const HOME = '/home/alice';

function permissions(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('resolveLocalPaths', () => {
  it('puts state and data under SHOPDB_HOME when it is set, ignoring XDG', () => {
    const paths = resolveLocalPaths(
      { SHOPDB_HOME: '/srv/shopdb', XDG_STATE_HOME: '/xdg/state', XDG_DATA_HOME: '/xdg/data' },
      HOME,
    );
    expect(paths).toEqual({
      stateDir: '/srv/shopdb',
      dataDir: '/srv/shopdb/dynamodb',
      stateFile: '/srv/shopdb/engine.json',
      logFile: '/srv/shopdb/dynamodb-local.log',
      stateDirFrom: 'SHOPDB_HOME',
    });
  });

  it('uses the XDG base directories when SHOPDB_HOME is not set', () => {
    const paths = resolveLocalPaths({ XDG_STATE_HOME: '/xdg/state', XDG_DATA_HOME: '/xdg/data' }, HOME);
    expect(paths.stateDir).toBe('/xdg/state/shopdb');
    expect(paths.dataDir).toBe('/xdg/data/shopdb/dynamodb');
    expect(paths.logFile).toBe('/xdg/state/shopdb/dynamodb-local.log');
  });

  it('falls back to ~/.local when neither is set', () => {
    const paths = resolveLocalPaths({}, HOME);
    expect(paths.stateDir).toBe('/home/alice/.local/state/shopdb');
    expect(paths.dataDir).toBe('/home/alice/.local/share/shopdb/dynamodb');
    expect(paths.stateFile).toBe('/home/alice/.local/state/shopdb/engine.json');
  });

  it('treats empty variables as unset and ignores relative XDG paths, as the XDG spec requires', () => {
    const paths = resolveLocalPaths({ SHOPDB_HOME: '', XDG_STATE_HOME: 'relative/state', XDG_DATA_HOME: '' }, HOME);
    expect(paths.stateDir).toBe('/home/alice/.local/state/shopdb');
    expect(paths.dataDir).toBe('/home/alice/.local/share/shopdb/dynamodb');
  });
});

describe('state on disk', () => {
  let root: string;
  let shopdbHome: string;
  const state: EngineState = {
    pid: 4242,
    port: 8123,
    endpoint: 'http://127.0.0.1:8123',
    inMemory: false,
    dataDir: '/tmp/somewhere/dynamodb',
    logFile: '/tmp/somewhere/dynamodb-local.log',
    startedAt: '2026-01-02T03:04:05.000Z',
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'shopdb-state-'));
    shopdbHome = join(root, 'nested', 'home');
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('creates missing directories with mode 0700', () => {
    const { stateDir, dataDir } = resolveLocalPaths({ SHOPDB_HOME: shopdbHome }, HOME);
    ensurePrivateDir(stateDir);
    ensurePrivateDir(dataDir);
    expect(permissions(stateDir)).toBe(0o700);
    expect(permissions(dataDir)).toBe(0o700);
  });

  it('tightens an existing directory that others could read', () => {
    mkdirSync(shopdbHome, { recursive: true, mode: 0o755 });
    expect(permissions(shopdbHome)).toBe(0o755);
    ensurePrivateDir(shopdbHome);
    expect(permissions(shopdbHome)).toBe(0o700);
  });

  it('refuses a path that is a file, not a directory', () => {
    const file = join(root, 'not-a-dir');
    writeFileSync(file, '');
    expect(() => ensurePrivateDir(file)).toThrow();
  });

  it('reads nothing before any engine was recorded', () => {
    expect(readState(shopdbHome)).toBeUndefined();
  });

  it('round-trips the state through a 0600 file in a 0700 directory, leaving no temp files', () => {
    writeState(shopdbHome, state);
    expect(readState(shopdbHome)).toEqual(state);
    expect(permissions(shopdbHome)).toBe(0o700);
    expect(permissions(join(shopdbHome, 'engine.json'))).toBe(0o600);
    expect(readdirSync(shopdbHome)).toEqual(['engine.json']);
  });

  it('replaces the previous state rather than merging into it', () => {
    writeState(shopdbHome, state);
    const inMemory: EngineState = { ...state, pid: 99, inMemory: true, dataDir: null };
    writeState(shopdbHome, inMemory);
    expect(readState(shopdbHome)).toEqual(inMemory);
    expect(JSON.parse(readFileSync(join(shopdbHome, 'engine.json'), 'utf8'))).toEqual(inMemory);
  });

  it('clears the state, and clearing twice is harmless', () => {
    writeState(shopdbHome, state);
    clearState(shopdbHome);
    expect(readState(shopdbHome)).toBeUndefined();
    expect(() => clearState(shopdbHome)).not.toThrow();
  });

  it.each([
    ['broken JSON', '{"pid": 1,'],
    ['a non-object', '42'],
    ['a group pid that stop must never signal', JSON.stringify({ ...state, pid: 0 })],
    ['a missing field', JSON.stringify({ ...state, endpoint: undefined })],
  ])('rejects a state file holding %s with BAD_INPUT', (_label, content) => {
    ensurePrivateDir(shopdbHome);
    writeFileSync(join(shopdbHome, 'engine.json'), content);
    let caught: unknown;
    try {
      readState(shopdbHome);
    } catch (error) {
      caught = error;
    }
    expect(isShopError(caught, 'BAD_INPUT')).toBe(true);
    expect((caught as Error).message).toContain('engine.json');
  });
});
