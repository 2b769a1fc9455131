/*
 * Idempotency keys (HTTP `Idempotency-Key` on every POST): the first request
 * with a key claims it and runs; its answer is recorded; a repeat with the
 * same key and the same request (fingerprint) within the keeping time gets
 * that answer again instead of running twice. The store keeps one record per
 * key in DynamoDB (table EcommerceIdempotencyKeys), shared by every replica;
 * every decision is a condition DynamoDB checks, so of any number of
 * concurrent claims of one key exactly one runs.
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
  /** Same key, another fingerprint (HTTP 422). */
  | { kind: 'mismatch' }
  /** Same key, first request still running and its lease not expired (HTTP 409). */
  | { kind: 'running' };

export interface IdempotencyStore {
  /** `key` is opaque (the server already hashed the caller's token scope + the header value). */
  claim(key: string, fingerprint: string, options: { leaseMs: number; keepSeconds: number }): Promise<IdempotencyClaim>;
  /** Records the answer (only while `token` still holds the claim); replays see it until keepSeconds after the claim. */
  complete(key: string, token: string, answer: RecordedAnswer): Promise<void>;
  /** Gives the key up (the request failed with a 5xx or the process is stopping): the next claim runs again. */
  release(key: string, token: string): Promise<void>;
}

/** The media type of an RFC 9457 problem answer. */
const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/**
 * What a replay answers when the first answer was too large to keep (over
 * DynamoDB's 400 KB item limit even compressed): the request was applied
 * once, so it is not run again; the replay says so with a 409 problem naming
 * the first answer's status, and keeps its Location (if it had one) so the
 * client can read the resource it made. `code` is CONFLICT, as for any other
 * refusal to run a request again.
 */
export function answerNotKept(first: { status: number; bytes: number; location?: string | undefined }): RecordedAnswer {
  const detail =
    `the request with this Idempotency-Key was applied once and answered ${first.status}, ` +
    `but that answer (${first.bytes} bytes) was too large to keep for replay; it is not applied again; read the resource to see its state`;
  return {
    status: 409,
    headers: { 'content-type': PROBLEM_MEDIA_TYPE, ...(first.location === undefined ? {} : { location: first.location }) },
    body: JSON.stringify({ type: 'urn:shopdb:problem:conflict', title: 'Conflict', status: 409, detail, code: 'CONFLICT', firstStatus: first.status }),
  };
}
