/**
 * A throwaway redis-server for tests and benchmarks (the CLI never starts
 * Redis). Readiness is probed with raw RESP so this module stays independent
 * of the Redis client library under test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShopError } from '../core/errors.js';

export interface RedisOptions {
  port: number;
  password?: string;
  readyTimeoutMs?: number;
  /** More redis-server options, e.g. a TLS port beside the plain one used for the readiness probe. */
  extraArgs?: string[];
}

export interface RunningRedis {
  port: number;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  pid: number;
  /** SIGTERM, escalating to SIGKILL if Redis lingers. */
  stop(): Promise<void>;
  /** Synchronous SIGKILL, safe to call from a process 'exit' handler. */
  kill(): void;
}

const HOST = '127.0.0.1';
const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1000;
const STOP_GRACE_MS = 3000;
const OUTPUT_TAIL_CHARS = 2000;

export async function startRedis(options: RedisOptions): Promise<RunningRedis> {
  const { port, password, readyTimeoutMs = 10_000 } = options;
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', ...(options.extraArgs ?? [])];
  if (password !== undefined) args.push('--requirepass', password);

  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutputTail(child);
  await spawned(child);
  const pid = child.pid as number;

  try {
    await waitForPong(port, readyTimeoutMs, child, output);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  const credentials = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return {
    port,
    url: `redis://${credentials}${HOST}:${port}`,
    pid,
    stop: () => stopChild(child),
    kill: () => {
      if (!hasExited(child)) child.kill('SIGKILL');
    },
  };
}

async function spawned(child: ChildProcess): Promise<void> {
  try {
    await once(child, 'spawn');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ShopError(
        'UNAVAILABLE',
        'redis-server was not found on PATH; install it (e.g. apt-get install -y redis-server)',
        { cause: error },
      );
    }
    throw new ShopError('UNAVAILABLE', `redis-server could not be started: ${(error as Error).message}`, { cause: error });
  }
}

/** Redis logs start-up failures (port taken, bad option) to stdout; keep the tail to explain an early exit. */
function collectOutputTail(child: ChildProcess): { text: string } {
  const tail = { text: '' };
  const append = (chunk: string) => {
    tail.text = (tail.text + chunk).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  return tail;
}

async function waitForPong(
  port: number,
  timeoutMs: number,
  child: ChildProcess,
  output: { text: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited(child)) {
      const how = child.exitCode === null ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
      throw new ShopError('UNAVAILABLE', `redis-server on port ${port} ${how} before it was ready:\n${output.text.trim()}`);
    }
    if (await answersPing(port, Math.min(PROBE_TIMEOUT_MS, Math.max(1, deadline - Date.now())))) return;
    if (Date.now() >= deadline) {
      throw new ShopError('UNAVAILABLE', `redis-server did not answer PING on ${HOST}:${port} within ${timeoutMs} ms`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** NOAUTH still proves the server is serving commands. */
function answersPing(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    let reply = '';
    const finish = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.on('end', () => finish(false));
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
