import { readFile } from 'node:fs/promises';
import { badInput, isShopError, ShopError } from '../../core/errors.js';
import { parsePositiveInteger } from '../../core/validate.js';
import type { CommandContext } from '../context.js';

export interface ServeInput {
  host?: string | undefined;
  port?: string | undefined;
  tokenFile?: string | undefined;
  bodyLimit?: string | undefined;
  shutdownTimeout?: string | undefined;
  requestTimeout?: string | undefined;
  logLevel?: string | undefined;
}

const DEFAULT_PORT = 8080;
const DEFAULT_SHUTDOWN_SECONDS = 10;
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
 */
export async function serve(ctx: CommandContext, input: ServeInput): Promise<void> {
  ctx.stopsGracefully();
  const host = input.host ?? '127.0.0.1';
  const port = input.port === undefined ? DEFAULT_PORT : parsePort(input.port);
  const bodyLimit = input.bodyLimit === undefined ? 64 * 1024 : parsePositiveInteger(input.bodyLimit, 'body-limit', MAX_BODY_LIMIT);
  const shutdownSeconds = input.shutdownTimeout === undefined ? DEFAULT_SHUTDOWN_SECONDS : parsePositiveInteger(input.shutdownTimeout, 'shutdown-timeout', 3600);
  const requestSeconds = input.requestTimeout === undefined ? 30 : parsePositiveInteger(input.requestTimeout, 'request-timeout', 3600);
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
    await closeWithin(server, shutdownSeconds * 1000);
  } finally {
    await app?.close().catch(() => undefined);
    await shop.close();
  }
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
