import { badInput } from './errors.js';

/** DynamoDB's limit for a partition key value. */
export const MAX_KEY_BYTES = 2048;
export const MAX_QUANTITY = 1_000_000;
export const MAX_NAME_LENGTH = 1000;

/**
 * Keys must be something an operator can type back: no control characters,
 * no lone UTF-16 surrogates (DynamoDB would store U+FFFD), no U+FFFD (what
 * invalid UTF-8 in an argument decodes to), no padding spaces.
 */
export function validateId(value: string, field: string): string {
  if (value.length === 0) throw badInput(field, 'must not be empty');
  if (value.trim().length === 0) throw badInput(field, 'must not be only whitespace');
  if (!value.isWellFormed()) throw badInput(field, 'must be valid Unicode (it holds a lone surrogate)');
  // Node turns bytes that are not UTF-8 in an argument into U+FFFD: the id would silently differ from what was typed.
  if (value.includes('\uFFFD')) throw badInput(field, 'contains U+FFFD, the replacement character: the text was not valid UTF-8');
  if (hasControlCharacter(value)) throw badInput(field, 'must not contain control characters');
  if (value.trim() !== value) throw badInput(field, 'must not start or end with whitespace');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw badInput(field, `is ${bytes} bytes long; at most ${MAX_KEY_BYTES} bytes are allowed`);
  return value;
}

export function validateName(value: string, field: string): string {
  if (value.trim().length === 0) throw badInput(field, 'must not be empty');
  if (!value.isWellFormed()) throw badInput(field, 'must be valid Unicode (it holds a lone surrogate)');
  if (hasControlCharacter(value)) throw badInput(field, 'must not contain control characters');
  if (value.length > MAX_NAME_LENGTH) throw badInput(field, `must be at most ${MAX_NAME_LENGTH} characters`);
  return value;
}

export function parseQuantity(text: string, field: string, options: { allowZero?: boolean } = {}): number {
  const least = options.allowZero ? 0 : 1;
  if (!/^-?\d+$/.test(text)) {
    throw badInput(field, `${quote(text)} is not a whole number; use an integer from ${least} to ${MAX_QUANTITY}`);
  }
  const quantity = Number(text);
  if (quantity < least || quantity > MAX_QUANTITY) {
    throw badInput(field, `${quote(text)} is out of range; use an integer from ${least} to ${MAX_QUANTITY}`);
  }
  return quantity;
}

export function parsePositiveInteger(text: string, field: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw badInput(field, `${quote(text)} is not allowed; use an integer from 1 to ${max}`);
  }
  return Number(text);
}

/** Shows user text inside a one-line message, control characters escaped and long text cut. */
export function quote(text: string, limit = 40): string {
  const cut = text.length > limit ? `${text.slice(0, limit)}…` : text;
  // JSON.stringify leaves the Unicode line separators raw; a message must stay on one line.
  return JSON.stringify(cut).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function hasControlCharacter(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value);
}
