import type { Readable } from 'node:stream';
import type { Shop } from '../app/shop.js';
import type { Config, Env } from './config.js';
import type { Output } from './output.js';

/** The services a command uses: the shared wiring's shop, without its lifecycle. */
export type Services = Omit<Shop, 'close'>;

/**
 * Why a run was asked to stop: a signal, or stdout's reader went away (EPIPE;
 * `shopdb order export | head -1`), or stdout failed otherwise.
 */
/** The signals that stop a run gracefully (a closed terminal sends SIGHUP; Ctrl-\ SIGQUIT). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGQUIT: 131 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;
export type StopReason = StopSignal | 'EPIPE' | Error;

export function isStopSignal(reason: unknown): reason is StopSignal {
  return typeof reason === 'string' && Object.hasOwn(STOP_SIGNALS, reason);
}

/** What every command receives: resolved settings, where to print, and services built on first use. */
export interface CommandContext {
  config: Config;
  out: Output;
  env: Env;
  /** Standard input, for `import -`. */
  stdin: Readable;
  services(): Promise<Services>;
  /** Aborted (with a StopReason) when the run must stop: see stopsGracefully(). */
  signal: AbortSignal;
  /**
   * Declares that the command watches `signal` itself and ends with an
   * honest summary (import, export); any other command is cut short at once.
   */
  stopsGracefully(): void;
  /**
   * Runs `cleanup` (synchronously) if the process exits while it is
   * registered, e.g. on a second signal; returns the unregistering function.
   * For what must not outlive the run, such as a spooled copy of the input.
   */
  onExit(cleanup: () => void): () => void;
}

/** Thrown by a command that stopped because its signal aborted; `detail` completes "interrupted by SIGINT". */
export class Interrupted extends Error {
  constructor(readonly detail = '') {
    super(`interrupted${detail}`);
    this.name = 'Interrupted';
  }
}

/** The documented exit codes of a stopped run: 128 + the signal's number, as shells report it; 0 when the reader closed the pipe. */
export function stopExitCode(reason: StopReason): number {
  if (isStopSignal(reason)) return STOP_SIGNALS[reason];
  if (reason === 'EPIPE') return 0;
  return 1;
}
