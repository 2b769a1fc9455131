/* eslint-disable no-control-regex -- these patterns match terminal escape sequences (ESC, BEL) on purpose */
/**
 * Fitting text to a terminal's width: display width (ANSI codes take no
 * room, East Asian wide characters and emoji take two columns), cutting with
 * an ellipsis, and wrapping. No dependencies, so any output path can use it.
 */

const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** One escape sequence or one code point. */
const TOKENS = /\x1b\[[0-?]*[ -/]*[@-~]|[\s\S]/gu;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function charWidth(codePoint: number): number {
  // Printable ASCII, nearly all of shopdb's own text: one column each.
  if (codePoint >= 0x20 && codePoint < 0x7f) return 1;
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return 0;
  // Combining marks, format characters (zero-width joiner) and variation selectors take no column.
  if (/[\p{Mn}\p{Me}\p{Cf}]/u.test(String.fromCodePoint(codePoint)) || (codePoint >= 0xfe00 && codePoint <= 0xfe0f)) return 0;
  return isWide(codePoint) ? 2 : 1;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns `text` takes on a terminal. */
export function displayWidth(text: string): number {
  // All printable ASCII (no escape sequence, no control, nothing wide): its length, without the walk
  // (help text and tables measure hundreds of lines on every run).
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const char of stripAnsi(text)) width += charWidth(char.codePointAt(0) ?? 0);
  return width;
}

/** A usable width: terminals report 0 columns when their size is unknown. */
export function usableColumns(columns: number | undefined): number | undefined {
  return columns !== undefined && Number.isFinite(columns) && columns >= 20 ? Math.floor(columns) : undefined;
}

/** `text` cut to at most `width` columns, ending in … when something was cut; escape sequences are kept. */
export function cut(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  return `${take(text, Math.max(0, width - 1))[0]}…`;
}

/** Splits `text` after at most `width` columns (at least one character), keeping escape sequences with the head. */
function take(text: string, width: number): [string, string] {
  let used = 0;
  let head = '';
  const tokens = text.match(TOKENS) ?? [];
  let index = 0;
  for (; index < tokens.length; index++) {
    const token = tokens[index] ?? '';
    const w = token.startsWith('\x1b') ? 0 : charWidth(token.codePointAt(0) ?? 0);
    if (used + w > width && head !== '') break;
    head += token;
    used += w;
  }
  return [head, tokens.slice(index).join('')];
}

/**
 * Wraps one line of prose to `width` columns at spaces; a word longer than a
 * whole line is broken (nothing is dropped). Continuation lines start with
 * `indent` spaces, and `before` is added at the end of every line but the
 * last (e.g. ' \\' for a shell command).
 */
export function wrap(line: string, width: number, options: { indent?: number; before?: string } = {}): string[] {
  if (displayWidth(line) <= width) return [line];
  const indent = ' '.repeat(Math.min(options.indent ?? 0, Math.floor(width / 2)));
  const suffix = options.before ?? '';
  const room = width - displayWidth(suffix);
  const lines: string[] = [];
  let current = '';
  const push = () => {
    lines.push(current);
    current = indent;
  };
  for (const word of line.split(/(?<= )/)) {
    // `word` keeps its trailing space, which may hang past the edge unseen.
    const bare = word.replace(/ +$/, '');
    if (current.trim() !== '' && displayWidth(current) + displayWidth(bare) > room) push();
    let rest = word;
    while (displayWidth(current) + displayWidth(rest.replace(/ +$/, '')) > room) {
      const [head, tail] = take(rest, Math.max(1, room - displayWidth(current)));
      current += head;
      rest = tail;
      push();
    }
    current += rest;
  }
  lines.push(current);
  return lines
    .map((text) => text.replace(/ +$/, ''))
    .filter((text, index) => index === 0 || text.trim() !== '')
    .map((text, index, all) => (index < all.length - 1 ? `${text}${suffix}` : text));
}
