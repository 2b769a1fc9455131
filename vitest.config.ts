import { defineConfig } from 'vitest/config';
import ShopdbSequencer from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/services.ts'],
    // signals.test.ts last: see test/support/sequencer.ts.
    sequence: { sequencer: ShopdbSequencer },
    // E2e files spawn the built binary many times; a cold DynamoDB Local on 2 cores can take seconds to answer,
    // and creating tables with their indexes takes longer while another file uses the same engine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One file at a time (vitest's choice on 2 cores); two at a time may well work now that signals.test.ts
    // runs last: see BENCHMARKS.md "The test suite's time".
  },
});
