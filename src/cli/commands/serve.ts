import { readFile } from 'node:fs/promises';
import { badInput, isShopError, ShopError } from '../../core/errors.js';
import type { FollowerEvents } from '../../core/follower.js';
import { tableNames } from '../../core/tables.js';
import { parsePositiveInteger } from '../../core/validate.js';
import type { RunningFollower } from '../../app/follow.js';
import type { CommandContext } from '../context.js';

export interface ServeInput {
  host?: string | undefined;
  port?: string | undefined;
  tokenFile?: string | undefined;
  bodyLimit?: string | undefined;
  shutdownTimeout?: string | undefined;
  requestTimeout?: string | undefined;
  logLevel?: string | undefined;
  /** Run the cache follower next to the server (program.ts turns --cache on with it). */
  follow?: boolean | undefined;
  followLeaseSeconds?: string | undefined;
}

const DEFAULT_PORT = 8080;
const DEFAULT_SHUTDOWN_SECONDS = 10;
const DEFAULT_FOLLOW_LEASE_SECONDS = 10;
/** While DynamoDB does not answer at start, the follower's start is retried this often at most. */
const MAX_FOLLOW_RETRY_MS = 15_000;
/** A token shorter than this is refused: it could be guessed. */
const MIN_TOKEN_LENGTH = 16;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** The most a body limit may be set to: DynamoDB's item limit is 400 KB, and a body past 1 MiB can only be a mistake. */
const MAX_BODY_LIMIT = 1024 * 1024;

/**
 * Runs the HTTP API until the run is asked to stop (SIGINT, SIGTERM, SIGHUP):
 * then it stops accepting connections, lets the requests in flight finish
 * (at most --shutdown-timeout seconds, then they are cut), closes its clients
 * and ends with exit 0.
 *
 * With --follow the cache follower (app/follow.ts, as `cache follow` runs it)
 * runs next to the server: its lines go through the server's log, its
 * counters to /metrics, and it stops with the server (the batch in hand
 * finished, its leases released), within the same --shutdown-timeout. A table
 * without a stream stops the start; a DynamoDB that does not answer yet
 * leaves the follower retrying in the background while the server serves.
 */
export async function serve(ctx: CommandContext, input: ServeInput): Promise<void> {
  ctx.stopsGracefully();
  const host = input.host ?? '127.0.0.1';
  const port = input.port === undefined ? DEFAULT_PORT : parsePort(input.port);
  const bodyLimit = input.bodyLimit === undefined ? 64 * 1024 : parsePositiveInteger(input.bodyLimit, 'body-limit', MAX_BODY_LIMIT);
  const shutdownSeconds = input.shutdownTimeout === undefined ? DEFAULT_SHUTDOWN_SECONDS : parsePositiveInteger(input.shutdownTimeout, 'shutdown-timeout', 3600);
  const requestSeconds = input.requestTimeout === undefined ? 30 : parsePositiveInteger(input.requestTimeout, 'request-timeout', 3600);
  if (input.followLeaseSeconds !== undefined && input.follow !== true) throw badInput('follow-lease-seconds', 'only applies with --follow');
  const followLeaseSeconds = input.followLeaseSeconds === undefined ? DEFAULT_FOLLOW_LEASE_SECONDS : parsePositiveInteger(input.followLeaseSeconds, 'follow-lease-seconds', 3600);
  const logLevel = input.logLevel ?? (ctx.config.verbose ? 'debug' : 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw badInput('log-level', `use one of ${LOG_LEVELS.join(', ')}`);
  const token = await readToken(input.tokenFile, ctx.env.SHOPDB_API_TOKEN);
  if (token === undefined && !isLoopback(host)) {
    throw badInput('host', `${host} is reachable from other machines; serving it needs a token (SHOPDB_API_TOKEN or --token-file)`);
  }

  const [{ openShop }, { buildServer }, { createMetrics }] = await Promise.all([import('../../app/shop.js'), import('../../server/app.js'), import('../../server/metrics.js')]);
  const metrics = createMetrics();
  const stderr = ctx.out.stderr;
  // Before the server exists, warnings go to standard error as the CLI prints them; afterwards through the log.
  let log: { warn(message: string): void; debug(message: string): void } = { warn: (message) => ctx.out.warn(message), debug: (message) => ctx.out.debug(message) };
  const shop = await openShop(ctx.config, {
    debug: (message) => log.debug(message),
    warn: (message) => log.warn(message),
    dynamoCall: (call) => metrics.dynamoCall(call),
    cacheError: () => metrics.cacheError(),
  });
  let app: Awaited<ReturnType<typeof buildServer>> | undefined;
  let following: Following | undefined;
  try {
    app = await buildServer({
      shop,
      token,
      bodyLimit,
      idempotencyStore: shop.idempotency,
      log: { level: logLevel, destination: { write: (line) => stderr.write(line) } },
      location: ctx.config.location,
      requestTimeoutMs: requestSeconds * 1000,
      metrics,
    });
    const server = app;
    log = { warn: (message) => server.log.warn(message), debug: (message) => server.log.debug(message) };
    // A setting that can never work (no region) stops the start; a DynamoDB that does not answer yet only makes /readyz say so.
    try {
      await shop.tables.status();
    } catch (error) {
      if (isShopError(error, 'BAD_INPUT')) throw error;
      server.log.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'DynamoDB is not ready; /readyz answers 503 until it is');
    }
    if (input.follow === true) {
      const names = tableNames(ctx.config.tablePrefix);
      const followLog = server.log.child({ component: 'follower' });
      let running: RunningFollower | undefined;
      const reports = metrics.follower([names.orders, names.carts], () => running?.stats());
      const { startFollower } = await import('../../app/follow.js');
      following = await follow(
        async () => {
          running = await startFollower(ctx.config, { leaseSeconds: followLeaseSeconds }, {
            info: (message) => followLog.info(message),
            warn: (message) => followLog.warn(message),
            applied: (batch) => {
              reports.applied(batch);
              // One line per batch that carried records, at debug (--log-level debug, or --verbose), as cache follow --verbose prints them.
              const { stored, dropped, seen, skipped } = batch.outcomes;
              if (stored + dropped + seen + skipped > 0) {
                followLog.debug(
                  { table: batch.table, shard: batch.shard, stored, dropped, seen, skipped, lagMs: batch.lagMs },
                  `${batch.table} shard ${batch.shard}: ${stored} stored, ${dropped} dropped, ${seen} already applied, ${skipped} older than the horizon`,
                );
              }
            },
            failed: (kind) => reports.failed(kind),
          } satisfies FollowerEvents);
          followLog.info(
            { worker: running.worker, leaseSeconds: followLeaseSeconds, horizonSeconds: running.horizonSeconds },
            `following ${names.orders} and ${names.carts} into Redis (worker ${running.worker}, lease ${followLeaseSeconds} s, records older than ${running.horizonSeconds} s skipped)`,
          );
          return running;
        },
        { signal: ctx.signal, log: followLog, failed: () => reports.failed('stream') },
      );
    }
    if (ctx.signal.aborted) return;
    let address: string;
    try {
      address = await server.listen({ host, port });
    } catch (error) {
      throw listenError(error, host, port);
    }
    const bound = server.server.address();
    const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
    await ctx.out.result({ listening: address, host, port: boundPort, auth: token === undefined ? 'none' : 'bearer' }, (render) =>
      render.done(`Listening on ${address}${token === undefined ? ' (no token: loopback only)' : ' (bearer token required)'}; stop with Ctrl-C`),
    );
    await stopped(ctx.signal);
    server.log.info({ reason: String(ctx.signal.reason) }, 'stopping: no new connections, finishing the requests in flight');
    await Promise.all([closeWithin(server, shutdownSeconds * 1000), following?.stop(shutdownSeconds * 1000)]);
  } finally {
    await following?.stop(shutdownSeconds * 1000);
    await app?.close().catch(() => undefined);
    await shop.close();
  }
}

interface Following {
  /** Stops the follower (or its start, still retried): at most `ms`, after which its leases are left to expire. Once only; later calls wait for the first. */
  stop(ms: number): Promise<void>;
}

interface FollowLog {
  info(fields: object, message: string): void;
  warn(message: string): void;
}

/**
 * Starts the follower. A setting or table that cannot work (no stream: exit 4,
 * no table, no region) throws, and serve does not start. A DynamoDB that does
 * not answer (UNAVAILABLE) is retried in the background, as the server itself
 * waits for it with /readyz: each failure counts as a stream error.
 */
async function follow(start: () => Promise<RunningFollower>, options: { signal: AbortSignal; log: FollowLog; failed(): void }): Promise<Following> {
  const { signal, log } = options;
  let running: RunningFollower | undefined;
  let retrying: Promise<void> | undefined;
  try {
    running = await start();
  } catch (error) {
    if (!isShopError(error, 'UNAVAILABLE')) throw error;
    options.failed();
    log.warn(`the cache follower cannot start yet (${messageOf(error)}); retrying in the background: cached reads follow only shopdb's own writes until it runs`);
    retrying = (async () => {
      let wait = 1000;
      let last = messageOf(error);
      while (!signal.aborted) {
        await pause(wait, signal);
        if (signal.aborted) return;
        try {
          running = await start();
          return;
        } catch (again) {
          options.failed();
          // Each new reason once (a table without a stream, once DynamoDB answers, waits for tables create).
          if (messageOf(again) !== last) log.warn(`the cache follower cannot start yet (${messageOf(again)}); retrying in the background`);
          last = messageOf(again);
          wait = Math.min(MAX_FOLLOW_RETRY_MS, wait * 2);
        }
      }
    })();
  }
  let stopping: Promise<void> | undefined;
  return {
    stop(ms) {
      stopping ??= (async () => {
        const started = Date.now();
        const stopped = (async () => {
          await retrying;
          if (running === undefined) return;
          const stats = running.stats();
          await running.stop();
          log.info({ records: stats.records, errors: stats.errors }, `cache follower stopped: ${stats.records} records applied, ${stats.errors} errors; leases released`);
        })();
        const late = await Promise.race([stopped.then(() => false), pauseFor(ms).then(() => true)]);
        if (late) log.warn(`the cache follower did not stop within ${Math.round((Date.now() - started) / 1000)} s; its leases are left to expire`);
      })();
      return stopping;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function pauseFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function parsePort(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw badInput('port', `${JSON.stringify(text)} is not a port; use 0 (any free port) or 1 to 65535`);
  return Number(text);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

async function readToken(file: string | undefined, fromEnv: string | undefined): Promise<string | undefined> {
  let token: string | undefined;
  let source: string;
  if (file !== undefined) {
    source = 'token-file';
    try {
      token = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (error) {
      throw badInput('token-file', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  } else {
    source = 'SHOPDB_API_TOKEN';
    token = fromEnv;
  }
  if (token === undefined) return undefined;
  if (!/^[\x21-\x7e]+$/.test(token)) throw badInput(source, 'the token must be printable ASCII without spaces (it travels in an Authorization header)');
  if (token.length < MIN_TOKEN_LENGTH) throw badInput(source, `the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
  return token;
}

function listenError(error: unknown, host: string, port: number): ShopError {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') return new ShopError('UNAVAILABLE', `port ${port} on ${host} is already in use`, { cause: error });
  if (code === 'EACCES') return new ShopError('UNAVAILABLE', `no permission to listen on ${host}:${port}`, { cause: error });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return badInput('host', `${host} is not an address of this machine`);
  return new ShopError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function stopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** fastify's close waits for the requests in flight; past the bound, the remaining connections are cut. */
async function closeWithin(app: { close(): Promise<void>; server: { closeAllConnections(): void } }, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const outcome = await Promise.race([app.close().then(() => 'closed' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') app.server.closeAllConnections();
}
