import type { ErrorCode, Hint } from '../core/errors.js';

/*
 * Errors as RFC 9457 problem details: {type, title, status, detail, code}.
 * `code` is the CLI's error code (scripts and clients switch on it); `type`
 * is a URN naming it (stable, not a web page); `detail` is the core's
 * message, plus what a client or operator can do, worded for HTTP.
 */

export const PROBLEM_TYPE = 'application/problem+json';

/** Codes only the HTTP front end produces, beside the core's. */
export type HttpCode =
  | ErrorCode
  | 'UNAUTHORIZED'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'NOT_ACCEPTABLE'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'SHUTTING_DOWN';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: HttpCode;
}

const STATUS: Record<HttpCode, number> = {
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  ILLEGAL_TRANSITION: 409,
  UNEXPECTED_STATUS: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  PRECONDITION_FAILED: 412,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  // The server's own tables or service are not as they should be: a client can only wait (Retry-After).
  TABLE_NOT_FOUND: 503,
  SCHEMA_MISMATCH: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 503,
  THROTTLED: 503,
  ACCESS_DENIED: 503,
  SHUTTING_DOWN: 503,
};

const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A problem found before a route's handler runs (the body's media type or JSON), thrown to the error handler. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export function statusOf(code: HttpCode): number {
  return STATUS[code];
}

export function problem(code: HttpCode, detail: string): Problem {
  const status = STATUS[code];
  return { type: `urn:shopdb:problem:${code.toLowerCase().replace(/_/g, '-')}`, title: TITLE[status] ?? 'Error', status, detail, code };
}

/** Seconds a client should wait before retrying a 503 of this code. */
export function retryAfterSeconds(code: HttpCode): number {
  return code === 'THROTTLED' || code === 'TIMEOUT' ? 1 : code === 'SHUTTING_DOWN' ? 1 : 5;
}

/** A core hint in the words of an HTTP answer: what the client, or the server's operator, can do. */
export function hintText(hint: Hint | undefined, force = '"force": true in the body'): string | undefined {
  switch (hint?.kind) {
    case undefined:
      return undefined;
    case 'create-tables':
      return "the server's operator must create the tables (shopdb tables create with the server's settings)";
    case 'table-status':
      return "the server's operator can check the tables (shopdb tables status)";
    case 'start-local':
      return undefined;
    case 'raise-timeout':
      return 'try again later';
    case 'use-http':
      return "the server's DynamoDB endpoint is misconfigured";
    case 'check-credentials':
      return "the server's AWS credentials were refused";
    case 'raise-capacity':
      return 'try again later';
    case 'stop-local':
    case 'set-region':
    case 'other-prefix':
      return "the server's configuration needs its operator";
    case 'force':
      return `send ${force} to do it anyway`;
    case 'fix-item':
      return 'the stored item must be corrected by an operator first';
  }
}
