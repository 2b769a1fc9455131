import { afterAll, beforeAll, inject } from 'vitest';
import { startTestEngine, type TestEngine } from './engine.js';

/*
 * The DynamoDB Local a test file talks to: the shared one (test/support/services.ts),
 * or, for a file that calls privateEngine(), one of its own. Every helper
 * (cli, dynamo, boto3) asks here, so the whole file follows.
 */
let own: string | undefined;

export function dynamoEndpoint(): string {
  return own ?? inject('dynamoEndpoint');
}

/**
 * Gives the calling file a fresh in-memory DynamoDB Local for all its tests.
 * For the files that add indexes to existing tables: once the shared engine
 * holds many tables (each file makes its own, with TTL on the idempotency
 * table), DynamoDB Local never finishes building an index added to an
 * existing table (reproduced: 25 prefixes' tables, then the build stays
 * CREATING past 60 s; a fresh engine takes seconds). AWS has no such state.
 */
export function privateEngine(): void {
  let engine: TestEngine | undefined;
  beforeAll(async () => {
    engine = await startTestEngine();
    own = engine.endpoint;
  }, 120_000);
  afterAll(async () => {
    own = undefined;
    await engine?.stop();
  });
}
