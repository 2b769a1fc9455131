import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { badInput } from '../core/errors.js';
import type { NumberedLine } from '../core/bulk.js';

/** Where import reads from: a file, or standard input for `-` or no argument. */
export interface LineSource {
  lines(): AsyncIterable<NumberedLine>;
  /** Bytes in the source, when known: the progress bar's total. */
  size: number | undefined;
  /** Bytes consumed so far by the current pass. */
  consumed(): number;
  dispose(): void;
}

export async function openSource(path: string | undefined, stdin: Readable, rereadable: boolean): Promise<LineSource> {
  if (path !== undefined && path !== '-') return fileSource(path, await sizeOf(path), () => {});
  if (!rereadable) return streamSource(stdin);
  // --strict reads twice (validate, then write); standard input is spooled to a private file, so memory stays flat.
  const dir = mkdtempSync(join(tmpdir(), 'shopdb-import-'));
  const spool = join(dir, 'input.ndjson');
  await pipeline(stdin, createWriteStream(spool, { mode: 0o600 }));
  return fileSource(spool, await sizeOf(spool), () => rmSync(dir, { recursive: true, force: true }));
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    throw badInput('file', `cannot read ${JSON.stringify(path.slice(0, 200))}`);
  }
}

function fileSource(path: string, size: number, dispose: () => void): LineSource {
  let consumed = 0;
  return {
    size,
    consumed: () => consumed,
    dispose,
    lines: () => {
      consumed = 0;
      return numbered(createReadStream(path), (bytes) => (consumed += bytes));
    },
  };
}

function streamSource(stream: Readable): LineSource {
  let consumed = 0;
  return { size: undefined, consumed: () => consumed, dispose: () => {}, lines: () => numbered(stream, (bytes) => (consumed += bytes)) };
}

async function* numbered(input: Readable, onBytes: (bytes: number) => void): AsyncGenerator<NumberedLine> {
  const reader = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  for await (const text of reader) {
    number++;
    onBytes(Buffer.byteLength(text) + 1);
    if (text.trim() !== '') yield { number, text };
  }
}
