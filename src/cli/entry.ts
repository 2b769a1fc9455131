import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { STOP_SIGNALS, type StopReason, type StopSignal } from './context.js';
import { main } from './main.js';

/*
 * The one module that touches the process: arguments, environment, streams,
 * signals, exit code. Everything below it takes them as parameters.
 */

// The SDK warns on every client construction that Node 20 support is ending; shopdb pins an SDK that supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/*
 * Stopping: the first SIGINT/SIGTERM/SIGHUP/SIGQUIT, or stdout's reader going away, aborts
 * `stop`; import and export then finish what is in flight and print their
 * summary, any other command ends at once. A second signal exits on the spot.
 */
const stop = new AbortController();
const stopWith = (reason: StopReason) => {
  if (!stop.signal.aborted) stop.abort(reason);
};
// SIGHUP (the terminal closed, ssh dropped) and SIGQUIT too: by default they would kill the process
// without its cleanups (the --strict spool, an engine being started).
for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
  process.on(name, () => {
    if (stop.signal.aborted) process.exit(STOP_SIGNALS[name]);
    stopWith(name);
  });
}

// Cleanups that must run however the process ends (they are synchronous: 'exit' allows nothing else).
const atExit = new Set<() => void>();
process.on('exit', () => {
  for (const cleanup of atExit) {
    try {
      cleanup();
    } catch {
      // Exiting anyway; the other cleanups still run.
    }
  }
});

// A closed pipe (`shopdb ... | head -1`) is the reader's choice, not an error: stop writing, exit 0.
process.stdout.on('error', (error: NodeJS.ErrnoException) => stopWith(error.code === 'EPIPE' ? 'EPIPE' : error));
// Nowhere is left to report a failing stderr.
process.stderr.on('error', () => {});

const env = process.env;

// No top-level await: the bundle is CommonJS so that it can be loaded through a V8 code cache (bin/shopdb).
void run();

async function run(): Promise<void> {
  const code = await main({
    argv: process.argv.slice(2),
    // A getter: process.stdin is created on first use, and only import reads it.
    get stdin() {
      return process.stdin;
    },
    env,
    streams: {
      stdout: process.stdout,
      stderr: process.stderr,
      stderrIsTty: process.stderr.isTTY === true,
      stdoutIsTty: process.stdout.isTTY === true,
      dumbTerminal: env.TERM === 'dumb',
      stdoutColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
      // Read on each redraw: the terminal may be resized while a progress line runs.
      get stderrColumns() {
        return process.stderr.isTTY ? process.stderr.columns : undefined;
      },
    },
    stdoutIsTty: process.stdout.isTTY === true,
    hasAwsFile: () => {
      const aws = join(homedir(), '.aws');
      return existsSync(env.AWS_SHARED_CREDENTIALS_FILE ?? join(aws, 'credentials')) || existsSync(env.AWS_CONFIG_FILE ?? join(aws, 'config'));
    },
    signal: stop.signal,
    onExit: (cleanup) => {
      atExit.add(cleanup);
      return () => atExit.delete(cleanup);
    },
    flushStdout: () =>
      new Promise<void>((resolve) => {
        // setImmediate lets the 'error' event of a failed write (emitted on nextTick) arrive first.
        const done = () => setImmediate(resolve);
        // Nothing queued (files and terminals are written synchronously): no write to wait for; an empty one would fail on /dev/full.
        if (process.stdout.destroyed || process.stdout.writableLength === 0) done();
        // A pipe: the callback comes once everything queued before it is written, or has failed.
        else process.stdout.write('', done);
      }),
  });
  if (stop.signal.aborted) {
    // A stopped run ends now, without waiting for requests it abandoned; only output still queued for a live reader gets a moment.
    if (stop.signal.reason !== 'EPIPE' && process.stdout.writableLength > 0) await flushed(process.stdout, 2_000);
    process.exit(code);
  }
  process.exitCode = code;
}

function flushed(stream: NodeJS.WriteStream, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}
