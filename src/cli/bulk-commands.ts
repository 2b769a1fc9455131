import { MAX_CONCURRENCY, summaryOf, type BulkService, type ImportSummary } from '../core/bulk.js';
import { ShopError } from '../core/errors.js';
import { parsePositiveInteger } from '../core/validate.js';
import { openSource, type LineSource } from './bulk-io.js';
import { Interrupted, type CommandContext } from './context.js';
import type { Progress } from './output.js';
import { bar, widest } from './progress.js';

export interface ImportFlags {
  file: string | undefined;
  strict: boolean;
  overwrite: boolean;
  concurrency: string | undefined;
  /** No per-line warnings or errors; the summary and the final error still print. */
  quiet?: boolean;
}

/** Reported one by one up to this many (of each kind: invalid lines, skipped ids); then only counted, so a wrong file cannot flood the terminal. */
const MAX_REPORTED_LINES = 50;
const DEFAULT_CONCURRENCY = 8;

/** Counts reports and prints the first MAX_REPORTED_LINES of them (none with --quiet). */
function capped(quiet: boolean, print: (message: string) => void) {
  let count = 0;
  return {
    report: (message: string) => {
      if (++count <= MAX_REPORTED_LINES && !quiet) print(message);
    },
    /** Reports left out after the cap (all of them with --quiet, which asked for silence). */
    get unshown() {
      return quiet ? 0 : Math.max(count - MAX_REPORTED_LINES, 0);
    },
  };
}

/**
 * `order import` and `cart import`: the same flow over either table. On a
 * stop (a signal) reading ends, batches in flight settle, and the summary so
 * far is printed before the Interrupted error.
 */
export async function runImport<T>(ctx: CommandContext, kind: 'order' | 'cart', bulk: BulkService<T>, flags: ImportFlags): Promise<void> {
  ctx.stopsGracefully();
  const { signal } = ctx;
  const concurrency = flags.concurrency === undefined ? DEFAULT_CONCURRENCY : parsePositiveInteger(flags.concurrency, 'concurrency', MAX_CONCURRENCY);
  const quiet = flags.quiet === true;
  const invalid = capped(quiet, (message) => ctx.out.error({ code: 'BAD_INPUT', message }));
  const existing = capped(quiet, (message) => ctx.out.warn(message));
  const onInvalidLine = (line: number, error: ShopError) => invalid.report(`line ${line}: ${error.message}`);

  let source: LineSource;
  try {
    source = await openSource(flags.file, ctx.stdin, { rereadable: flags.strict, signal, onExit: ctx.onExit });
  } catch (error) {
    if (signal.aborted) throw new Interrupted(' while reading the input (nothing was written)');
    throw error;
  }
  const progress = ctx.out.progress();
  try {
    if (flags.strict) {
      const { read, failed } = await bulk.validate(source.lines(signal), onInvalidLine, signal);
      if (signal.aborted) throw new Interrupted(` while validating (${read} lines checked); nothing was written`);
      if (failed > 0) {
        throw new ShopError('BAD_INPUT', `${failed} of ${read} lines are invalid; nothing was written (--strict)`);
      }
    }
    let summary: ImportSummary;
    try {
      summary = await bulk.import(source.lines(signal), {
        overwrite: flags.overwrite,
        concurrency,
        onInvalidLine,
        onConflict: (id) => existing.report(`${kind} ${id} already exists; skipped (--overwrite replaces it)`),
        onProgress: (counts) => showImport(progress, source, counts),
        signal,
      });
    } catch (error) {
      const partial = summaryOf(error);
      progress.stop();
      if (partial) await printSummary(ctx, partial, false);
      throw error;
    }
    progress.stop();
    if (existing.unshown > 0) ctx.out.warn(`${existing.unshown} more existing ${plural(existing.unshown, kind)} were skipped (not shown)`);
    await printSummary(ctx, summary, !signal.aborted);
    if (signal.aborted) {
      const abandoned = summary.abandoned ? `; ${summary.abandoned} ${plural(summary.abandoned, kind)} in batches still in flight were abandoned and may or may not be written` : '';
      const notSent = summary.notSent ? `; ${summary.notSent} read but never sent (not written)` : '';
      throw new Interrupted(`: stopped reading after line ${summary.read}${abandoned}${notSent}`);
    }
    if (summary.failed > 0) {
      const unreported = invalid.unshown > 0 ? ` (${invalid.unshown} more not shown)` : '';
      throw new ShopError('BAD_INPUT', `${summary.failed === 1 ? '1 invalid line was skipped' : `${summary.failed} invalid lines were skipped`}${unreported}`);
    }
  } finally {
    progress.stop();
    source.dispose();
  }
}

function showImport(progress: Progress, source: LineSource, counts: ImportSummary): void {
  const { size } = source;
  const consumed = source.consumed();
  progress.show((columns) => {
    const tally = `written ${counts.written}, skipped ${counts.skipped}, failed ${counts.failed}`;
    const short = `w ${counts.written} s ${counts.skipped} f ${counts.failed}`;
    if (size === undefined || size === 0) return widest(columns, [`importing | ${tally}`, `importing ${short}`, short]);
    const fraction = Math.min(consumed / size, 1);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const text = `${percent} | ${tally}`;
    // The bar takes the room left, within reason; on a narrow terminal it goes first.
    const barWidth = Math.min(columns - 1 - `importing  ${text}`.length, 40);
    return widest(columns, [...(barWidth >= 12 ? [`importing ${bar(fraction, barWidth)} ${text}`] : []), `importing ${text}`, `${percent} ${short}`]);
  });
}

/**
 * `order export` and `cart export`: NDJSON on stdout, streamed as the parallel
 * scan delivers it. Stops on a signal (printing how many were exported) or when
 * stdout's reader has gone (`| head -1`: quietly).
 */
export async function runExport<T>(ctx: CommandContext, kind: 'order' | 'cart', bulk: BulkService<T>, segmentsFlag: string | undefined): Promise<void> {
  ctx.stopsGracefully();
  const segments = segmentsFlag === undefined ? 4 : parsePositiveInteger(segmentsFlag, 'segments', MAX_CONCURRENCY);
  // A count on stderr while the records go to a file or a pipe.
  const progress = ctx.out.progress({ whileStdoutIsPiped: true });
  let count = 0;
  try {
    for await (const page of bulk.export(segments)) {
      if (ctx.signal.aborted) break;
      await ctx.out.records(page);
      count += page.length;
      progress.show((columns) => widest(columns, [`exporting | ${count} ${plural(count, kind)} written to stdout`, `exported ${count}`]));
    }
  } finally {
    progress.stop();
  }
  if (ctx.signal.aborted) throw new Interrupted(` after exporting ${count} ${plural(count, kind)}`);
  ctx.out.info(`exported ${count} ${plural(count, kind)}`);
}

/** `finished`: false when an error or a stop follows the summary; then it is never a tick, whatever the counts. */
async function printSummary(ctx: CommandContext, summary: ImportSummary, finished: boolean): Promise<void> {
  const abandoned = `${summary.abandoned ? `, abandoned ${summary.abandoned} (in flight)` : ''}${summary.notSent ? `, not sent ${summary.notSent}` : ''}`;
  const counts = `read ${summary.read}, written ${summary.written}, skipped ${summary.skipped} (existing), failed ${summary.failed}${abandoned}`;
  // A tick only for an import that did all it was given; anything failed or abandoned is marked as partial.
  await ctx.out.result(summary, (render) => (!finished || summary.failed > 0 || summary.abandoned || summary.notSent ? render.partial(counts) : render.done(counts)));
}

function plural(count: number, kind: 'order' | 'cart'): string {
  return count === 1 ? kind : `${kind}s`;
}
