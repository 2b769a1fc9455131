import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/**
 * Splits raw bytes into lines and decodes each strictly: invalid UTF-8 is an
 * invalid line, never silently turned into U+FFFD inside an id.
 */
async function* numbered(input: Readable, onBytes: (bytes: number) => void): AsyncGenerator<NumberedLine> {
  // ignoreBOM: false strips a byte-order mark that an editor put before the first line.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let number = 0;
  let rest = Buffer.alloc(0);
  const line = (bytes: Buffer): NumberedLine | undefined => {
    number++;
    onBytes(bytes.length + 1);
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, end));
    } catch {
      return { number, text: '', notUtf8: true };
    }
    return text.trim() === '' ? undefined : { number, text };
  };
  for await (const chunk of input) {
    let data = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    for (let newline = data.indexOf(0x0a); newline !== -1; newline = data.indexOf(0x0a)) {
      const next = line(data.subarray(0, newline));
      data = data.subarray(newline + 1);
      if (next) yield next;
    }
    rest = Buffer.from(data);
  }
  if (rest.length > 0) {
    const last = line(rest);
    if (last) yield last;
  }
}
