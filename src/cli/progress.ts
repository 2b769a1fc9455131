/*
 * One status line on stderr for a person at a terminal: redrawn in place with
 * a carriage return and erase-line, never wider than the terminal (a wrapped
 * line cannot be erased), at most ten times a second, and cleared before
 * anything else is printed. On a terminal without cursor control (TERM=dumb)
 * it prints an occasional plain line instead.
 */

import { cut, displayWidth } from './layout.js';

export interface ProgressSink {
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** The terminal's width now (it may be resized); undefined when unknown. */
  columns(): number | undefined;
  /** TERM=dumb: no control sequences. */
  dumb: boolean;
  now?: () => number;
}

/** Draws the line for a terminal this many columns wide. */
export type Draw = (columns: number) => string;

const REDRAW_MS = 100;
const DUMB_LINE_MS = 5_000;
const DEFAULT_COLUMNS = 80;
const ERASE = '\r\x1b[K';

export class ProgressLine {
  private draw: Draw | undefined;
  private drawn = false;
  private stopped = false;
  private lastPaint: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly sink: ProgressSink,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    // A dumb terminal's first plain line comes after one interval: a short run prints none.
    this.lastPaint = options.dumb ? this.now() : -Infinity;
  }

  /** Sets what the line shows; it is painted now or at the next allowed moment. */
  show(draw: Draw): void {
    if (this.stopped) return;
    this.draw = draw;
    const interval = this.options.dumb ? DUMB_LINE_MS : REDRAW_MS;
    const wait = this.lastPaint + interval - this.now();
    if (wait <= 0) {
      this.paint();
    } else if (!this.timer && !this.options.dumb) {
      // The latest state is painted when the interval ends, even if no update follows.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.paint();
      }, wait);
      this.timer.unref?.();
    }
  }

  /** Erases the line (before a warning, a result or the summary); the next show() paints it again. */
  clear(): void {
    if (this.drawn) this.sink.write(ERASE);
    this.drawn = false;
  }

  /** Erases the line for good. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private paint(): void {
    if (this.stopped || !this.draw) return;
    this.lastPaint = this.now();
    // A pty that was never sized reports 0 columns.
    const columns = this.options.columns() || DEFAULT_COLUMNS;
    if (this.options.dumb) {
      this.sink.write(`${fit(this.draw(columns), columns)}\n`);
    } else {
      this.sink.write(`\r${fit(this.draw(columns), columns)}\x1b[K`);
      this.drawn = true;
    }
  }
}

/** Cuts `text` to fit one row: one column short of the width, since writing the last column makes some terminals wrap. */
export function fit(text: string, columns: number): string {
  return cut(text, Math.max(columns - 1, 1));
}

/** `[#####-----]` filling `width` columns for a fraction between 0 and 1. */
export function bar(fraction: number, width: number): string {
  const inner = Math.max(width - 2, 0);
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * inner);
  return `[${'#'.repeat(filled)}${'-'.repeat(inner - filled)}]`;
}

/**
 * The widest of the candidate lines that fits, tried in order; the last is cut
 * if none fits. Lets a drawer offer a long form and shorter fallbacks.
 */
export function widest(columns: number, candidates: string[]): string {
  const room = Math.max(columns - 1, 1);
  for (const candidate of candidates) if (displayWidth(candidate) <= room) return candidate;
  return fit(candidates[candidates.length - 1] ?? '', columns);
}
