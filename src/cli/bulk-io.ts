import { closeSync, constants, createReadStream, createWriteStream, fstatSync, mkdtempSync, openSync, rmSync, statSync, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_LINE_BYTES, type NumberedLine } from '../core/bulk.js';
import { badInput } from '../core/errors.js';

/** Where import reads from: a file, or standard input for `-` or no argument. */
export interface LineSource {
  /** The lines of one pass; reading ends quietly when `signal` aborts. */
  lines(signal?: AbortSignal): AsyncIterable<NumberedLine>;
  /** Bytes in the source, when known: the progress bar's total. */
  size: number | undefined;
  /** Bytes consumed so far by the current pass. */
  consumed(): number;
  /** Removes the spooled copy, if any; safe to call twice. */
  dispose(): void;
}

export interface SourceOptions {
  /** Read twice (--strict): a stream is then spooled to a private temporary file first. */
  rereadable: boolean;
  /** Stops spooling. */
  signal?: AbortSignal;
  /** Registers the spool's removal for an abrupt exit (a second signal). */
  onExit?: (cleanup: () => void) => () => void;
}

/**
 * Opens the input: a regular file, a named pipe, or standard input (`-` or
 * no argument). A directory, a device or a socket is refused up front:
 * `/dev/zero` or `/dev/tty` would otherwise be read for ever.
 */
export async function openSource(path: string | undefined, stdin: Readable, options: SourceOptions): Promise<LineSource> {
  if (path === undefined || path === '-') {
    refuseDeviceStdin(stdin);
    return options.rereadable ? spool(stdin, 'standard input', options) : streamSource(stdin, 'standard input');
  }
  const name = JSON.stringify(path.slice(0, 200));
  let kind;
  try {
    kind = await stat(path);
  } catch (error) {
    throw badInput('file', `cannot read ${name}${codeOf(error)}`);
  }
  if (kind.isFile()) return fileSource(path, name, kind.size);
  if (kind.isFIFO()) {
    // A pipe can be read once only.
    const stream = createReadStream(path);
    unblockOpenOnStop(stream, path, options);
    return options.rereadable ? spool(stream, name, options) : streamSource(stream, name);
  }
  if (kind.isDirectory()) throw badInput('file', `${name} is a directory, not an NDJSON file`);
  throw badInput('file', `${name} is a device or socket, not a file or pipe (use - for standard input)`);
}

/**
 * Standard input that is a device other than a terminal (`< /dev/zero`,
 * `< /dev/urandom`) would be read for ever: bad input, as a named device is.
 * /dev/null (an empty input, as cron and nohup give) and a terminal stay allowed.
 */
function refuseDeviceStdin(stdin: Readable): void {
  const fd = (stdin as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return;
  let kind;
  try {
    kind = fstatSync(fd);
  } catch {
    return;
  }
  if (!kind.isCharacterDevice() || isatty(fd)) return;
  try {
    if (kind.rdev === statSync('/dev/null').rdev) return;
  } catch {
    // No /dev/null to compare with: judged as any device.
  }
  throw badInput('file', 'standard input is a device, not a file or pipe (redirect a file or pipe into it, or name the file)');
}

/**
 * Opening a FIFO blocks (in a libuv worker thread) until a writer opens it,
 * and neither a stream's destruction nor the process's exit can cancel it:
 * the exit waits for that thread. On a stop, and at exit, shopdb opens the
 * FIFO's write end itself without blocking (possible while the read end is
 * being opened) and closes it at once: the pending open completes and reads
 * an end of file.
 */
function unblockOpenOnStop(stream: ReadStream, path: string, options: SourceOptions): void {
  const unblock = () => {
    if (!stream.pending) return;
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no open of the read end is pending any more.
    }
  };
  const unregister = options.onExit?.(unblock) ?? (() => {});
  const onAbort = () => unblock();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('open', () => {
    unregister();
    options.signal?.removeEventListener('abort', onAbort);
  });
  stream.once('close', () => {
    unregister();
    options.signal?.removeEventListener('abort', onAbort);
  });
}

// --strict reads twice (validate, then write); a stream is spooled to a private file, so memory stays flat.
async function spool(input: Readable, name: string, options: SourceOptions): Promise<LineSource> {
  const dir = spoolDir();
  // The spool is a copy of customer data: it goes on every path out, a second signal included.
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = options.onExit?.(remove) ?? (() => {});
  const dispose = () => {
    remove();
    unregister();
  };
  const file = join(dir, 'input.ndjson');
  try {
    await pipeline(input, createWriteStream(file, { mode: 0o600 }), ...(options.signal ? [{ signal: options.signal }] : []));
    return fileSource(file, name, (await stat(file)).size, dispose);
  } catch (error) {
    dispose();
    if (options.signal?.aborted) throw error;
    throw badInput('file', `cannot read ${name}${codeOf(error)}`);
  }
}

function fileSource(path: string, name: string, size: number, dispose: () => void = () => {}): LineSource {
  let consumed = 0;
  return {
    size,
    consumed: () => consumed,
    dispose,
    lines: (signal) => {
      consumed = 0;
      return numbered(createReadStream(path), name, (bytes) => (consumed += bytes), signal);
    },
  };
}

function streamSource(stream: Readable, name: string): LineSource {
  let consumed = 0;
  return { size: undefined, consumed: () => consumed, dispose: () => {}, lines: (signal) => numbered(stream, name, (bytes) => (consumed += bytes), signal) };
}

function codeOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? ` (${code})` : '';
}

/**
 * Splits raw bytes into lines and decodes each strictly: invalid UTF-8 is an
 * invalid line, never silently turned into U+FFFD inside an id. Time is linear
 * in the input: a line's pieces are joined once, at its end. A line past
 * MAX_LINE_BYTES is not kept: its bytes are counted and dropped up to the next
 * newline, and it comes out as a `tooLong` line.
 */
export async function* numbered(input: Readable, name: string, onBytes: (bytes: number) => void, signal?: AbortSignal, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<NumberedLine> {
  // ignoreBOM: false strips a byte-order mark that an editor put before the first line.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let number = 0;
  // The current line's bytes so far, when it spans chunks.
  let pieces: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  const take = (piece: Buffer, copy: boolean) => {
    length += piece.length;
    if (length > maxLineBytes) {
      tooLong = true;
      pieces = [];
    } else if (!tooLong) {
      pieces.push(copy ? Buffer.from(piece) : piece);
    }
  };
  const end = (newline: boolean): NumberedLine | undefined => {
    number++;
    onBytes(length + (newline ? 1 : 0));
    const wasTooLong = tooLong;
    const bytes = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, length);
    pieces = [];
    length = 0;
    tooLong = false;
    if (wasTooLong) return { number, text: '', tooLong: true };
    const last = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, last));
    } catch {
      return { number, text: '', notUtf8: true };
    }
    return text.trim() === '' ? undefined : { number, text };
  };
  if (signal) addAbortSignal(signal, input);
  try {
    for await (const chunk of input) {
      const data = chunk as Buffer;
      let start = 0;
      for (let newline = data.indexOf(0x0a); newline !== -1; newline = data.indexOf(0x0a, start)) {
        // A piece that ends its line is used before the next chunk arrives: no copy needed.
        take(data.subarray(start, newline), false);
        start = newline + 1;
        const line = end(true);
        if (line) yield line;
      }
      // The start of a line that continues in the next chunk: copied, so the chunk is not kept alive.
      if (start < data.length) take(data.subarray(start), true);
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw badInput('file', `cannot read ${name}${codeOf(error)}`);
  }
  if (signal?.aborted) return;
  if (length > 0 || tooLong) {
    const last = end(false);
    if (last) yield last;
  }
}

/** A private directory for the --strict spool, under TMPDIR; a TMPDIR that cannot hold one is the user's setting, not a bug. */
function spoolDir(): string {
  try {
    return mkdtempSync(join(tmpdir(), 'shopdb-import-'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw badInput('TMPDIR', `cannot create a spool directory for --strict under ${JSON.stringify(tmpdir().slice(0, 200))} (${code}); point TMPDIR at a writable directory, or import from a file`);
  }
}
