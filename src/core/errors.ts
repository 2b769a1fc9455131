/**
 * Every failure shopdb expects carries a stable code. Front ends (the CLI's
 * exit codes, a later HTTP API's status codes) map codes, never messages.
 */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'TABLE_NOT_FOUND'
  | 'CONFLICT'
  | 'ILLEGAL_TRANSITION'
  | 'UNEXPECTED_STATUS'
  /** The item is not at the version the caller named (HTTP If-Match); nothing was changed. */
  | 'PRECONDITION_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'THROTTLED'
  | 'ACCESS_DENIED'
  | 'INTERNAL';

/**
 * What the person can do next, as data: each front end words it its own way
 * (the CLI repeats the options in use, an HTTP API may link to docs).
 */
export type Hint =
  /** The tables are missing: create them. */
  | { kind: 'create-tables' }
  /** Show the tables' state. */
  | { kind: 'table-status' }
  /** Nothing answers at a local endpoint: start the bundled engine. */
  | { kind: 'start-local'; port?: number }
  /** Calls took longer than the configured bound. */
  | { kind: 'raise-timeout' }
  /** An https:// endpoint whose port speaks plain HTTP: the same URL with http://. */
  | { kind: 'use-http'; endpoint: string }
  /** The credentials were refused. */
  | { kind: 'check-credentials' }
  /** A per-table property (capacity) is the limit. */
  | { kind: 'raise-capacity' }
  /** Stop the running local engine before starting one with other settings. */
  | { kind: 'stop-local' }
  /** No AWS region is configured. */
  | { kind: 'set-region' }
  /** Tables of these names exist with another shape: use other names. */
  | { kind: 'other-prefix' }
  /** A rule refused the change; forcing it would apply it anyway (still atomically). */
  | { kind: 'force' }
  /** The stored item holds what shopdb cannot work with: it must be corrected (exported, fixed, imported over itself). */
  | { kind: 'fix-item' };

export class ShopError extends Error {
  override readonly name = 'ShopError';
  readonly hint: Hint | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; hint?: Hint },
  ) {
    super(message, options);
    this.hint = options?.hint;
  }
}

export function badInput(field: string, problem: string): ShopError {
  return new ShopError('BAD_INPUT', `${field}: ${problem}`);
}

export function isShopError(error: unknown, code?: ErrorCode): error is ShopError {
  return error instanceof ShopError && (code === undefined || error.code === code);
}
