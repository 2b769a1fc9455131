import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/services.ts'],
    // E2e files spawn the built binary many times; a cold DynamoDB Local on 2 cores can take seconds to answer.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
