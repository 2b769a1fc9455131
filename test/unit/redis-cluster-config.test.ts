import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type Env, type GlobalOptions } from '../../src/cli/config.js';
import { badInputMessage } from '../support/bad-input.js';

/* --redis-cluster / SHOPDB_REDIS_CLUSTER as resolveConfig reads them. */

function resolve(flags: GlobalOptions = {}, env: Env = {}) {
  return resolveConfig(flags, env, false, false);
}

const URL = 'redis://127.0.0.1:7000';

describe('cluster mode', () => {
  it('is off by default, on with the flag, and the variable reads true/false/1/0 in any case', () => {
    expect(resolve({ redisUrl: URL }).cache?.cluster).toBe(false);
    expect(resolve({ redisUrl: URL, redisCluster: true }).cache?.cluster).toBe(true);
    for (const on of ['true', 'TRUE', 'True', '1']) expect(resolve({ redisUrl: URL }, { SHOPDB_REDIS_CLUSTER: on }).cache?.cluster, on).toBe(true);
    for (const off of ['false', 'FALSE', '0']) expect(resolve({ redisUrl: URL }, { SHOPDB_REDIS_CLUSTER: off }).cache?.cluster, off).toBe(false);
    // An empty variable counts as unset, as every other one.
    expect(resolve({ redisUrl: URL }, { SHOPDB_REDIS_CLUSTER: '' }).cache?.cluster).toBe(false);
    expect(resolve({ redisUrl: URL, redisCluster: true }, { SHOPDB_REDIS_CLUSTER: 'false' }).cache?.cluster).toBe(true);
  });

  it('names where it came from (config show), also without a Redis URL', () => {
    expect(resolve().sources.cacheCluster).toBe('default (off: one Redis)');
    expect(resolve({ redisCluster: true }).sources.cacheCluster).toBe('flag --redis-cluster');
    expect(resolve({}, { SHOPDB_REDIS_CLUSTER: '1' })).toMatchObject({ redisCluster: true, sources: { cacheCluster: 'env SHOPDB_REDIS_CLUSTER' } });
  });

  it('any other value of SHOPDB_REDIS_CLUSTER is one line naming the variable, even without a Redis URL', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }).filter((text) => !['true', 'false', '1', '0'].includes(text.trim().toLowerCase())),
        (text) => {
          const message = badInputMessage(() => resolve({}, { SHOPDB_REDIS_CLUSTER: text }), 'SHOPDB_REDIS_CLUSTER');
          expect(message).not.toContain('\n');
        },
      ),
    );
  });

  it('a database other than 0 in the URL is refused in cluster mode, naming where the URL came from; 0 is fine', () => {
    expect(badInputMessage(() => resolve({ redisUrl: `${URL}/3`, redisCluster: true }), '--redis-url')).toContain('database other than 0');
    badInputMessage(() => resolve({}, { SHOPDB_REDIS_URL: `${URL}/1`, SHOPDB_REDIS_CLUSTER: 'true' }), 'SHOPDB_REDIS_URL');
    badInputMessage(() => resolve({}, { REDIS_URL: `${URL}/15`, SHOPDB_REDIS_CLUSTER: '1' }), 'REDIS_URL');
    for (const url of [URL, `${URL}/`, `${URL}/0`]) expect(resolve({ redisUrl: url, redisCluster: true }).cache?.cluster).toBe(true);
    // Without cluster mode a database stays allowed.
    expect(resolve({ redisUrl: `${URL}/3` }).cache?.url).toBe(`${URL}/3`);
  });
});
