/*
 * Strict JSON for import lines, and exact JSON for output.
 *
 * JSON.parse keeps the last of two equal keys, rounds integers past 2^53 and
 * accepts any nesting; an import must refuse the first, keep the second exact
 * and bound the third. The parser below is one forward pass with an explicit
 * stack (no recursion), so its time is linear in the line and no input can
 * overflow the call stack.
 */

/**
 * Containers (objects and arrays) nested deeper than this make a line invalid.
 * Every item DynamoDB holds fits: 32 DynamoDB levels take 2 JSON levels each
 * in `extra` ({"M":{…}}), plus a cart line's wrappers (record, products, line, extra).
 */
export const MAX_JSON_DEPTH = 128;

/** Why a text is not accepted; the message names the problem, never the whole text. */
export class JsonError extends Error {
  override name = 'JsonError';
}

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

type Container = JsonValue[] | { [key: string]: JsonValue };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses one JSON text like JSON.parse, except that a key repeated inside one
 * object, nesting deeper than MAX_JSON_DEPTH, and anything JSON.parse refuses
 * throw a JsonError; integer literals (no fraction, no exponent) beyond
 * Number.MAX_SAFE_INTEGER in magnitude come back as exact bigints.
 */
export function parseStrict(text: string): JsonValue {
  return new Parser(text).parse();
}

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  parse(): JsonValue {
    const stack: Container[] = [];
    // For each open object, the key whose value is being read.
    const keys: string[] = [];
    let value: JsonValue;
    for (;;) {
      // A value starts here.
      this.skipSpace();
      const c = this.text.charCodeAt(this.at);
      if (c === 0x7b || c === 0x5b) {
        if (stack.length >= MAX_JSON_DEPTH) throw new JsonError(`nested deeper than ${MAX_JSON_DEPTH} levels`);
        this.at++;
        this.skipSpace();
        if (c === 0x7b) {
          const object: { [key: string]: JsonValue } = {};
          if (this.text.charCodeAt(this.at) === 0x7d) {
            this.at++;
            value = object;
          } else {
            keys.push(this.key(object));
            stack.push(object);
            continue;
          }
        } else {
          const array: JsonValue[] = [];
          if (this.text.charCodeAt(this.at) === 0x5d) {
            this.at++;
            value = array;
          } else {
            stack.push(array);
            continue;
          }
        }
      } else {
        value = this.scalar(c);
      }
      // A value is complete: hand it to its container, and close every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) {
          this.skipSpace();
          if (this.at !== this.text.length) throw this.invalid();
          return value;
        }
        this.skipSpace();
        const next = this.text.charCodeAt(this.at);
        if (Array.isArray(top)) {
          top.push(value);
          if (next === 0x2c) {
            this.at++;
            break;
          }
          if (next !== 0x5d) throw this.invalid();
        } else {
          set(top, keys.pop() as string, value);
          if (next === 0x2c) {
            this.at++;
            this.skipSpace();
            keys.push(this.key(top));
            break;
          }
          if (next !== 0x7d) throw this.invalid();
        }
        this.at++;
        value = top;
        stack.pop();
      }
    }
  }

  /** Reads `"key" :` of a member of `object`, refusing a key it already holds. */
  private key(object: object): string {
    if (this.text.charCodeAt(this.at) !== QUOTE) throw this.invalid();
    const key = this.string();
    if (Object.hasOwn(object, key)) throw new JsonError(`key ${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)} appears twice in one object`);
    this.skipSpace();
    if (this.text.charCodeAt(this.at) !== 0x3a) throw this.invalid();
    this.at++;
    return key;
  }

  private scalar(c: number): JsonValue {
    if (c === QUOTE) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    throw this.invalid();
  }

  private string(): string {
    const { text } = this;
    let start = ++this.at;
    let out = '';
    for (;;) {
      const c = text.charCodeAt(this.at);
      if (c === QUOTE) {
        out += text.slice(start, this.at++);
        return out;
      }
      if (c === BACKSLASH) {
        out += text.slice(start, this.at);
        out += this.escape();
        start = this.at;
      } else if (c < 0x20 || Number.isNaN(c)) {
        // A control character, or the end of the text inside a string.
        throw this.invalid();
      } else {
        this.at++;
      }
    }
  }

  private escape(): string {
    const c = this.text.charCodeAt(this.at + 1);
    this.at += 2;
    switch (c) {
      case 0x22: return '"';
      case 0x5c: return '\\';
      case 0x2f: return '/';
      case 0x62: return '\b';
      case 0x66: return '\f';
      case 0x6e: return '\n';
      case 0x72: return '\r';
      case 0x74: return '\t';
      case 0x75: {
        let code = 0;
        for (let i = 0; i < 4; i++) {
          const digit = hexDigit(this.text.charCodeAt(this.at + i));
          if (digit < 0) throw this.invalid();
          code = code * 16 + digit;
        }
        this.at += 4;
        // Lone surrogates stay as they are, as JSON.parse keeps them.
        return String.fromCharCode(code);
      }
      default:
        throw this.invalid();
    }
  }

  private number(): number | bigint {
    const { text } = this;
    const start = this.at;
    if (text.charCodeAt(this.at) === 0x2d) this.at++;
    const first = text.charCodeAt(this.at);
    if (first === 0x30) this.at++;
    else if (first >= 0x31 && first <= 0x39) this.digits();
    else throw this.invalid();
    let integer = true;
    if (text.charCodeAt(this.at) === 0x2e) {
      this.at++;
      if (this.digits() === 0) throw this.invalid();
      integer = false;
    }
    const e = text.charCodeAt(this.at);
    if (e === 0x65 || e === 0x45) {
      this.at++;
      const sign = text.charCodeAt(this.at);
      if (sign === 0x2b || sign === 0x2d) this.at++;
      if (this.digits() === 0) throw this.invalid();
      integer = false;
    }
    const literal = text.slice(start, this.at);
    const value = Number(literal);
    return integer && !Number.isSafeInteger(value) ? BigInt(literal) : value;
  }

  private digits(): number {
    const start = this.at;
    for (let c = this.text.charCodeAt(this.at); c >= 0x30 && c <= 0x39; c = this.text.charCodeAt(this.at)) this.at++;
    return this.at - start;
  }

  private skipSpace(): void {
    for (let c = this.text.charCodeAt(this.at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = this.text.charCodeAt(this.at)) this.at++;
  }

  private invalid(): JsonError {
    return new JsonError(this.at >= this.text.length ? 'not valid JSON (it ends too early)' : `not valid JSON (at character ${this.at + 1})`);
  }
}

const LITERALS: ReadonlyArray<readonly [string, JsonValue]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Adds a member as JSON.parse does: an own data property, even for "__proto__". */
function set(object: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/**
 * JSON.stringify, except that bigints print as exact integer literals
 * (JSON.stringify refuses them). Values without a bigint take JSON.stringify
 * itself; a top-level value JSON cannot express prints as `null`.
 */
export function stringifyExact(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  return write(value, '', new Set()) ?? 'null';
}

/** The JSON of `value`, or undefined where JSON.stringify leaves a member out. */
function write(input: unknown, key: string, ancestors: Set<object>): string | undefined {
  let value = input;
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null || value instanceof Number || value instanceof String || value instanceof Boolean) {
    return JSON.stringify(value);
  }
  if (ancestors.has(value)) throw new TypeError('Converting circular structure to JSON');
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = `[${value.map((item, index) => write(item, String(index), ancestors) ?? 'null').join(',')}]`;
  } else {
    const members: string[] = [];
    for (const name of Object.keys(value)) {
      const member = write((value as Record<string, unknown>)[name], name, ancestors);
      if (member !== undefined) members.push(`${JSON.stringify(name)}:${member}`);
    }
    out = `{${members.join(',')}}`;
  }
  ancestors.delete(value);
  return out;
}
