import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IdempotencyStore } from '../core/idempotency.js';
import { stringifyExact } from '../core/json.js';
import { problem } from './problem.js';
import { sendProblem } from './reply.js';

/*
 * Idempotency-Key on POST (the IETF httpapi draft, as Stripe does it): the
 * first request with a key runs and its answer is recorded in DynamoDB; the
 * same key with the same request within KEEP_SECONDS replays that answer
 * (Idempotent-Replayed: true), on any replica; with another request it is
 * 422; while the first still runs, 409. Keys are scoped to the caller's
 * token: two clients never see each other's answers. Only successes are
 * recorded: a refused request (4xx) wrote nothing, and a failed one (5xx) may
 * not have, so the key is released and a retry runs again (a write that did
 * commit answers `unchanged` or is refused the second time, as in the CLI);
 * requests refused before they run (bad JSON, a schema error, 401) claim nothing.
 */

export const KEEP_SECONDS = 24 * 60 * 60;
/** Longer than any request may run: a replica that died holding a key gives it up after this. */
const LEASE_MS = 120_000;
/** Printable ASCII, as the draft's sf-string allows; long enough for a UUID or a composed key. */
const KEY = /^[\x20-\x7e]{1,255}$/;
/** The answer headers a replay repeats. */
const KEPT_HEADERS = ['content-type', 'location', 'etag'];

interface Claimed {
  key: string;
  token: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim?: Claimed;
  }
}

export function idempotency(api: FastifyInstance, store: IdempotencyStore | undefined, token: string | undefined): void {
  const scope = token === undefined ? 'open' : createHash('sha256').update(token).digest('hex');

  api.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return undefined;
    const header = request.headers['idempotency-key'];
    if (header === undefined) return undefined;
    if (typeof header !== 'string' || !KEY.test(header)) {
      return sendProblem(reply, problem('BAD_INPUT', 'Idempotency-Key: must be 1 to 255 printable ASCII characters, sent once'));
    }
    if (!store) return sendProblem(reply, problem('UNAVAILABLE', 'Idempotency-Key: this server keeps no idempotency records'));
    const key = createHash('sha256').update(`${scope}\0${header}`).digest('hex');
    const ours = randomUUID();
    let claim: Awaited<ReturnType<IdempotencyStore['claim']>>;
    try {
      claim = await store.claim(key, fingerprint(request), { leaseMs: LEASE_MS, keepSeconds: KEEP_SECONDS, token: ours });
    } catch (error) {
      // The claim may still land (DynamoDB answered too late): give it up afterwards, or every retry would wait out the lease.
      releaseLater(store, key, ours);
      throw error;
    }
    switch (claim.kind) {
      case 'claimed':
        request.idempotencyClaim = { key, token: claim.token };
        return undefined;
      case 'replay':
        for (const [name, value] of Object.entries(claim.answer.headers)) reply.header(name, value);
        reply.header('idempotent-replayed', 'true');
        return reply.code(claim.answer.status).send(claim.answer.body);
      case 'mismatch':
        return sendProblem(reply, problem('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key: this key was used with another request (method, path, If-Match or body); use a new key for a new request'));
      case 'running':
        reply.header('retry-after', '1');
        return sendProblem(reply, problem('IDEMPOTENCY_KEY_IN_USE', 'Idempotency-Key: the first request with this key is still running; retry shortly'));
    }
  });

  // Recorded before the answer leaves: a client that never gets it retries and is answered from the record.
  api.addHook('onSend', async (request, reply, payload) => {
    const claimed = request.idempotencyClaim;
    if (!claimed || !store) return payload;
    request.idempotencyClaim = undefined;
    try {
      if (reply.statusCode >= 300 || typeof payload !== 'string') {
        await store.release(claimed.key, claimed.token);
      } else {
        await store.complete(claimed.key, claimed.token, { status: reply.statusCode, headers: keptHeaders(reply), body: payload });
      }
    } catch (error) {
      // The write itself stands; only a retry with this key may run it again.
      request.log.warn({ err: error }, 'the idempotency record could not be updated');
    }
    return payload;
  });
}

/** Releases a claim whose outcome is unknown, a few times over the next half minute (each is a no-op once released). */
function releaseLater(store: IdempotencyStore, key: string, token: string): void {
  // Each is a no-op once released; spread over a minute so that a stall of DynamoDB longer than a few seconds is covered too.
  for (const delay of [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]) {
    setTimeout(() => {
      store.release(key, token).catch(() => undefined);
    }, delay).unref();
  }
}

/**
 * What makes two requests the same: the method, the route and its decoded
 * parameters, the query (parsed, keys sorted), If-Match, and the body (keys
 * sorted): however the URL was spelled (`%2D` for `-`, a trailing `?`).
 */
function fingerprint(request: FastifyRequest): string {
  const hash = createHash('sha256');
  hash.update(stringifyExact(sorted({ method: request.method, route: request.routeOptions.url ?? '', params: request.params ?? {}, query: request.query ?? {} })));
  hash.update(`\n${request.headers['if-match'] ?? ''}\n${request.headers['if-none-match'] ?? ''}\n`);
  hash.update(stringifyExact(sorted(request.body ?? null)));
  return hash.digest('hex');
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])]));
  }
  return value;
}

function keptHeaders(reply: FastifyReply): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) kept[name] = String(value);
  }
  return kept;
}
