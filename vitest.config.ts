import { defineConfig } from 'vitest/config';

/**
 * The cache files, run a second time (project "cluster") against a local 3-master Redis Cluster with
 * --redis-cluster: test/support/services.ts starts it, test/support/redis-target.ts points the files at it.
 */
const CACHE_FILES = [
  'test/e2e/cache.test.ts',
  'test/e2e/cache-coherence.test.ts',
  'test/e2e/cache-delete.test.ts',
  'test/e2e/cache-entries.test.ts',
  'test/e2e/cache-flush.test.ts',
  'test/e2e/cache-race.test.ts',
  'test/e2e/cache-scope.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/support/services.ts'],
    // E2e files spawn the built binary many times; a cold DynamoDB Local on 2 cores can take seconds to answer,
    // and creating tables with their indexes takes longer while another file uses the same engine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two files at a time on this 2-core machine (vitest's default would be one): most of a file's time is
    // spent waiting for DynamoDB Local and the binaries it runs. Every file uses its own table prefix, and
    // the files that add indexes to existing tables run a DynamoDB Local of their own. See BENCHMARKS.md
    // "The test suite's time".
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'cluster', include: CACHE_FILES } },
    ],
  },
});
