import { ShopError } from '../core/errors.js';
import { stringifyExact } from '../core/json.js';
import { fit, ProgressLine, type Draw } from './progress.js';
import type { Renderer } from './render.js';

export interface TextSink {
  write(text: string): unknown;
  /** Present on real streams: lets long outputs wait for the reader (backpressure), or learn it has gone. */
  once?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  /** Present on real streams: true once the stream can take no more (e.g. the reader closed the pipe). */
  readonly destroyed?: boolean;
}

export interface Streams {
  stdout: TextSink;
  stderr: TextSink;
  /** A spinner is drawn only where a person watches stderr. */
  stderrIsTty?: boolean;
  stdoutIsTty?: boolean;
  /** TERM=dumb: the terminal cannot move the cursor or erase, so nothing is redrawn in place. */
  dumbTerminal?: boolean;
  /** Terminal widths, when the stream is a terminal: human output is fitted to them. */
  stdoutColumns?: number | undefined;
  stderrColumns?: number | undefined;
}

export interface Spinner {
  update(message: string): void;
  stop(): void;
}

const SPINNER_FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

/** A status line that draws nothing: where no person watches a terminal. */
export interface Progress {
  show(draw: Draw): void;
  stop(): void;
}

/**
 * stdout carries results only (one JSON object per line when piped);
 * everything meant for a person — progress, warnings, errors — goes to stderr.
 */
export class Output {
  private renderer: Renderer | undefined;
  /** The status line on stderr, if one is drawn: erased before anything else is printed. */
  private status: ProgressLine | undefined;

  constructor(
    private readonly streams: Streams,
    readonly mode: 'json' | 'table',
    private readonly color: boolean,
    readonly verbose: boolean,
  ) {}

  /** Prints a result: `data` as one JSON line, or what `human` draws for a terminal. */
  async result(data: unknown, human: (render: Renderer) => string): Promise<void> {
    if (this.mode === 'json') {
      this.writeOut(`${stringifyExact(data)}\n`);
      return;
    }
    const render = await this.loadRenderer();
    this.writeOut(`${human(render)}\n`);
  }

  /**
   * NDJSON records on stdout, whatever the mode, in one write; waits while the
   * reader is behind, so memory stays flat. Resolves at once if the reader has
   * gone (a closed pipe): the caller learns of it from its abort signal.
   */
  async records(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return;
    const { stdout } = this.streams;
    if (stdout.destroyed) return;
    if (stdout.write(`${items.map((item) => stringifyExact(item)).join('\n')}\n`) === false && stdout.once && !stdout.destroyed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          for (const event of ['drain', 'close', 'error'] as const) stdout.off?.(event, done);
          resolve();
        };
        for (const event of ['drain', 'close', 'error'] as const) stdout.once?.(event, done);
      });
    }
  }

  /**
   * A status line on stderr (progress of a long command): drawn when stderr is
   * a terminal and a person reads the results there too (table mode), or, with
   * `whileStdoutIsPiped`, only when the results go to a file or pipe; otherwise it draws nothing.
   */
  progress(options: { whileStdoutIsPiped?: boolean } = {}): Progress {
    const stdoutPiped = this.streams.stdoutIsTty !== true;
    // With whileStdoutIsPiped the line is drawn only then: records on the same terminal would run into it.
    const wanted = this.streams.stderrIsTty === true && (options.whileStdoutIsPiped === true ? stdoutPiped : this.interactive);
    if (!wanted) return { show: () => {}, stop: () => {} };
    const line = new ProgressLine(this.streams.stderr, { columns: () => this.streams.stderrColumns, dumb: this.streams.dumbTerminal === true });
    this.status = line;
    return {
      show: (draw) => line.show(draw),
      stop: () => {
        line.stop();
        if (this.status === line) this.status = undefined;
      },
    };
  }

  /** Whether a person watches stderr at a terminal (progress bars, spinners). */
  get interactive(): boolean {
    return this.mode === 'table' && this.streams.stderrIsTty === true;
  }

  /** Columns of the terminal on stderr, when it is one (progress lines are fitted to it). */
  get stderrColumns(): number | undefined {
    return this.streams.stderrColumns;
  }

  get stderr(): TextSink {
    return this.streams.stderr;
  }

  /** A note for a person on stderr, e.g. progress; silent in JSON mode unless verbose. */
  info(message: string): void {
    if (this.mode === 'table' || this.verbose) this.writeErr(`${message}\n`);
  }

  warn(message: string): void {
    this.writeErr(`shopdb: warning: ${message}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.writeErr(`shopdb: ${message}\n`);
  }

  error(error: ShopError | { code: string; message: string }, detail?: string): void {
    if (this.mode === 'json') {
      this.writeErr(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    } else {
      this.writeErr(`shopdb: ${error.message}\n`);
    }
    if (detail !== undefined && this.verbose) this.writeErr(`${detail}\n`);
  }

  /** Progress on stderr for a person at a terminal; does nothing otherwise (nor on TERM=dumb, where it cannot animate). */
  spinner(): Spinner {
    if (!this.interactive || this.streams.dumbTerminal) return { update: () => {}, stop: () => {} };
    const line = this.progress();
    let message = '';
    let frame = 0;
    const timer = setInterval(() => {
      if (message) line.show((columns) => fit(`${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${message}`, columns));
    }, 80);
    timer.unref();
    return {
      update: (next) => {
        message = next;
      },
      stop: () => {
        clearInterval(timer);
        line.stop();
        message = '';
      },
    };
  }

  private writeOut(text: string): void {
    // stdout and stderr may be the same terminal: the status line must not run into a result.
    if (this.streams.stdoutIsTty) this.status?.clear();
    this.streams.stdout.write(text);
  }

  private writeErr(text: string): void {
    this.status?.clear();
    this.streams.stderr.write(text);
  }

  private async loadRenderer(): Promise<Renderer> {
    // chalk and cli-table3 are loaded only when a person is reading.
    this.renderer ??= new (await import('./render.js')).Renderer(this.color, this.streams.stdoutColumns);
    return this.renderer;
  }
}
