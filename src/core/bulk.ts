import { ShopError, isShopError } from './errors.js';
import { JsonError, parseStrict } from './json.js';

/*
 * Bulk import: newline-delimited JSON in, validated line by line with the
 * rules of the single commands, written in batches at a bounded concurrency.
 * Memory stays flat: lines are consumed as they arrive, and reading pauses
 * while `concurrency` batches are in flight.
 */

/**
 * The longest line import reads, in bytes: above DynamoDB's 400 KB item limit
 * with room for JSON escaping (which can triple a string). A longer line is an
 * invalid line, skipped without being held in memory.
 */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** After a stop (signal), how long batches already sent may take to settle before they are abandoned. */
export const SETTLE_AFTER_STOP_MS = 5_000;

export interface NumberedLine {
  number: number;
  text: string;
  /** The line's bytes were not valid UTF-8 (then `text` is empty). */
  notUtf8?: boolean;
  /** The line was longer than MAX_LINE_BYTES and was skipped unread (then `text` is empty). */
  tooLong?: boolean;
}

export interface ImportSummary {
  /** Non-blank lines read. */
  read: number;
  written: number;
  /** Ids that already existed and were left alone (no --overwrite). */
  skipped: number;
  /** Invalid lines, plus items whose batch could not be written. */
  failed: number;
  /**
   * Only after a stop: valid items whose batch was still in flight when the
   * settle bound ran out; DynamoDB may or may not have written them.
   */
  abandoned?: number;
  /** Only after a stop: valid items read but never handed to DynamoDB; certainly not written. */
  notSent?: number;
}

/**
 * A batch that failed: what had been written before the failure (a replace
 * goes out in several requests), the ids found to exist, and whether DynamoDB
 * refused the items themselves (a ValidationException): then writing them one
 * at a time finds the offending one.
 */
export class BatchError<T> extends Error {
  constructor(
    readonly error: ShopError,
    readonly written: T[],
    readonly conflicts: string[],
    readonly refused: boolean,
  ) {
    super(error.message, { cause: error });
  }
}

/** The writes import needs; src/store implements them with DynamoDB's batch operations. */
export interface BulkWriter<T> {
  /** Items per request in each mode. */
  readonly batchSize: { insert: number; replace: number };
  /**
   * Writes each item whose id is free, all-or-nothing per item; resolves with
   * the items written and the ids that existed; rejects with a BatchError.
   */
  insertNew(items: T[], onSent?: (count: number) => void): Promise<{ written: T[]; conflicts: string[] }>;
  /**
   * Writes every item, replacing existing ones with a version above the one
   * replaced; resolves with the items as written; rejects with a BatchError
   * that says which items were written before the failure.
   */
  replace(items: T[], onSent?: (count: number) => void): Promise<T[]>;
}

/** Bulk writes plus the parallel scan behind export. */
export interface BulkStore<T> extends BulkWriter<T> {
  scan(segments: number): AsyncIterable<T[]>;
}

export interface ImportOptions {
  overwrite: boolean;
  concurrency: number;
  onInvalidLine(line: number, error: ShopError): void;
  onConflict(id: string): void;
  onProgress?(summary: ImportSummary): void;
  /** After each batch is committed; the services use it to refresh cached copies. */
  afterWrite?(items: unknown[]): Promise<void>;
  /**
   * Stops the import (a signal): no more lines are read or batches sent, the
   * batches in flight get `settleMs` to finish, and the counts so far are returned.
   */
  signal?: AbortSignal;
  settleMs?: number;
}

export interface Importable<T> {
  parse(value: unknown): T;
  idOf(item: T): string;
  writer: BulkWriter<T>;
}

/** What OrderService and CartService offer for bulk work: their record rules, their table, their cache refresh. */
export class BulkService<T> {
  constructor(
    private readonly kind: Pick<Importable<T>, 'parse' | 'idOf'>,
    private readonly store: BulkStore<T> | undefined,
    private readonly refreshCached: (item: T) => Promise<void>,
  ) {}

  import(lines: AsyncIterable<NumberedLine>, options: Omit<ImportOptions, 'afterWrite'>): Promise<ImportSummary> {
    return importLines(lines, { ...this.kind, writer: this.requireStore() }, {
      ...options,
      afterWrite: async (items) => {
        await Promise.all((items as T[]).map((item) => this.refreshCached(item)));
      },
    });
  }

  validate(lines: AsyncIterable<NumberedLine>, onInvalidLine: ImportOptions['onInvalidLine'], signal?: AbortSignal): Promise<{ read: number; failed: number }> {
    return validateLines(lines, this.kind, onInvalidLine, signal);
  }

  /** Every item in the table, read by `segments` parallel scans, streamed page by page. */
  export(segments: number): AsyncIterable<T[]> {
    return this.requireStore().scan(segments);
  }

  private requireStore(): BulkStore<T> {
    if (!this.store) throw new ShopError('INTERNAL', 'bulk operations need a bulk store');
    return this.store;
  }
}

export const MAX_CONCURRENCY = 64;

/** Validates every line without writing anything: the first pass of `--strict`. */
export async function validateLines<T>(
  lines: AsyncIterable<NumberedLine>,
  kind: Pick<Importable<T>, 'parse'>,
  onInvalidLine: ImportOptions['onInvalidLine'],
  signal?: AbortSignal,
): Promise<{ read: number; failed: number }> {
  let read = 0;
  let failed = 0;
  for await (const line of lines) {
    if (signal?.aborted) break;
    read++;
    const parsed = parseLine(line, kind.parse);
    if (parsed instanceof ShopError) {
      failed++;
      onInvalidLine(line.number, parsed);
    }
  }
  return { read, failed };
}

/** Imports the lines; resolves with the counts, or rejects with the service error that stopped it (carrying the counts so far). */
export async function importLines<T>(lines: AsyncIterable<NumberedLine>, kind: Importable<T>, options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { read: 0, written: 0, skipped: 0, failed: 0 };
  const size = options.overwrite ? kind.writer.batchSize.replace : kind.writer.batchSize.insert;
  // Each batch in flight: its item count, and how many of them the writer has sent to DynamoDB so far
  // (after a stop whose bound runs out, those are abandoned; the rest were never sent).
  const inFlight = new Map<Promise<void>, Progress>();
  const { signal } = options;
  let fatal: unknown;
  // Each item with its line number: a line DynamoDB refuses is reported by number.
  let batch: Array<{ item: T; line: number }> = [];
  let batchIds = new Set<string>();

  // Ids in batches sent and not yet finished: a repeat waits for its earlier line, so the first line wins.
  const inFlightIds = new Map<string, Promise<void>>();

  const flush = async () => {
    const entries = batch;
    batch = [];
    batchIds = new Set();
    if (entries.length === 0) return;
    const ids = entries.map((entry) => kind.idOf(entry.item));
    const progress: Progress = { size: entries.length, sent: 0 };
    const task: Promise<void> = writeBatch(entries, progress).finally(() => {
      inFlight.delete(task);
      for (const id of ids) if (inFlightIds.get(id) === task) inFlightIds.delete(id);
    });
    inFlight.set(task, progress);
    for (const id of ids) inFlightIds.set(id, task);
    // Backpressure: stop reading while the pool is full (or until a stop).
    while (inFlight.size >= options.concurrency && !signal?.aborted) await firstOrStop([...inFlight.keys()], signal);
  };

  // Set once the counts are returned: a batch abandoned after a stop must not change them afterwards.
  let done = false;
  /** Writes the items; counts what was written and skipped, and rethrows a failure with what it had written by then. */
  const write = async (items: T[], progress: Progress): Promise<void> => {
    let written: T[];
    let conflicts: string[] = [];
    const onSent = (count: number) => {
      progress.sent = Math.min(progress.size, progress.sent + count);
    };
    try {
      if (options.overwrite) written = await kind.writer.replace(items, onSent);
      else ({ written, conflicts } = await kind.writer.insertNew(items, onSent));
    } catch (error) {
      if (!done && error instanceof BatchError) await counted(error.written as T[], error.conflicts);
      throw error;
    }
    if (!done) await counted(written, conflicts);
  };
  const counted = async (written: T[], conflicts: string[]) => {
    summary.written += written.length;
    summary.skipped += conflicts.length;
    conflicts.forEach((id) => options.onConflict(id));
    await options.afterWrite?.(written);
  };
  const writeBatch = async (entries: Array<{ item: T; line: number }>, progress: Progress) => {
    try {
      await write(entries.map((entry) => entry.item), progress);
    } catch (error) {
      if (done) return;
      const failure = error instanceof BatchError ? error : undefined;
      const settled = new Set([...(failure?.written ?? []).map((item) => kind.idOf(item as T)), ...(failure?.conflicts ?? [])]);
      const rest = entries.filter((entry) => !settled.has(kind.idOf(entry.item)));
      if (failure?.refused) await oneByOne(rest, progress);
      else fail(rest.length, error);
    }
    if (!done) options.onProgress?.(summary);
  };
  // DynamoDB refused a batch for what an item holds: one request per item finds the line, and the others are written.
  const oneByOne = async (entries: Array<{ item: T; line: number }>, progress: Progress) => {
    for (const [index, entry] of entries.entries()) {
      if (done) return;
      try {
        await write([entry.item], progress);
      } catch (error) {
        if (done) return;
        if (error instanceof BatchError && error.refused) {
          summary.failed++;
          // shopdb's own refusal (BAD_INPUT, decided before sending) is already worded; DynamoDB's is named as its.
          options.onInvalidLine(entry.line, error.error.code === 'BAD_INPUT' ? error.error : new ShopError('BAD_INPUT', `DynamoDB refused the item: ${error.message}`, { cause: error }));
          continue;
        }
        fail(entries.length - index, error);
        return;
      }
    }
  };
  const fail = (count: number, error: unknown) => {
    summary.failed += count;
    fatal ??= error instanceof BatchError ? error.error : error;
  };

  for await (const line of lines) {
    if (fatal || signal?.aborted) break;
    summary.read++;
    const parsed = parseLine(line, kind.parse);
    if (parsed instanceof ShopError) {
      summary.failed++;
      options.onInvalidLine(line.number, parsed);
      continue;
    }
    // One batch must not touch an id twice (DynamoDB refuses it), and a repeat must not race its earlier line.
    const id = kind.idOf(parsed);
    if (batchIds.has(id)) await flush();
    const earlier = inFlightIds.get(id);
    if (earlier) await firstOrStop([earlier], signal);
    batch.push({ item: parsed, line: line.number });
    batchIds.add(id);
    if (batch.length >= size) await flush();
  }
  // After a stop the lines already read are still sent: then read = written + skipped + failed (+ abandoned + notSent).
  if (!fatal) await flush();
  if (signal?.aborted) {
    await settle(inFlight, options.settleMs ?? SETTLE_AFTER_STOP_MS);
    const unsettled = [...inFlight.values()];
    const abandoned = unsettled.reduce((sum, progress) => sum + progress.sent, 0);
    const notSent = unsettled.reduce((sum, progress) => sum + progress.size - progress.sent, 0);
    if (abandoned > 0) summary.abandoned = abandoned;
    if (notSent > 0) summary.notSent = notSent;
  } else {
    await Promise.all(inFlight.keys());
  }
  done = true;
  options.onProgress?.(summary);
  if (fatal) throw Object.assign(isShopError(fatal) ? fatal : new ShopError('INTERNAL', String(fatal), { cause: fatal }), { summary });
  return summary;
}

/** A batch's items, and how many of them have been handed to DynamoDB. */
interface Progress {
  size: number;
  sent: number;
}

/**
 * Resolves when the first of `tasks` settles or `signal` aborts, whichever comes first (never rejects).
 * The abort listener is removed again: racing against one long-lived "stopped" promise instead would
 * leave a reaction on it for every wait — one per imported line — for the whole import.
 */
function firstOrStop(tasks: Array<Promise<unknown>>, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    for (const task of tasks) task.then(done, done);
  });
}

/** Waits for the batches in flight, or `ms`, whichever comes first; the ones left are abandoned. */
async function settle(inFlight: Map<Promise<void>, Progress>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(inFlight.keys()), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function parseLine<T>(line: NumberedLine, parse: (value: unknown) => T): T | ShopError {
  if (line.notUtf8) return new ShopError('BAD_INPUT', 'not valid UTF-8');
  if (line.tooLong) return new ShopError('BAD_INPUT', `longer than ${MAX_LINE_BYTES} bytes (4 MiB), the longest line import reads`);
  let value: unknown;
  try {
    value = parseStrict(line.text);
  } catch (error) {
    if (error instanceof JsonError) return new ShopError('BAD_INPUT', error.message);
    throw error;
  }
  try {
    return parse(value);
  } catch (error) {
    if (isShopError(error)) return error;
    throw error;
  }
}

/** The counts an import had reached when a service error stopped it. */
export function summaryOf(error: unknown): ImportSummary | undefined {
  return (error as { summary?: ImportSummary } | undefined)?.summary;
}
