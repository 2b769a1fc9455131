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
  | 'SCHEMA_MISMATCH'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'THROTTLED'
  | 'ACCESS_DENIED'
  | 'INTERNAL';

export class ShopError extends Error {
  override readonly name = 'ShopError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function badInput(field: string, problem: string): ShopError {
  return new ShopError('BAD_INPUT', `${field}: ${problem}`);
}

export function isShopError(error: unknown, code?: ErrorCode): error is ShopError {
  return error instanceof ShopError && (code === undefined || error.code === code);
}
