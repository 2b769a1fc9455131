import { execa, type ResultPromise } from 'execa';
import { BIN, testEnv } from './cli.js';

/**
 * A real `shopdb serve` process on a free port (--port 0), against the shared
 * DynamoDB Local (and Redis when `args` ask for a cache), for e2e tests.
 */
export interface Served {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Everything the process wrote to stderr so far (pino's JSON lines). */
  logs(): string;
  stdout(): string;
  pid: number;
  /** Sends `signal` (default SIGTERM) and waits for the exit; returns its code. */
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
  /** Resolves with the exit code when the process ends on its own. */
  exited: Promise<number | undefined>;
}

export interface ServeOptions {
  prefix?: string;
  env?: Record<string, string | undefined>;
  /** Extra arguments: global options (before `serve`) are accepted after it too by commander. */
  args?: string[];
  /** How long to wait for the listening line (ms). */
  readyTimeoutMs?: number;
}

export async function startServe(options: ServeOptions = {}): Promise<Served> {
  const child: ResultPromise = execa(BIN, ['serve', '--port', '0', ...(options.args ?? [])], {
    reject: false,
    env: testEnv(options.prefix, options.env),
    extendEnv: true,
    stdin: 'ignore',
    buffer: false,
    // A graceful stop may take the whole --shutdown-timeout (10 s by default); execa's own SIGKILL after 5 s would cut it.
    forceKillAfterDelay: 20_000,
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = child.then((result) => result.exitCode);
  const listening = await new Promise<{ listening: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its address within the time allowed; stderr: ${err}`)), options.readyTimeoutMs ?? 30_000);
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((candidate) => candidate.startsWith('{"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { listening: string; port: number });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening; stderr: ${err}`));
    });
  });
  return {
    url: `http://127.0.0.1:${listening.port}`,
    port: listening.port,
    pid: child.pid as number,
    logs: () => err,
    stdout: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when empty). */
  body: T;
}

/** One request with the platform's fetch (undici); JSON bodies are sent as given (a string) or stringified. */
export async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; token?: string } = {},
): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed as T };
}
