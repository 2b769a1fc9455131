import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Shop } from '../app/shop.js';
import type { DynamoCall } from '../core/telemetry.js';
import type { CacheOutcome } from '../core/cache.js';
import { isShopError, ShopError } from '../core/errors.js';
import type { IdempotencyStore } from '../core/idempotency.js';
import { CONTRACT_SCHEMAS } from '../core/schema.js';
import { idempotency } from './idempotency.js';
import { preconditionDetail } from './conditional.js';
import { parseJsonBody } from './json-body.js';
import { hintText, problem, statusOf, ProblemError, type HttpCode, type Problem } from './problem.js';
import { json, sendProblem } from './reply.js';
import { PROBLEM_SCHEMA } from './http.js';
import { cartRoutes } from './routes-carts.js';
import { orderRoutes } from './routes-orders.js';

/*
 * The HTTP front end: a thin layer over the same core as the CLI. It keeps no
 * state of its own (idempotency keys live in DynamoDB, the cache in Redis),
 * so replicas scale out behind a load balancer.
 */


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
  /** The DynamoDB endpoint or region: kept out of answers (a 5xx says "the server's DynamoDB"), logged for the operator. */
  location: string;
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
/** Longer than the idle timeout of common load balancers (60 s), so that they close first. */
const KEEP_ALIVE_MS = 65_000;
const HEADERS_TIMEOUT_MS = 10_000;
/** The status metrics record for a request whose client went away before the answer (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;
/** How often Node checks the header and request timeouts (its default, 30 s, would let a slow client hold a socket for 40 s). */
const TIMEOUT_CHECK_MS = 1_000;
/** Routes anyone may call; every other request (any /v1 route, /metrics, and what matches no route) needs the token. */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/openapi.json']);
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
    http: { connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    // What Node refuses before fastify sees a request (bad framing, headers too large, too slow): a problem too, and the connection closed.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, metrics),
    requestTimeout: timeout,
    // Longer than requestTimeout: a body still arriving at the bound gets Node's 408 (one answer), not a 503 and then a 408.
    handlerTimeout: timeout + 5_000,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionTimeout: timeout * 2,
    // A stopping server answers 503 itself (below): a problem with Retry-After, not fastify's plain JSON.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // HEAD wherever GET works (RFC 9110 §9.3.2): the same answer without its body.
    exposeHeadRoutes: true,
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
      sendProblem(reply, fromFrameworkError(error, options.bodyLimit));
    },
  });
  // Node checks a request's whole time only when its headers' limit is not above it.
  app.server.headersTimeout = Math.min(HEADERS_TIMEOUT_MS, timeout);
  // JSON only: any other body is 415 (fastify would read text/plain as a string).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(String(body), request.headers['content-type']));
    } catch (error) {
      done(error as Error, undefined);
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

  /*
   * Stopping (SIGTERM): no new connections; the requests in flight finish and
   * each connection is closed once it has nothing left to answer (the last
   * answer says Connection: close; pipelined answers still queued go out
   * first). Otherwise a keep-alive connection that was busy when the stop
   * began would stay open, idle, until the shutdown bound cut it. A request
   * that still reaches a handler's hooks is refused with 503 (retry elsewhere).
   */
  let closing = false;
  const inFlight = new WeakMap<object, number>();
  app.addHook('preClose', async () => {
    closing = true;
    app.server.closeIdleConnections();
  });
  app.addHook('onRequest', async (request) => {
    inFlight.set(request.raw.socket, (inFlight.get(request.raw.socket) ?? 0) + 1);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (closing && inFlight.get(request.raw.socket) === 1) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    inFlight.set(request.raw.socket, Math.max(0, (inFlight.get(request.raw.socket) ?? 0) - 1));
    if (closing) setImmediate(() => app.server.closeIdleConnections());
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
    if (closing) return sendProblem(reply, problem('UNAVAILABLE', 'the server is stopping; retry the request (on another replica)'));
    // A header that decides something, sent twice: Node would keep one or join them, and a proxy may have checked the other.
    const repeated = repeatedHeader(request.raw.rawHeaders);
    if (repeated !== undefined) return sendProblem(reply, problem('BAD_INPUT', `${repeated}: is sent more than once; send it once`));
    // Decided by the route that will answer, never by the URL's text (an absolute-form target, http://host/v1/…, is routed too).
    if (options.token !== undefined && !isPublic(request)) {
      const given = bearer(request.headers.authorization);
      if (given === undefined || !sameSecret(given, options.token)) {
        reply.header('www-authenticate', given === undefined ? 'Bearer realm="shopdb"' : 'Bearer realm="shopdb", error="invalid_token"');
        return sendProblem(reply, problem('UNAUTHORIZED', given === undefined ? 'this route needs an Authorization: Bearer token' : 'the bearer token was not accepted'));
      }
    }
    // `/v1/orders/` is the item route with an empty id: no route a client meant (a trailing slash is 404 everywhere).
    if (!request.is404 && Object.values((request.params ?? {}) as Record<string, unknown>).some((value) => value === '')) {
      return sendProblem(reply, problem('ROUTE_NOT_FOUND', `no route ${request.method} ${pathOf(request.url)}; see /openapi.json`));
    }
    // A body where the route reads none (GET, DELETE) would be ignored silently: the client meant something by it.
    if (!request.is404 && request.routeOptions.schema?.body === undefined && carriesBody(request.headers)) {
      return sendProblem(reply, problem('BAD_INPUT', `body: ${request.method} ${request.routeOptions.url ?? ''} takes no body; send its options in the query`));
    }
    return undefined;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if ((error as unknown) instanceof ProblemError) return sendProblem(reply, (error as unknown as ProblemError).problem);
    if (isShopError(error)) {
      const message = error.code === 'PRECONDITION_FAILED' ? preconditionDetail(error.message) : error.message;
      // The server's own endpoint is its operator's business, not a client's: the log has it.
      const exposed = statusOf(error.code) >= 500 ? hideLocation(message, options.location, request) : message;
      const detail = [exposed, hintText(error.hint, request.routeOptions?.config?.force)].filter(Boolean).join('; ');
      if (error.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
      return sendProblem(reply, problem(error.code, detail));
    }
    if (error.validation) return sendProblem(reply, problem('BAD_INPUT', validationDetail(error)));
    const known = fromFrameworkError(error, options.bodyLimit);
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
    return json(reply, state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'not ready', dynamodb: { tables: hideTables(state.tables, options.location) }, redis: state.redis });
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
    // Unknown query parameters are refused on every route, including those that take none.
    api.addHook('onRoute', (route) => {
      route.schema ??= {};
      route.schema.querystring ??= { type: 'object', additionalProperties: false, properties: {} };
    });
    idempotency(api, options.idempotencyStore, options.token);
    orderRoutes(api, shop, metrics);
    cartRoutes(api, shop, metrics);
  }, { prefix: '/v1' });

  return app;
}

/** A 5xx detail names the DynamoDB in use as "the server's DynamoDB"; the full message goes to the log. */
function hideLocation(message: string, location: string, request: { log: { warn(object: object, message: string): void } }): string {
  request.log.warn({ detail: message }, 'answered with a server-side error');
  if (location === '') return message;
  return message.split(`DynamoDB at ${location}`).join("the server's DynamoDB").split(location).join("the server's DynamoDB");
}

function isPublic(request: { is404: boolean; routeOptions: { url?: string | undefined } }): boolean {
  return !request.is404 && request.routeOptions.url !== undefined && PUBLIC_ROUTES.has(request.routeOptions.url);
}

function carriesBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Node's clientError: answered as a problem (when no answer has started on the socket), then the connection is closed. */
/** Headers whose second copy would change what a request means. */
const SINGLE_HEADERS = new Set(['authorization', 'idempotency-key', 'if-match', 'content-type']);

function repeatedHeader(raw: string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) return raw[i];
    seen.add(name);
  }
  return undefined;
}

function answerClientError(error: Error & { code?: string }, socket: Duplex, metrics: MetricsSink | undefined): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? problem('HEADERS_TOO_LARGE', 'the request headers are larger than this server accepts')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? problem('REQUEST_TIMEOUT', 'the request did not arrive in the time allowed')
        : problem('BAD_INPUT', 'the request is not valid HTTP/1.1 (its request line, a header, or how its body is delimited)');
  // As Node itself does: never write into an answer already under way.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(answer);
    // Counted like any answer (no route: Node refused the request before one was chosen).
    metrics?.requestStarted();
    metrics?.requestFinished('unmatched', 'other', answer.status, 0);
    socket.write(
      `HTTP/1.1 ${answer.status} ${answer.title}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
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
      // A query value is a string unless the parameter is repeated (?a=1&a=2 is an array).
      if (where === 'querystring' && path !== '') return `${described(path)}: is given more than once; give it once`;
      const money = /amount|price/i.test(path) && wanted === 'string' ? ' (money is a decimal string such as "12.34"; a JSON number could lose cents)' : '';
      return `${described(path)}: must be ${wanted === 'integer' ? 'a whole number' : `a JSON ${wanted}`}${money}`;
    }
    case 'enum':
      return `${described(path)}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'maxLength':
      return `${described(path)}: is longer than the ${String(params.limit)} characters allowed`;
    case 'minimum':
    case 'maximum':
      return `${described(path)}: must be ${first.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}`;
    default:
      return `${described(path)}: ${first.message ?? 'is not valid'}`;
  }
}

/** Fastify's own errors (body parsing, limits, media types, bad URLs) as problems. */
function fromFrameworkError(error: FastifyError, bodyLimit: number): Problem {
  const tooLarge = `the request body is larger than this server accepts (${bodyLimit} bytes)`;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('BODY_TOO_LARGE', tooLarge);
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
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem('BAD_INPUT', 'path: a segment is longer than any id may be (at most 2048 bytes)');
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
      if (error.statusCode === 413) return problem('BODY_TOO_LARGE', tooLarge);
      if (error.statusCode === 415) return problem('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
      return problem('INTERNAL', 'an unexpected error happened');
  }
}

/** /readyz needs no token: a failure's text keeps the server's endpoint to the log. */
function hideTables(tables: Record<string, string>, location: string): Record<string, string> {
  return Object.fromEntries(Object.entries(tables).map(([name, state]) => [name, location === '' ? state : state.split(location).join("the server's DynamoDB")]));
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
