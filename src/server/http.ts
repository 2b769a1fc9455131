import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CacheOutcome, ReadMode } from '../core/cache.js';
import { isShopError, ShopError } from '../core/errors.js';
import type { WholeNumber } from '../core/model.js';
import { type JsonSchema } from '../core/schema.js';
import { etagOf, noneMatchHits, requiredVersion, strongMatch } from './conditional.js';
import type { MetricsSink } from './app.js';
import { json } from './reply.js';

/*
 * What the order and cart routes share: how a read picks its consistency,
 * how an item answer carries its ETag and X-Cache, and the schemas of the
 * answers (for validation of requests, and for the OpenAPI document).
 */

/** `?consistent=true` reads strongly and bypasses the cache; `Cache-Control: no-cache` bypasses it (an eventual read). Both refresh it. */
export function readMode(request: FastifyRequest<{ Querystring: { consistent?: string } }>): ReadMode {
  if (request.query.consistent === 'true') return 'strong';
  const cacheControl = request.headers['cache-control'];
  const directives = (Array.isArray(cacheControl) ? cacheControl.join(',') : (cacheControl ?? '')).toLowerCase().split(',');
  return directives.some((directive) => directive.trim() === 'no-cache' || directive.trim() === 'no-store') ? 'bypass' : 'cached';
}

/** An item read: 304 when If-None-Match names its tag, otherwise 200 with it; a not-found (X-Cache too: a cached not-found is a hit) is `missing()`'s error. */
export function answerRead(
  request: FastifyRequest,
  reply: FastifyReply,
  item: { version: WholeNumber | null } | undefined,
  cache: CacheOutcome,
  metrics: MetricsSink | undefined,
  missing: () => Error,
): FastifyReply {
  metrics?.cacheRead(cache);
  reply.header('x-cache', cache);
  if (item === undefined) throw missing();
  const etag = etagOf(item.version);
  const wanted = request.headers['if-match'];
  if (wanted !== undefined && !strongMatch(Array.isArray(wanted) ? wanted.join(',') : wanted, etag)) {
    throw new ShopError('PRECONDITION_FAILED', `If-Match: the item's current tag is ${etag ?? 'none (it has no version)'}; nothing matched`);
  }
  if (etag !== undefined) reply.header('etag', etag);
  const ifNoneMatch = request.headers['if-none-match'];
  if (noneMatchHits(Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch, etag)) return reply.code(304).send();
  return json(reply, 200, item);
}

/** A page of a list: `{<field>: items, nextCursor}`, and a `Link: rel="next"` with the same query while there are more. */
export function answerPage(reply: FastifyReply, path: string, query: Record<string, string | undefined>, field: 'orders' | 'carts', page: { items: unknown[]; nextCursor: string | null }): FastifyReply {
  if (page.nextCursor !== null) reply.header('link', `<${nextLink(path, query, page.nextCursor)}>; rel="next"`);
  return json(reply, 200, { [field]: page.items, nextCursor: page.nextCursor });
}

function nextLink(path: string, query: Record<string, string | undefined>, cursor: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && name !== 'cursor') params.set(name, value);
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}

/** A write's answer: the item's new tag (none after a delete), 201 + Location for what was created. */
export function answerWrite(reply: FastifyReply, body: { result: string; [field: string]: unknown }, item: { version: WholeNumber | null } | undefined, location?: string): FastifyReply {
  const etag = item === undefined ? undefined : etagOf(item.version);
  if (etag !== undefined) reply.header('etag', etag);
  if (location !== undefined) reply.header('location', location);
  return json(reply, body.result === 'created' ? 201 : 200, body);
}

/**
 * The preconditions a create honours: `If-None-Match: *` creates only while
 * the id is free (an existing item, even an identical one, is 412); If-Match
 * has no current item to match and is refused rather than ignored.
 */
export function createOnlyIfAbsent(request: FastifyRequest): boolean {
  if (request.headers['if-match'] !== undefined) {
    throw new ShopError('BAD_INPUT', 'If-Match: a create has no current version to match; send If-None-Match: * to create only while the id is free');
  }
  const header = request.headers['if-none-match'];
  if (header === undefined) return false;
  if (String(header).trim() !== '*') throw new ShopError('BAD_INPUT', 'If-None-Match: on a create only * is meaningful (create only while the id is free)');
  return true;
}

/** After a create under `If-None-Match: *`: the item existed already (nothing was written). */
export function refuseExisting(onlyIfAbsent: boolean, result: string, kind: 'order' | 'cart', id: string): void {
  if (onlyIfAbsent && result !== 'created') {
    throw new ShopError('PRECONDITION_FAILED', `${kind} ${id} already exists (If-None-Match: *); nothing was changed`);
  }
}

/** The version If-Match requires (undefined: none, or `*`). */
export function ifMatch(request: FastifyRequest): bigint | undefined {
  // Not ignored: a change is conditioned on the version it may apply to, which is If-Match's job.
  if (request.headers['if-none-match'] !== undefined) {
    throw new ShopError('BAD_INPUT', 'If-None-Match: a change to an existing item is conditioned with If-Match (its ETag); If-None-Match applies to reads and creates');
  }
  const header = request.headers['if-match'];
  return requiredVersion(Array.isArray(header) ? header.join(',') : header);
}

/**
 * Runs a core call, naming fields as this API does: the core's messages name
 * its own inputs (`amount`, `user`), the API's fields are `totalAmount`,
 * `userId`. Only the leading field name of a BAD_INPUT message changes.
 */
export async function withFields<R>(names: Record<string, string>, call: () => Promise<R>): Promise<R> {
  try {
    return await call();
  } catch (error) {
    if (isShopError(error, 'BAD_INPUT')) {
      const match = /^([\w-]+): /.exec(error.message);
      const renamed = match ? names[match[1] as string] : undefined;
      if (renamed !== undefined) throw new ShopError('BAD_INPUT', `${renamed}: ${error.message.slice((match?.[0] ?? '').length)}`, { cause: error, ...(error.hint ? { hint: error.hint } : {}) });
    }
    throw error;
  }
}

/**
 * Ids the API makes reachable: `.` and `..` are valid ids (the CLI takes
 * them), but URL clients resolve them away (`/v1/orders/..` becomes `/v1/`,
 * even percent-encoded), so an item created under one could never be read
 * back over HTTP.
 */
export function addressable<T extends string | undefined>(id: T, field: string): T {
  if (id === '.' || id === '..') throw new ShopError('BAD_INPUT', `${field}: "${id}" cannot be used in a URL path (clients resolve it away); choose another id`);
  return id;
}

export function itemPath(collection: 'orders' | 'carts', id: string): string {
  return `/v1/${collection}/${encodeURIComponent(id)}`;
}

/* Schemas. */

export const PROBLEM_SCHEMA: JsonSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; `code` is the CLI error code',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
  },
};

const PROBLEM_RESPONSE = { description: 'A problem (application/problem+json)', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };

export function idParam(name: string, description: string): JsonSchema {
  return { type: 'object', required: [name], additionalProperties: false, properties: { [name]: { type: 'string', description } } };
}

export const READ_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { consistent: { type: 'string', enum: ['true', 'false'], description: 'true: a strongly consistent read that bypasses (and refreshes) the cache' } },
};

export function strictBody(properties: Record<string, JsonSchema>, required: string[]): JsonSchema {
  return { type: 'object', additionalProperties: false, required, properties };
}

/** Responses of a route for the OpenAPI document: the answers named, and problems for the rest. */
export function responses(answers: Record<number, { description: string; ref?: string; schema?: JsonSchema }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(answers)) {
    out[status] =
      answer.ref === undefined && answer.schema === undefined
        ? { description: answer.description, type: 'null' }
        : { description: answer.description, content: { 'application/json': { schema: answer.schema ?? { $ref: `${answer.ref}#` } } } };
  }
  out['4xx'] = PROBLEM_RESPONSE;
  out['5xx'] = PROBLEM_RESPONSE;
  return out;
}

export function writeAnswer(field: 'order' | 'cart', ref: 'Order' | 'Cart', results: string[]): JsonSchema {
  return {
    type: 'object',
    required: ['result', field],
    properties: { result: { type: 'string', enum: results }, [field]: { $ref: `${ref}#` } },
  };
}

export const IF_MATCH_HEADERS: JsonSchema = {
  type: 'object',
  properties: { 'if-match': { type: 'string', description: 'the ETag of the item as last seen: the write applies only at that version (412 otherwise)' } },
};

export const IDEMPOTENT_HEADERS: JsonSchema = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', description: 'a unique key per intended write: a retry with the same key and body replays the first answer (24 h)' },
  },
};

export const READ_HEADERS: JsonSchema = {
  type: 'object',
  properties: {
    'if-none-match': { type: 'string', description: 'the ETag last seen (or *): 304 while the item is still at it' },
    'if-match': { type: 'string', description: 'an ETag (or *): 412 unless the item is at it' },
    'cache-control': { type: 'string', description: 'no-cache: read DynamoDB (eventually), bypassing the cache, and refresh it' },
  },
};

export const CREATE_HEADERS: JsonSchema = {
  type: 'object',
  properties: {
    ...(IDEMPOTENT_HEADERS.properties as object),
    'if-none-match': { type: 'string', description: '*: create only while the id is free (412 otherwise)' },
  },
};

export function headers(...parts: JsonSchema[]): JsonSchema {
  return { type: 'object', properties: Object.assign({}, ...parts.map((part) => part.properties as object)) };
}
