/* eslint-disable no-control-regex -- these patterns match terminal escape sequences (ESC, BEL) on purpose */
import { execa } from 'execa';
import { BIN, testEnv } from './cli.js';

/**
 * Runs the built binary under a real pseudo-terminal (util-linux script(1)),
 * as a person at a terminal would, and replays what it printed on a small
 * terminal model: what a human sees, and where it would break.
 *
 * Node takes its columns from the pty's window size (TIOCGWINSZ), not from
 * COLUMNS; script(1)'s pty has size 0×0 when script itself is not on a
 * terminal, so the size is set with stty inside the pty.
 */

export interface PtyOptions {
  columns?: number;
  prefix?: string;
  /** Added to a clean terminal environment (TERM=xterm-256color, no NO_COLOR/FORCE_COLOR). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

export interface PtyRun {
  exitCode: number;
  /** Everything the pty received (stdout and stderr together), line ends as the program wrote them. */
  raw: string;
  /** The screen after replaying `raw`: one entry per terminal row, escapes interpreted. */
  screen: string[];
  /** The screen as one text, for matching key facts. */
  text: string;
  /** Rows where the cursor ran past the last column (the terminal wrapped them). */
  overflows: string[];
  columns: number;
  /** script(1)'s own complaints, if any. */
  scriptErrors: string;
}

const ROWS = 40;

export async function pty(args: string[], options: PtyOptions = {}): Promise<PtyRun> {
  const columns = options.columns ?? 80;
  const command = `stty cols ${columns} rows ${ROWS} && exec ${[BIN, ...args].map(shellQuote).join(' ')}`;
  const result = await execa('script', ['-qec', command, '/dev/null'], {
    reject: false,
    stdin: 'ignore',
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 60_000,
    extendEnv: true,
    env: {
      SHELL: '/bin/sh',
      TERM: 'xterm-256color',
      NO_COLOR: undefined,
      SHOPDB_NO_COLOR: undefined,
      FORCE_COLOR: undefined,
      CLICOLOR_FORCE: undefined,
      COLUMNS: undefined,
      LINES: undefined,
      SHOPDB_OUTPUT: undefined,
      ...testEnv(options.prefix, options.env),
    },
  });
  // The pty's line discipline turns every \n into \r\n (onlcr); undo that, keep lone \r (progress redraws).
  const raw = String(result.stdout ?? '').replace(/\r\n/g, '\n');
  const { screen, overflows } = replay(raw, columns);
  return { exitCode: result.exitCode ?? -1, raw, screen, text: screen.join('\n'), overflows, columns, scriptErrors: String(result.stderr ?? '') };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** SGR sequences: colours and text styles. */
export const SGR = /\x1b\[[0-9;]*m/;
/** Any escape sequence at all (a dumb terminal understands none). */
export const ANY_ESCAPE = /\x1b/;

export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, '');
}

/**
 * Columns a character takes on a terminal: 0 for combining marks and
 * joiners, 2 for East Asian wide/fullwidth characters and emoji, else 1.
 */
export function charWidth(codePoint: number): number {
  const char = String.fromCodePoint(codePoint);
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return 0;
  if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(char) || (codePoint >= 0xfe00 && codePoint <= 0xfe0f)) return 0;
  const wide =
    (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0x303e) ||
    (codePoint >= 0x3041 && codePoint <= 0x33ff) ||
    (codePoint >= 0x3400 && codePoint <= 0x4dbf) ||
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) ||
    (codePoint >= 0xa000 && codePoint <= 0xa4cf) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1f64f) ||
    (codePoint >= 0x1f900 && codePoint <= 0x1f9ff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd);
  return wide ? 2 : 1;
}

export function displayWidth(text: string): number {
  let width = 0;
  for (const char of stripAnsi(text)) width += charWidth(char.codePointAt(0) ?? 0);
  return width;
}

/**
 * Replays terminal output on a `columns`-wide screen: \n, \r, \b, CSI K
 * (erase), CSI G (column), other escapes ignored. A character that lands
 * past the last column wraps, as on a real terminal, and marks its row.
 */
function replay(raw: string, columns: number): { screen: string[]; overflows: string[] } {
  const rows: string[][] = [[]];
  /** First row of each logical line (text up to a \n) that ran past the last column. */
  const overflowed = new Set<number>();
  let row = 0;
  let col = 0;
  let lineStart = 0;
  const starts = [0];
  const tokens = raw.match(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\s\S]/gu) ?? [];
  for (const token of tokens) {
    const current = () => (rows[row] ??= []);
    if (token.startsWith('\x1b[')) {
      const final = token.at(-1);
      const param = Number.parseInt(token.slice(2), 10);
      if (final === 'K') {
        const mode = Number.isNaN(param) ? 0 : param;
        if (mode === 0) current().length = Math.min(current().length, col);
        else if (mode === 2) rows[row] = [];
        else for (let i = 0; i <= col && i < current().length; i++) current()[i] = ' ';
      } else if (final === 'G') {
        col = Math.max(0, (Number.isNaN(param) ? 1 : param) - 1);
      }
      continue;
    }
    if (token.startsWith('\x1b')) continue;
    if (token === '\n') {
      row++;
      col = 0;
      lineStart = row;
      starts.push(row);
      rows[row] ??= [];
      continue;
    }
    if (token === '\r') {
      col = 0;
      continue;
    }
    if (token === '\b') {
      col = Math.max(0, col - 1);
      continue;
    }
    const width = charWidth(token.codePointAt(0) ?? 0);
    if (width === 0) continue;
    if (col + width > columns) {
      overflowed.add(lineStart);
      row++;
      col = 0;
      rows[row] ??= [];
    }
    const cells = current();
    while (cells.length < col) cells.push(' ');
    cells[col] = token;
    if (width === 2) cells[col + 1] = '';
    col += width;
  }
  const screen = rows.map((cells) => (cells ?? []).join('').replace(/\s+$/, ''));
  while (screen.length > 0 && screen.at(-1) === '') screen.pop();
  const overflows = [...overflowed].map((start) => {
    const end = starts.find((next) => next > start) ?? screen.length;
    return screen.slice(start, end).join('⏎');
  });
  return { screen, overflows };
}

/** A stack trace line, as Node prints them. */
export const STACK_LINE = /^\s+at .+(\(|:\d+:\d+)/m;
