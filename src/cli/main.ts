import { CommanderError } from 'commander';
import type { Readable } from 'node:stream';
import { ShopError } from '../core/errors.js';
import { resolveConfig, type Env, type GlobalOptions } from './config.js';
import type { Shop } from '../app/shop.js';
import { Interrupted, stopExitCode, type CommandContext, type StopReason } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { renderHint, type HintSettings } from './hints.js';
import { Output, type Streams } from './output.js';
import { buildProgram } from './program.js';

export interface Runtime {
  argv: string[];
  stdin: Readable;
  env: Env;
  streams: Streams;
  stdoutIsTty: boolean;
  /** Whether ~/.aws/credentials or ~/.aws/config exists (then the SDK's chain is used, even locally). */
  hasAwsFile: () => boolean;
  /** Aborted with a StopReason on SIGINT/SIGTERM or when stdout's reader has gone. */
  signal?: AbortSignal;
  /** Registers a synchronous cleanup for an abrupt exit (a second signal); returns its remover. */
  onExit?: (cleanup: () => void) => () => void;
  /** Resolves once what was written to stdout has been handed to the system (or failed: then `signal` aborts with the error). */
  flushStdout?: () => Promise<void>;
}

/** Runs one shopdb invocation and returns its exit code; it never throws and never exits the process. */
export async function main(runtime: Runtime): Promise<number> {
  const { argv, env, streams, stdoutIsTty } = runtime;
  const signal = runtime.signal ?? new AbortController().signal;
  // Until the options are parsed, errors are printed the way the arguments most likely ask.
  let out = new Output(streams, guessOutputMode(argv, env, stdoutIsTty), false, argv.includes('--verbose'));

  const program = buildProgram(
    async (command, body) => {
      const config = resolveConfig(command.optsWithGlobals(), env, stdoutIsTty, runtime.hasAwsFile());
      out = new Output(streams, config.output, config.color, config.verbose);
      let opened: Promise<Shop> | undefined;
      let graceful = false;
      const ctx: CommandContext = {
        config,
        out,
        env,
        // Read when a command reads it: creating process.stdin costs a few milliseconds of every start.
        get stdin() {
          return runtime.stdin;
        },
        services: async () => {
          opened ??= import('../app/shop.js').then((module) =>
            module.openShop(config, { debug: (message) => out.debug(message), warn: (message) => out.warn(message) }),
          );
          return opened;
        },
        signal,
        stopsGracefully: () => {
          graceful = true;
        },
        onExit: runtime.onExit ?? (() => () => {}),
      };
      try {
        await untilStopped(body(ctx), signal, () => graceful);
      } finally {
        await (await opened?.catch(() => undefined))?.close();
      }
    },
    { writeOut: (text) => streams.stdout.write(text), writeErr: (text) => streams.stderr.write(text) },
  );

  let code: number;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = EXIT.ok;
  } catch (error) {
    if (signal.aborted && (signal.reason !== 'EPIPE' || error instanceof Interrupted)) return stopped(signal.reason as StopReason, error, out);
    code = report(error, out, { flags: program.opts<GlobalOptions>(), env });
  }
  // A failed write to stdout (a full disk, /dev/full) is reported asynchronously: the run is not over until stdout has taken everything.
  await runtime.flushStdout?.();
  if (signal.aborted && signal.reason instanceof Error) return stopped(signal.reason, undefined, out);
  return code;
}

/**
 * The command's own promise, or, for a command that does not stop gracefully,
 * an Interrupted rejection as soon as the run is asked to stop: the work in
 * flight is left to the process's exit.
 */
function untilStopped(work: Promise<void>, signal: AbortSignal, graceful: () => boolean): Promise<void> {
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      if (!graceful()) reject(new Interrupted());
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // Whichever loses the race must not surface as an unhandled rejection.
  work.catch(() => {});
  cut.catch(() => {});
  return Promise.race([work, cut]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

/** Ends a stopped run: one line saying so (none for a closed pipe), and the documented exit code. */
function stopped(reason: StopReason, error: unknown, out: Output): number {
  const detail = error instanceof Interrupted ? error.detail : '';
  if (reason instanceof Error) {
    out.error({ code: 'INTERNAL', message: `cannot write to standard output: ${reason.message}` });
  } else if (reason !== 'EPIPE') {
    out.error({ code: 'INTERRUPTED', message: `interrupted by ${reason}${detail}` });
  }
  return stopExitCode(reason);
}

function report(error: unknown, out: Output, given: { flags: GlobalOptions; env: Env }): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
    // Commander has already printed the help text for a bare `shopdb order`.
    if (error.code === 'commander.help') return EXIT.usage;
    // Commander repeats what was typed; a mistyped --redis-url=... may hold a password.
    const message = error.message
      .replace(/^error: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .replace(/:\/\/[^\s@/]*@/g, '://***@');
    out.error({ code: 'BAD_INPUT', message: `${message} (see --help)` });
    return EXIT.usage;
  }
  if (error instanceof ShopError) {
    const exitCode = exitCodeFor(error.code);
    const message = error.hint === undefined ? error.message : `${error.message}${error.message.endsWith('?') ? ' ' : '; '}${renderHint(error.hint, hintSettings(given))}`;
    // A stack trace helps with what shopdb did not expect, never with a known failure.
    out.error({ code: error.code, message }, exitCode === EXIT.unexpected ? stackOf(error.cause ?? error) : undefined);
    return exitCode;
  }
  // A chunk of the build missing or cut short (bin/code-cache.cjs names it): the fix is a build, not a report.
  if (error instanceof Error && (error as { code?: unknown }).code === 'SHOPDB_INCOMPLETE_BUILD') {
    out.error({ code: 'INTERNAL', message: error.message });
    return EXIT.unexpected;
  }
  const message = error instanceof Error ? error.message : String(error);
  const details = out.verbose ? '' : 'run with --verbose for details; ';
  out.error({ code: 'INTERNAL', message: `unexpected error: ${message.split('\n')[0]} (${details}please report it)` }, stackOf(error));
  return EXIT.unexpected;
}

/** The settings in use, resolved as the command resolved them; defaults where they cannot be (the error may be about them). */
function hintSettings({ flags, env }: { flags: GlobalOptions; env: Env }): HintSettings {
  try {
    const config = resolveConfig(flags, env, false, false);
    return { flags, tablePrefix: config.tablePrefix, timeoutMs: config.timeoutMs };
  } catch {
    return { flags, tablePrefix: flags.tablePrefix ?? '', timeoutMs: 10_000 };
  }
}

function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function guessOutputMode(argv: string[], env: Env, stdoutIsTty: boolean): 'json' | 'table' {
  const index = argv.indexOf('--output');
  if (argv.includes('--json') || argv.includes('--output=json') || (index !== -1 && argv[index + 1] === 'json')) return 'json';
  if (argv.includes('--output=table') || (index !== -1 && argv[index + 1] === 'table')) return 'table';
  if (env.SHOPDB_OUTPUT === 'json' || env.SHOPDB_OUTPUT === 'table') return env.SHOPDB_OUTPUT;
  return stdoutIsTty ? 'table' : 'json';
}
