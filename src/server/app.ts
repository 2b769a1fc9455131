import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Shop } from '../app/shop.js';
import type { CacheOutcome } from '../core/cache.js';
import { isShopError, ShopError } from '../core/errors.js';
import type { IdempotencyStore } from '../core/idempotency.js';
import { CONTRACT_SCHEMAS } from '../core/schema.js';
import { idempotency } from './idempotency.js';
import { hintText, problem, type HttpCode, type Problem } from './problem.js';
import { json, sendProblem } from './reply.js';
import { PROBLEM_SCHEMA } from './http.js';
import { cartRoutes } from './routes-carts.js';
import { orderRoutes } from './routes-orders.js';

/*
 * The HTTP front end: a thin layer over the same core as the CLI. It keeps no
 * state of its own (idempotency keys live in DynamoDB, the cache in Redis),
 * so replicas scale out behind a load balancer.
 */

export interface DynamoCall {
  operation: string;
  table: string | undefined;
  outcome: 'ok' | 'throttled' | 'error';
  readUnits: number;
  writeUnits: number;
}

/** What the server reports to Prometheus (server/metrics.ts implements it). */
export interface MetricsSink {
  readonly contentType: string;
  render(): Promise<string>;
  requestStarted(): void;
  requestFinished(route: string, method: string, status: number, seconds: number): void;
  cacheRead(outcome: CacheOutcome): void;
  cacheError(): void;
  dynamoCall(call: DynamoCall): void;
}

/** A line of pino's output: the server's logs go wherever the front end says (the CLI: standard error). */
export interface LogDestination {
  write(line: string): void;
}

export interface ServerOptions {
  shop: Shop;
  /** Every /v1 route and /metrics need `Authorization: Bearer <token>`; absent: no authentication (loopback only, checked by the caller). */
  token: string | undefined;
  /** The largest request body accepted, in bytes. */
  bodyLimit: number;
  /** Idempotency-Key records; absent: the header is refused (503) rather than ignored. */
  idempotencyStore: IdempotencyStore | undefined;
  metrics?: MetricsSink | undefined;
  log: { level: string; destination: LogDestination };
  /** How long a request may take to arrive (headers and body), and to be handled, in ms. */
  requestTimeoutMs?: number;
  /** Answered in /readyz; the DynamoDB endpoint or region, no secrets. */
  location: string;
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
/** Longer than the idle timeout of common load balancers (60 s), so that they close first. */
const KEEP_ALIVE_MS = 65_000;
const HEADERS_TIMEOUT_MS = 10_000;
/** The status metrics record for a request whose client went away before the answer (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;
/** A caller's request id is reused when it is this tame; otherwise one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the `force` hint is worded on this route (a body field or a query parameter). */
    force?: string;
  }
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { shop, metrics } = options;
  const timeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app: FastifyInstance = Fastify({
    logger: {
      level: options.log.level,
      stream: options.log.destination,
      // Never a header (Authorization), body or query value in a log line: method, route and status only.
      serializers: {
        req: (request: { method: string; routeOptions?: { url?: string | undefined }; ip: string }) => ({
          method: request.method,
          url: request.routeOptions?.url ?? 'unmatched',
          remoteAddress: request.ip,
        }),
        res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      },
    },
    bodyLimit: options.bodyLimit,
    requestTimeout: timeout,
    handlerTimeout: timeout,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionTimeout: timeout * 2,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 8192, ignoreTrailingSlash: false },
    genReqId: (raw) => {
      const given = raw.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: {
      // Bodies are checked as sent: nothing coerced, removed or defaulted, every field named.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strict: true },
    },
    frameworkErrors: (error, _request, reply) => {
      sendProblem(reply, fromFrameworkError(error));
    },
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // JSON only: any other body is 415 (fastify would read text/plain as a string).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(new ShopError('BAD_INPUT', `body: is not valid JSON (${error instanceof Error ? error.message : String(error)})`), undefined);
    }
  });

  for (const schema of [...CONTRACT_SCHEMAS, PROBLEM_SCHEMA]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'shopdb',
        version: '1',
        description:
          "A shop's orders and carts in DynamoDB, with eventual or strong reads and a Redis cache. Money is a decimal string; versions are exact integers. Errors are application/problem+json (RFC 9457).",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(options.token === undefined ? {} : { security: [{ bearer: [] }] }),
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (metrics) {
      metrics.requestStarted();
      // 'close' comes once for every response, sent or abandoned by its client; onResponse never comes for the abandoned (499).
      const started = performance.now();
      reply.raw.once('close', () => {
        const status = reply.raw.writableFinished ? reply.statusCode : CLIENT_CLOSED_REQUEST;
        metrics.requestFinished(request.routeOptions?.url ?? 'unmatched', request.method, status, (performance.now() - started) / 1000);
      });
    }
    if (options.token !== undefined && needsToken(request.url)) {
      const given = bearer(request.headers.authorization);
      if (given === undefined || !sameSecret(given, options.token)) {
        reply.header('www-authenticate', given === undefined ? 'Bearer realm="shopdb"' : 'Bearer realm="shopdb", error="invalid_token"');
        return sendProblem(reply, problem('UNAUTHORIZED', given === undefined ? 'this route needs an Authorization: Bearer token' : 'the bearer token was not accepted'));
      }
    }
    return undefined;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isShopError(error)) {
      const detail = [error.message, hintText(error.hint, request.routeOptions?.config?.force)].filter(Boolean).join('; ');
      if (error.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
      return sendProblem(reply, problem(error.code, detail));
    }
    if (error.validation) return sendProblem(reply, problem('BAD_INPUT', validationDetail(error)));
    const known = fromFrameworkError(error);
    if (known.status !== 500) return sendProblem(reply, known);
    request.log.error({ err: error }, 'unexpected error');
    return sendProblem(reply, problem('INTERNAL', `an unexpected error happened (request ${request.id}); nothing about it was written to the answer, see the server's log`));
  });
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, problem('ROUTE_NOT_FOUND', `no route ${request.method} ${pathOf(request.url)}; see /openapi.json`));
  });

  // Operations.
  app.get('/healthz', async (_request, reply) => json(reply, 200, { status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = await readiness(shop);
    if (!state.ready) reply.header('retry-after', '5');
    return json(reply, state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'not ready', dynamodb: { location: options.location, tables: state.tables }, redis: state.redis });
  });
  if (metrics) {
    app.get('/metrics', async (_request, reply) => {
      reply.type(metrics.contentType);
      return metrics.render();
    });
  }
  app.get('/openapi.json', async (_request, reply) => json(reply, 200, app.swagger()));

  // The API: POST routes honour Idempotency-Key.
  await app.register(async (api) => {
    idempotency(api, options.idempotencyStore, options.token);
    orderRoutes(api, shop, metrics);
    cartRoutes(api, shop, metrics);
  }, { prefix: '/v1' });

  return app;
}

function needsToken(url: string): boolean {
  const path = pathOf(url);
  return path === '/metrics' || path === '/v1' || path.startsWith('/v1/');
}

function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function bearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return match?.[1];
}

/** Constant time whatever the lengths: digests of equal size are compared. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The schema error as one line naming the field. */
function validationDetail(error: FastifyError): string {
  const [first] = error.validation ?? [];
  if (!first) return error.message;
  const where = error.validationContext ?? 'body';
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = first.params as Record<string, unknown>;
  const described = (field: string) => (field === '' ? where : where === 'body' ? field : `${where === 'querystring' ? 'query parameter' : where} ${field}`);
  switch (first.keyword) {
    case 'required':
      return `${described(String(params.missingProperty))}: is required`;
    case 'additionalProperties':
      return `${described(String(params.additionalProperty))}: is not a field this request accepts`;
    case 'type': {
      const wanted = String(params.type);
      const money = /amount|price/i.test(path) && wanted === 'string' ? ' (money is a decimal string such as "12.34"; a JSON number could lose cents)' : '';
      return `${described(path)}: must be ${wanted === 'integer' ? 'a whole number' : `a JSON ${wanted}`}${money}`;
    }
    case 'enum':
      return `${described(path)}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    default:
      return `${described(path)}: ${first.message ?? 'is not valid'}`;
  }
}

/** Fastify's own errors (body parsing, limits, media types, bad URLs) as problems. */
function fromFrameworkError(error: FastifyError): Problem {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('BODY_TOO_LARGE', 'the request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? problem('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
        : problem('BAD_INPUT', 'Content-Length does not match the body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('BAD_INPUT', 'body: is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return problem('BAD_INPUT', `body: ${error.message}`);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return problem('BAD_INPUT', 'the URL is not valid (a malformed percent-encoding?)');
    case 'FST_ERR_HANDLER_TIMEOUT':
      return problem('TIMEOUT', 'the request took longer than the server allows');
    default:
      if (error.statusCode === 400 || (error as { status?: number }).status === 400) {
        // The JSON parser's own SyntaxError, or a poisoned __proto__ / constructor key.
        return problem('BAD_INPUT', `body: ${/proto|constructor/i.test(error.message) ? 'holds a __proto__ or constructor key, which is refused' : `is not valid JSON (${error.message})`}`);
      }
      if (error.statusCode === 413) return problem('BODY_TOO_LARGE', 'the request body is larger than this server accepts');
      if (error.statusCode === 415) return problem('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
      return problem('INTERNAL', 'an unexpected error happened');
  }
}

interface Readiness {
  ready: boolean;
  tables: Record<string, string>;
  redis: 'up' | 'down' | 'off';
}

async function readiness(shop: Shop): Promise<Readiness> {
  const tables: Record<string, string> = {};
  let ready = true;
  try {
    for (const table of await shop.tables.status()) {
      tables[table.name] = table.result === 'absent' ? 'MISSING' : table.status;
      if (table.result === 'absent' || table.status !== 'ACTIVE') ready = false;
    }
  } catch (error) {
    ready = false;
    tables.error = error instanceof Error ? error.message : String(error);
  }
  let redis: Readiness['redis'] = 'off';
  if (shop.cache) redis = (await shop.cache.ping()) ? 'up' : 'down';
  return { ready, tables, redis };
}

/** For routes: the problem of an error that must reach the error handler as a ShopError. */
export function refuse(code: HttpCode & ShopError['code'], message: string): never {
  throw new ShopError(code, message);
}
