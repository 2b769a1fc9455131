/*
 * Idempotency keys (the HTTP API's Idempotency-Key header): the port the
 * server uses; src/store/idempotency-table.ts keeps the records in DynamoDB,
 * so that every replica sees them.
 */

/** An HTTP answer as recorded for replay. */
export interface RecordedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyClaim =
  /** This request runs now; finish with complete() or release(). */
  | { kind: 'claimed'; token: string }
  /** Same key, same fingerprint, answered before (within keepSeconds). */
  | { kind: 'replay'; answer: RecordedAnswer }
  /** Same key, another fingerprint. */
  | { kind: 'mismatch' }
  /** Same key, the first request still running and its lease not expired. */
  | { kind: 'running' };

export interface IdempotencyStore {
  /** `key` is opaque (the server already hashed the caller's scope and the header value). */
  claim(key: string, fingerprint: string, options: { leaseMs: number; keepSeconds: number }): Promise<IdempotencyClaim>;
  /** Records the answer (only while `token` still holds the claim); replays see it until keepSeconds after the claim. */
  complete(key: string, token: string, answer: RecordedAnswer): Promise<void>;
  /** Gives the key up (the request failed with a 5xx or the process is stopping): the next claim runs again. */
  release(key: string, token: string): Promise<void>;
}
