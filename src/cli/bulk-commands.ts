import { MAX_CONCURRENCY, summaryOf, type BulkService, type ImportSummary } from '../core/bulk.js';
import { ShopError } from '../core/errors.js';
import { parsePositiveInteger } from '../core/validate.js';
import { openSource } from './bulk-io.js';
import type { CommandContext } from './context.js';

export interface ImportFlags {
  file: string | undefined;
  strict: boolean;
  overwrite: boolean;
  concurrency: string | undefined;
}

/** Reported line by line up to this many; then only counted, so a wrong file cannot flood the terminal. */
const MAX_REPORTED_LINES = 50;
const DEFAULT_CONCURRENCY = 8;

/** `order import` and `cart import`: the same flow over either table. */
export async function runImport<T>(ctx: CommandContext, kind: 'order' | 'cart', bulk: BulkService<T>, flags: ImportFlags): Promise<void> {
  const concurrency = flags.concurrency === undefined ? DEFAULT_CONCURRENCY : parsePositiveInteger(flags.concurrency, 'concurrency', MAX_CONCURRENCY);
  const source = await openSource(flags.file, ctx.stdin, flags.strict);
  let reported = 0;
  const onInvalidLine = (line: number, error: ShopError) => {
    if (++reported <= MAX_REPORTED_LINES) ctx.out.error({ code: error.code, message: `line ${line}: ${error.message}` });
  };
  const progress = ctx.out.interactive ? await progressBar(ctx, source.size) : undefined;
  try {
    if (flags.strict) {
      const { read, failed } = await bulk.validate(source.lines(), onInvalidLine);
      if (failed > 0) {
        throw new ShopError('BAD_INPUT', `${failed} of ${read} lines are invalid; nothing was written (--strict)`);
      }
    }
    let summary: ImportSummary;
    try {
      summary = await bulk.import(source.lines(), {
        overwrite: flags.overwrite,
        concurrency,
        onInvalidLine,
        onConflict: (id) => ctx.out.warn(`${kind} ${id} already exists; skipped (--overwrite replaces it)`),
        onProgress: (counts) => progress?.update(source.consumed(), counts),
      });
    } catch (error) {
      const partial = summaryOf(error);
      if (partial) await printSummary(ctx, partial);
      throw error;
    }
    progress?.stop();
    await printSummary(ctx, summary);
    if (summary.failed > 0) {
      const unreported = reported > MAX_REPORTED_LINES ? ` (${reported - MAX_REPORTED_LINES} not shown)` : '';
      throw new ShopError('BAD_INPUT', `${summary.failed} invalid lines were skipped${unreported}`);
    }
  } finally {
    progress?.stop();
    source.dispose();
  }
}

/** `order export` and `cart export`: NDJSON on stdout, streamed as the parallel scan delivers it. */
export async function runExport<T>(ctx: CommandContext, kind: 'order' | 'cart', bulk: BulkService<T>, segmentsFlag: string | undefined): Promise<void> {
  const segments = segmentsFlag === undefined ? 4 : parsePositiveInteger(segmentsFlag, 'segments', MAX_CONCURRENCY);
  let count = 0;
  for await (const page of bulk.export(segments)) {
    await ctx.out.records(page);
    count += page.length;
  }
  ctx.out.info(`exported ${count} ${kind}s`);
}

async function printSummary(ctx: CommandContext, summary: ImportSummary): Promise<void> {
  await ctx.out.result(summary, (render) =>
    render.done(`read ${summary.read}, written ${summary.written}, skipped ${summary.skipped} (existing), failed ${summary.failed}`),
  );
}

async function progressBar(ctx: CommandContext, total: number | undefined) {
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    stream: ctx.out.stderr as unknown as NodeJS.WritableStream,
    format: total === undefined ? 'importing | written {written} · skipped {skipped} · failed {failed}' : 'importing [{bar}] {percentage}% | written {written} · skipped {skipped} · failed {failed}',
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total ?? 0, 0, { written: 0, skipped: 0, failed: 0 });
  let stopped = false;
  return {
    update: (consumed: number, counts: ImportSummary) => bar.update(total === undefined ? 0 : consumed, { ...counts }),
    stop: () => {
      if (!stopped) bar.stop();
      stopped = true;
    },
  };
}
