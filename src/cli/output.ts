import { ShopError } from '../core/errors.js';
import { cut, displayWidth, usableColumns } from './layout.js';
import type { Renderer } from './render.js';

export interface TextSink {
  write(text: string): unknown;
  /** Present on real streams: lets long outputs wait for the reader (backpressure). */
  once?(event: 'drain', listener: () => void): unknown;
}

export interface Streams {
  stdout: TextSink;
  stderr: TextSink;
  /** A spinner is drawn only where a person watches stderr. */
  stderrIsTty?: boolean;
  /** Terminal widths, when the stream is a terminal: human output is fitted to them. */
  stdoutColumns?: number | undefined;
  stderrColumns?: number | undefined;
}

export interface Spinner {
  update(message: string): void;
  stop(): void;
}

const SPINNER_FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

/**
 * stdout carries results only (one JSON object per line when piped);
 * everything meant for a person — progress, warnings, errors — goes to stderr.
 */
export class Output {
  private renderer: Renderer | undefined;

  constructor(
    private readonly streams: Streams,
    readonly mode: 'json' | 'table',
    private readonly color: boolean,
    readonly verbose: boolean,
  ) {}

  /** Prints a result: `data` as one JSON line, or what `human` draws for a terminal. */
  async result(data: unknown, human: (render: Renderer) => string): Promise<void> {
    if (this.mode === 'json') {
      this.streams.stdout.write(`${JSON.stringify(data)}\n`);
      return;
    }
    const render = await this.loadRenderer();
    this.streams.stdout.write(`${human(render)}\n`);
  }

  /** NDJSON records on stdout, whatever the mode, in one write; waits while the reader is behind, so memory stays flat. */
  async records(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return;
    const { stdout } = this.streams;
    if (stdout.write(`${items.map((item) => JSON.stringify(item)).join('\n')}\n`) === false && stdout.once) {
      await new Promise<void>((resolve) => stdout.once?.('drain', resolve));
    }
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
    if (this.mode === 'table' || this.verbose) this.streams.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.streams.stderr.write(`shopdb: warning: ${message}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.streams.stderr.write(`shopdb: ${message}\n`);
  }

  error(error: ShopError | { code: string; message: string }, detail?: string): void {
    if (this.mode === 'json') {
      this.streams.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    } else {
      this.streams.stderr.write(`shopdb: ${error.message}\n`);
    }
    if (detail !== undefined && this.verbose) this.streams.stderr.write(`${detail}\n`);
  }

  /**
   * Progress on stderr for a person at a terminal; does nothing otherwise.
   * Redrawn with a carriage return and blanks only, no escape codes, so it
   * works on TERM=dumb too; cut to the terminal's width, since a line that
   * wraps can no longer be redrawn in place.
   */
  spinner(): Spinner {
    if (!this.interactive) return { update: () => {}, stop: () => {} };
    const { stderr } = this.streams;
    const columns = usableColumns(this.streams.stderrColumns);
    let message = '';
    let frame = 0;
    let drawn = 0;
    const draw = (text: string) => {
      const line = columns === undefined ? text : cut(text, columns - 1);
      const width = displayWidth(line);
      stderr.write(`\r${line}${' '.repeat(Math.max(0, drawn - width))}`);
      drawn = width;
    };
    const timer = setInterval(() => {
      if (message) draw(`${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${message}`);
    }, 80);
    timer.unref();
    return {
      update: (next) => {
        message = next;
      },
      stop: () => {
        clearInterval(timer);
        if (drawn > 0) stderr.write(`\r${' '.repeat(drawn)}\r`);
        message = '';
        drawn = 0;
      },
    };
  }

  private async loadRenderer(): Promise<Renderer> {
    // chalk and cli-table3 are loaded only when a person is reading.
    this.renderer ??= new (await import('./render.js')).Renderer(this.color, this.streams.stdoutColumns);
    return this.renderer;
  }
}
