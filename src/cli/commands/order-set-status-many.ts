import type { NumberedLine } from '../../core/bulk.js';
import { ShopError, isShopError, type ErrorCode } from '../../core/errors.js';
import { parseStatus } from '../../core/status.js';
import { parsePositiveInteger, validateId } from '../../core/validate.js';
import { openSource, type LineSource } from '../bulk-io.js';
import { Interrupted, type CommandContext } from '../context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import type { Progress } from '../output.js';
import { printable, Renderer } from '../render.js';
import { widest } from '../progress.js';

/*
 * `order set-status --ids-from <file|-> <status>`: one process, one DynamoDB
 * client, many orders. Ids are read as a stream; at most `concurrency` moves
 * are in flight and at most 4 × `concurrency` results wait to be printed, so
 * memory stays flat whatever the input's length (apart from the ids already
 * seen, kept to process each id once). Results are printed in input order.
 */

export interface SetStatusManyFlags {
  idsFrom: string;
  status: string;
  expect: string | undefined;
  force: boolean;
  concurrency: string | undefined;
}

export const DEFAULT_MANY_CONCURRENCY = 16;
export const MAX_MANY_CONCURRENCY = 256;

/**
 * Failures that say DynamoDB cannot be used at all: the run stops at the first, instead of failing every id slowly.
 * BAD_INPUT here comes from the settings (no region, say): ids and statuses are checked before the move is sent.
 */
const STOPPING: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT', 'THROTTLED', 'ACCESS_DENIED', 'TABLE_NOT_FOUND', 'BAD_INPUT']);

/** One line of output, as printed in JSON mode. */
type ResultRecord =
  | { orderId: string; result: 'updated' | 'unchanged' }
  | { orderId?: string; line?: number; error: { code: string; message: string } };

interface Slot {
  /** Set once the id's outcome is known (at once for a bad line). */
  record: ResultRecord | undefined;
}

export interface ManySummary {
  /** Non-blank lines read. */
  read: number;
  updated: number;
  unchanged: number;
  /** Bad lines, and ids whose move failed. */
  failed: number;
  /** Lines repeating an id already read: not processed again, no result line. */
  duplicates: number;
  /** Lines read after a service failure stopped the run: never sent. */
  notAttempted: number;
}

export async function orderSetStatusMany(ctx: CommandContext, flags: SetStatusManyFlags): Promise<void> {
  ctx.stopsGracefully();
  const { signal } = ctx;
  // Everything the user typed is checked before the input is opened or DynamoDB is called.
  const status = parseStatus(flags.status, 'status');
  if (flags.expect !== undefined) parseStatus(flags.expect, 'expect');
  const concurrency = flags.concurrency === undefined ? DEFAULT_MANY_CONCURRENCY : parsePositiveInteger(flags.concurrency, 'concurrency', MAX_MANY_CONCURRENCY);
  const windowSize = concurrency * 4;

  let source: LineSource;
  try {
    source = await openSource(flags.idsFrom, ctx.stdin, { rereadable: false, signal, onExit: ctx.onExit });
  } catch (error) {
    if (signal.aborted) throw new Interrupted(' while opening the input (nothing was changed)');
    throw asIdsFromError(error);
  }
  const { orders } = await ctx.services();
  // Result lines are drawn by the output's own renderer (fitted to stdout); this one draws the summary on stderr.
  const render = ctx.out.mode === 'table' ? new Renderer(ctx.config.color, ctx.out.stderrColumns) : undefined;
  const progress = ctx.out.progress(ctx.out.mode === 'json' ? { whileStdoutIsPiped: true } : {});

  const summary: ManySummary = { read: 0, updated: 0, unchanged: 0, failed: 0, duplicates: 0, notAttempted: 0 };
  const seen = new Set<string>();
  const window: Slot[] = [];
  let inFlight = 0;
  let lastLine = 0;
  /** The first service failure: nothing more is sent after it. */
  let fatal: ShopError | undefined;
  /** Failures by error code, for the final error. */
  const byCode = new Map<ErrorCode, number>();

  let wake: (() => void) | undefined;
  const changed = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  signal.addEventListener('abort', notify);

  const failed = (error: ShopError) => {
    summary.failed++;
    byCode.set(error.code, (byCode.get(error.code) ?? 0) + 1);
  };

  const move = async (slot: Slot, orderId: string) => {
    try {
      const { result } = await orders.setStatus({ orderId, status, expect: flags.expect, force: flags.force });
      summary[result === 'updated' ? 'updated' : 'unchanged']++;
      slot.record = { orderId, result: result === 'updated' ? 'updated' : 'unchanged' };
    } catch (caught) {
      const error = isShopError(caught) ? caught : new ShopError('INTERNAL', `unexpected error: ${caught instanceof Error ? caught.message.split('\n')[0] : String(caught)}`, { cause: caught });
      failed(error);
      if (STOPPING.has(error.code)) fatal ??= error;
      slot.record = { orderId, error: { code: error.code, message: error.message } };
    } finally {
      inFlight--;
      notify();
    }
  };

  /** Prints the results at the head of the window that are known, in input order. */
  const emit = async () => {
    const ready: ResultRecord[] = [];
    while (window.length > 0 && window[0]?.record !== undefined) ready.push((window.shift() as Slot).record as ResultRecord);
    if (ready.length === 0) return;
    if (render) await ctx.out.result(undefined, (lines) => ready.map((record) => humanLine(lines, record)).join('\n'));
    else await ctx.out.records(ready);
    showProgress(progress, summary);
  };

  const stopping = () => signal.aborted || fatal !== undefined;
  const lines = source.lines(signal);
  try {
    try {
      for await (const line of lines) {
        if (stopping()) {
          // After a service failure the rest is only counted; a signal or a closed stdout ends reading.
          if (signal.aborted) break;
          summary.read++;
          summary.notAttempted++;
          lastLine = line.number;
          continue;
        }
        summary.read++;
        lastLine = line.number;
        const parsed = idOf(line);
        if (parsed instanceof ShopError) {
          failed(parsed);
          window.push({ record: { line: line.number, ...(line.notUtf8 || line.tooLong ? {} : { orderId: line.text }), error: { code: parsed.code, message: parsed.message } } });
        } else if (seen.has(parsed)) {
          summary.duplicates++;
          continue;
        } else {
          seen.add(parsed);
          const slot: Slot = { record: undefined };
          window.push(slot);
          inFlight++;
          void move(slot, parsed);
        }
        await emit();
        // Backpressure: reading waits while the pool or the reorder window is full.
        while ((inFlight >= concurrency || window.length >= windowSize) && !stopping()) {
          await changed();
          await emit();
        }
      }
    } catch (error) {
      if (!signal.aborted) throw asIdsFromError(error);
    }
    // Every id sent gets its answer and its line: nothing is left half-done (each call is bounded by --timeout).
    while (inFlight > 0) {
      await changed();
      await emit();
    }
    await emit();
  } finally {
    signal.removeEventListener('abort', notify);
    progress.stop();
    source.dispose();
  }

  const complete = summary.failed === 0 && summary.notAttempted === 0 && !signal.aborted;
  printSummary(ctx, render, summary, status, complete);

  if (signal.aborted) {
    throw new Interrupted(`: stopped reading after line ${lastLine}; every id read before the stop has its result line (${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed)`);
  }
  if (fatal) {
    const rest = summary.notAttempted > 0 ? `; stopped at the first such failure: ${summary.notAttempted} more ${plural(summary.notAttempted, 'id')} after it ${summary.notAttempted === 1 ? 'was' : 'were'} not attempted` : '';
    throw new ShopError(fatal.code, `${fatal.message}${rest}`, { cause: fatal, ...(fatal.hint ? { hint: fatal.hint } : {}) });
  }
  if (!complete) {
    // The exit code of the gravest kind of failure (unexpected, conflict, not found, bad line), with its most frequent error code.
    const exit = [EXIT.unexpected, EXIT.conflict, EXIT.notFound, EXIT.usage].find((candidate) => [...byCode.keys()].some((name) => exitCodeFor(name) === candidate)) ?? EXIT.unexpected;
    const ranked = [...byCode].sort(([a, countA], [b, countB]) => countB - countA || a.localeCompare(b));
    const code: ErrorCode = ranked.find(([name]) => exitCodeFor(name) === exit)?.[0] ?? 'INTERNAL';
    const kinds = ranked.map(([name, count]) => `${count} ${name}`).join(', ');
    throw new ShopError(code, `${summary.failed} of ${summary.read - summary.duplicates} ${plural(summary.read - summary.duplicates, 'id')} did not end in ${status} (${kinds}); each has its error on its result line`);
  }
}

/** The id on a line: the line as it stands (a CRLF's \r already removed), refused if it is not a valid order id. */
function idOf(line: NumberedLine): string | ShopError {
  if (line.notUtf8) return new ShopError('BAD_INPUT', `line ${line.number}: not valid UTF-8`);
  if (line.tooLong) return new ShopError('BAD_INPUT', `line ${line.number}: longer than 4 MiB; no order id is that long`);
  try {
    return validateId(line.text, 'orderId');
  } catch (error) {
    if (isShopError(error)) return new ShopError('BAD_INPUT', `line ${line.number}: ${error.message}`);
    throw error;
  }
}

/** openSource words its errors for import's NDJSON file; here the input is --ids-from's. */
function asIdsFromError(error: unknown): unknown {
  if (!isShopError(error, 'BAD_INPUT') || !error.message.startsWith('file: ')) return error;
  return new ShopError('BAD_INPUT', `--ids-from: ${error.message.slice('file: '.length).replace('not an NDJSON file', 'not a file of ids')}`, { cause: error });
}

const LABEL_WIDTH = 10;

function humanLine(render: Renderer, record: ResultRecord): string {
  if ('result' in record) return render.prose(`${record.result.padEnd(LABEL_WIDTH)}${printable(record.orderId)}`, LABEL_WIDTH);
  // Most messages name the order already; a service failure does not.
  const subject = record.orderId === undefined || record.line !== undefined || record.error.message.includes(record.orderId) ? '' : `${printable(record.orderId)}: `;
  return render.prose(`${'failed'.padEnd(LABEL_WIDTH)}${subject}${printable(record.error.message)}`, LABEL_WIDTH);
}

function showProgress(progress: Progress, summary: ManySummary): void {
  progress.show((columns) => {
    const done = summary.updated + summary.unchanged + summary.failed;
    return widest(columns, [
      `setting status | ${done} done: ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed`,
      `${done} done: u ${summary.updated} n ${summary.unchanged} f ${summary.failed}`,
      `u ${summary.updated} n ${summary.unchanged} f ${summary.failed}`,
    ]);
  });
}

/** The summary on stderr: a JSON line `{"summary":{…}}` in JSON mode, a ✓ line (or ! for a partial run) at a terminal. */
function printSummary(ctx: CommandContext, render: Renderer | undefined, summary: ManySummary, status: string, complete: boolean): void {
  if (!render) {
    ctx.out.stderr.write(`${JSON.stringify({ summary })}\n`);
    return;
  }
  const extra = `${summary.duplicates ? `, ${summary.duplicates} ${plural(summary.duplicates, 'duplicate')} skipped` : ''}${summary.notAttempted ? `, ${summary.notAttempted} not attempted` : ''}`;
  const ids = summary.read - summary.duplicates;
  const counts = `${ids} ${plural(ids, 'id')} → ${status}: ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed${extra}`;
  ctx.out.stderr.write(`${complete ? render.done(counts) : render.partial(counts)}\n`);
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}
