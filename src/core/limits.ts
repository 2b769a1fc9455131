import { badInput } from './errors.js';
import type { AttributeJson } from './model.js';
import { quote } from './validate.js';

/*
 * DynamoDB's own rules for what an item may hold, so that import refuses a
 * line exactly when DynamoDB would refuse its item (and says which line),
 * rather than failing the whole batch it was sent in.
 */

/** 400 KB, as DynamoDB counts it. */
export const MAX_ITEM_BYTES = 400 * 1024;
/**
 * DynamoDB nests attributes at most 32 levels deep, the top-level attribute
 * being level 1: a list or map may sit at levels 1 to 31 (measured on
 * DynamoDB Local: 31 nested maps store, 32 are a ValidationException).
 */
const MAX_DEPTH = 32;
export const MAX_SIGNIFICANT_DIGITS = 38;
/** DynamoDB's limit for an attribute name, at any depth (a map's keys are names too). */
export const MAX_NAME_BYTES = 65535;
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/**
 * The size DynamoDB counts for an item: attribute names in UTF-8 plus their
 * values (strings in UTF-8 bytes, binary raw bytes, numbers 1 byte per two
 * significant digits plus 1, booleans and null 1 byte, lists and maps 3 bytes
 * plus 1 per element; AWS's "DynamoDB item sizes and formats").
 */
export function itemSize(item: Record<string, AttributeJson>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: AttributeJson): number {
  if ('S' in value) return Buffer.byteLength(value.S);
  if ('N' in value) return numberSize(value.N);
  if ('B' in value) return Buffer.from(value.B, 'base64').length;
  if ('SS' in value) return value.SS.reduce((sum, element) => sum + Buffer.byteLength(element), 0);
  if ('NS' in value) return value.NS.reduce((sum, element) => sum + numberSize(element), 0);
  if ('BS' in value) return value.BS.reduce((sum, element) => sum + Buffer.from(element, 'base64').length, 0);
  if ('L' in value) return value.L.reduce((sum, element) => sum + 1 + valueSize(element), 3);
  if ('M' in value) return Object.entries(value.M).reduce((sum, [name, element]) => sum + Buffer.byteLength(name) + 1 + valueSize(element), 3);
  return 1;
}

function numberSize(text: string): number {
  return Math.ceil(significantDigits(text) / 2) + 1;
}

/** Digits without sign, exponent, point, leading and trailing zeros: what DynamoDB stores. */
export function significantDigits(text: string): number {
  const mantissa = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '');
  return mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
}

/** The canonical value of a DynamoDB number, for spotting duplicates in a number set ("1" and "1.0" are one number). */
function canonicalNumber(text: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!match) return text;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`;
  const trimmed = digits.replace(/^0+/, '');
  if (trimmed === '') return '0';
  const leadingZeros = digits.length - trimmed.length;
  const significant = trimmed.replace(/0+$/, '');
  // value = 0.significant × 10^point
  const point = whole.length - leadingZeros + Number(exponent);
  return `${sign}0.${significant}e${point}`;
}

/**
 * Checks an attribute name as DynamoDB does: not empty, at most 65535 bytes
 * of UTF-8, and encodable as UTF-8 at all (no lone surrogate).
 */
export function attributeName(name: string, path: string): string {
  if (name.length === 0) throw badInput(path, 'holds an attribute with an empty name; DynamoDB refuses empty names');
  if (!name.isWellFormed()) throw badInput(`${path}.${quote(name)}`, 'is a name that is not valid Unicode (it holds a lone surrogate)');
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) throw badInput(`${path}.${quote(name)}`, `is a name of ${bytes} bytes; DynamoDB allows at most ${MAX_NAME_BYTES}`);
  return name;
}

/**
 * Checks a value from an import line's `extra` as DynamoDB JSON that DynamoDB
 * would store. `depth` is the DynamoDB level of the attribute: 1 at the top of
 * an item, 3 for an attribute of a cart's product line (products, then the line's map).
 */
export function parseAttribute(value: unknown, path: string, depth = 1): AttributeJson {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput(path, 'must be a DynamoDB JSON value such as {"S":"text"} or {"N":"1.50"}');
  const keys = Object.keys(value);
  const [type] = keys;
  if (keys.length !== 1 || type === undefined) throw badInput(path, `must have exactly one type key (S, N, B, BOOL, NULL, SS, NS, BS, L or M), not ${keys.length}`);
  const inner = (value as Record<string, unknown>)[type];
  const at = `${path}.${type}`;
  switch (type) {
    case 'S':
      return { S: text(inner, at) };
    case 'N':
      return { N: numberText(inner, at) };
    case 'B':
      return { B: base64(inner, at) };
    case 'BOOL':
      if (typeof inner !== 'boolean') throw badInput(at, 'must be true or false');
      return { BOOL: inner };
    case 'NULL':
      if (inner !== true) throw badInput(at, 'must be true');
      return { NULL: true };
    case 'SS':
      return { SS: set(inner, at, text, (element) => element) };
    case 'NS':
      return { NS: set(inner, at, numberText, canonicalNumber) };
    case 'BS':
      return { BS: set(inner, at, base64, (element) => element) };
    case 'L': {
      if (!Array.isArray(inner)) throw badInput(at, 'must be a JSON array');
      nested(depth, at);
      return { L: inner.map((element, index) => parseAttribute(element, `${at}[${index}]`, depth + 1)) };
    }
    case 'M': {
      if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw badInput(at, 'must be a JSON object');
      nested(depth, at);
      const map: Record<string, AttributeJson> = {};
      for (const [name, element] of Object.entries(inner)) {
        refuseProtoName(name, `${at}.${name}`);
        map[attributeName(name, at)] = parseAttribute(element, `${at}.${name.slice(0, 40)}`, depth + 1);
      }
      return { M: map };
    }
    default:
      throw badInput(path, `has an unknown type ${quote(type)}; use S, N, B, BOOL, NULL, SS, NS, BS, L or M`);
  }
}

function nested(depth: number, path: string): void {
  if (depth >= MAX_DEPTH) throw badInput(path, `nests deeper than DynamoDB's ${MAX_DEPTH} levels`);
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw badInput(path, 'must be a string');
  if (!value.isWellFormed()) throw badInput(path, 'must be valid Unicode (it holds a lone surrogate)');
  return value;
}

function numberText(value: unknown, path: string): string {
  if (typeof value !== 'string' || !NUMBER.test(value)) throw badInput(path, 'must be a number in a string, such as "1.50"');
  if (significantDigits(value) > MAX_SIGNIFICANT_DIGITS) throw badInput(path, `has more than DynamoDB's ${MAX_SIGNIFICANT_DIGITS} significant digits`);
  const canonical = canonicalNumber(value);
  const exponent = Number(canonical.slice(canonical.indexOf('e') + 1));
  // DynamoDB's range: 1E-130 to 9.9999999999999999999999999999999999999E+125, either sign.
  if (canonical !== '0' && (exponent > 126 || exponent < -129)) throw badInput(path, "is outside DynamoDB's number range (1E-130 to 1E+126)");
  return value;
}

function base64(value: unknown, path: string): string {
  if (typeof value !== 'string' || Buffer.from(value, 'base64').toString('base64') !== value) throw badInput(path, 'must be base64, as export prints it');
  return value;
}

function set<T>(value: unknown, path: string, element: (value: unknown, path: string) => T, identity: (element: T) => string): T[] {
  if (!Array.isArray(value) || value.length === 0) throw badInput(path, 'must be a non-empty JSON array (DynamoDB has no empty sets)');
  const seen = new Set<string>();
  return value.map((item, index) => {
    const parsed = element(item, `${path}[${index}]`);
    const id = identity(parsed);
    if (seen.has(id)) throw badInput(`${path}[${index}]`, 'repeats an element; a set holds each once');
    seen.add(id);
    return parsed;
  });
}

/**
 * The AWS SDK's document conversion (util-dynamodb) builds maps by assignment,
 * which turns an attribute named `__proto__` into a prototype: it would be
 * written as nothing. Refused, so that nothing is lost without a word.
 */
export const PROTO_NAME = '__proto__';

export function refuseProtoName(name: string, at: string): void {
  if (name === PROTO_NAME) throw badInput(at, 'is an attribute named "__proto__", which shopdb cannot write (the AWS SDK\'s conversion drops it); rename it');
}
