import type { ErrorCode } from '../core/errors.js';

/** The documented exit codes (README, "Exit codes"); scripts depend on them. */
export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unavailable: 5,
} as const;

const BY_ERROR_CODE: Record<ErrorCode, number> = {
  BAD_INPUT: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  TABLE_NOT_FOUND: EXIT.notFound,
  CONFLICT: EXIT.conflict,
  ILLEGAL_TRANSITION: EXIT.conflict,
  UNEXPECTED_STATUS: EXIT.conflict,
  PRECONDITION_FAILED: EXIT.conflict,
  SCHEMA_MISMATCH: EXIT.conflict,
  UNAVAILABLE: EXIT.unavailable,
  TIMEOUT: EXIT.unavailable,
  THROTTLED: EXIT.unavailable,
  ACCESS_DENIED: EXIT.unavailable,
  INTERNAL: EXIT.unexpected,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_ERROR_CODE[code];
}
