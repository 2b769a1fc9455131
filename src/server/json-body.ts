import { quote } from '../core/validate.js';
import { problem, ProblemError } from './problem.js';

/*
 * A request body as the API reads it: JSON (RFC 8259) in UTF-8, each member
 * name once per object. What a lenient parser would guess at is refused:
 * another charset (its bytes would be read as UTF-8 and turn into U+FFFD),
 * and a name given twice (JSON.parse keeps the last one, a proxy or a WAF in
 * front of the server may have checked the first).
 */

/** Parses a body declared application/json; an empty one is no body. Throws a ProblemError (400 or 415). */
export function parseJsonBody(text: string, contentType: string | undefined): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new ProblemError(problem('UNSUPPORTED_MEDIA_TYPE', `send the body as application/json in UTF-8 (charset=${quote(charset, 20)} is not accepted)`));
  }
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(problem('BAD_INPUT', `body: is not valid JSON (${error instanceof Error ? error.message : String(error)})`));
  }
  const repeated = repeatedName(text);
  if (repeated !== undefined) {
    const field = /^[A-Za-z_]\w{0,63}$/.test(repeated) ? repeated : `body field ${quote(repeated)}`;
    throw new ProblemError(problem('BAD_INPUT', `${field}: is given more than once in one object; send each field once`));
  }
  return value;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** The first member name given twice in one object of this JSON text (already known to be valid), if any. */
export function repeatedName(text: string): string | undefined {
  // One entry per open container: the names seen so far in an object, null in an array.
  const open: Array<Set<string> | null> = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (names) {
        let next = end + 1;
        while (WHITESPACE.has(text[next] as string)) next += 1;
        if (text[next] === ':') {
          const name = JSON.parse(text.slice(i, end + 1)) as string;
          if (names.has(name)) return name;
          names.add(name);
        }
      }
      i = end + 1;
      continue;
    }
    if (char === '{') open.push(new Set());
    else if (char === '[') open.push(null);
    else if (char === '}' || char === ']') open.pop();
    i += 1;
  }
  return undefined;
}
