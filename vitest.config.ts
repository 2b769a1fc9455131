import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/services.ts'],
    // E2e files spawn the built binary many times; a cold DynamoDB Local on 2 cores can take seconds to answer,
    // and creating tables with their indexes takes longer while another file uses the same engine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One file at a time (vitest's choice on 2 cores); see BENCHMARKS.md "The test suite's time".
  },
});
