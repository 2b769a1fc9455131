import { indexesOf, indexKeyAttributes } from './indexes.js';
import { fromCart, fromOrder, isIndexAttribute, isKnownField, isTimestamp, readsAs } from './attributes.js';
import { CART_ENTITY, CART_STATUSES, LINE_ENTITY, ORDER_ENTITY, type CartStatus, type EntitySpec, type FieldKind } from './entities.js';
import { badInput } from './errors.js';
import { MAX_ITEM_BYTES, MAX_SIGNIFICANT_DIGITS, attributeName, itemSize, parseAttribute, refuseProtoName, significantDigits } from './limits.js';
import type { Cart, Extra, Order, ProductLine, WholeNumber } from './model.js';
import { MAX_NUMBER_DIGITS, MAX_STORED_INTEGER_DIGITS, formatCents, multiply, parseAmount } from './money.js';
import { parseStatus } from './status.js';
import { validateId, validateName } from './validate.js';

/*
 * Validation of whole items, as `get --json` and `export` print them, for
 * `import`: the same rules as the single commands, plus the invariants those
 * commands maintain (a cart's total is the sum of its lines), plus DynamoDB's
 * own limits. Whatever export prints, import takes back: null fields stay
 * absent, `extra` is written back as found.
 */

/** How import reads each field kind (entities.ts): the same rules as the single commands. */
const PARSE_KIND: Record<FieldKind, (value: unknown, path: string) => unknown> = {
  key: (value, path) => validateId(string(value, path), path),
  id: (value, path) => validateId(string(value, path), path),
  name: (value, path) => validateName(string(value, path), path),
  amount: (value, path) => money(value, path),
  orderStatus: (value, path) => parseStatus(string(value, path), path),
  cartStatus: (value, path) => cartStatus(value, path),
  timestamp: (value, path) => timestamp(value, path),
  positive: (value, path) => positive(value, path),
  lines: (value, path) => lines(value, path),
};

function parseEntity(entity: EntitySpec, value: unknown, path: string | undefined, depth: number): Record<string, unknown> {
  const names = entity.fields.map((field) => field.name);
  const record = object(value, path ?? entity.name, names);
  const entry: Record<string, unknown> = {};
  for (const field of entity.fields) {
    const at = path === undefined ? field.name : `${path}.${field.name}`;
    const raw = record[field.name];
    entry[field.name] = field.kind === 'key' ? PARSE_KIND.key(raw, at) : optional(raw, (present) => PARSE_KIND[field.kind](present, at));
  }
  const extra = parseExtra(record, entity.name, path === undefined ? 'extra' : `${path}.extra`, depth);
  if (extra) entry.extra = extra;
  return entry;
}

export function parseOrderRecord(value: unknown): Order {
  const order = parseEntity(ORDER_ENTITY, value, undefined, 1) as unknown as Order;
  fits('order', fromOrder(order));
  return order;
}

export function parseCartRecord(value: unknown): Cart {
  const cart = parseEntity(CART_ENTITY, value, undefined, 1) as unknown as Cart;
  const sum = linesTotal(cart);
  // shopdb's own carts (those with a version) always add up; items others wrote are taken as found.
  if (cart.version !== null && sum !== undefined && cart.totalAmount !== null && sum !== cart.totalAmount) {
    throw badInput('totalAmount', `is ${cart.totalAmount} but the products add up to ${sum}`);
  }
  fits('cart', fromCart(cart));
  return cart;
}

function lines(list: unknown, path: string): ProductLine[] {
  if (!Array.isArray(list)) throw badInput(path, 'must be a list of product lines, or null');
  const seen = new Set<string>();
  return list.map((line: unknown, index) => {
    const parsed = parseEntity(LINE_ENTITY, line, `${path}[${index}]`, LINE_ATTRIBUTE_DEPTH) as unknown as ProductLine;
    if (parsed.productId !== null && seen.has(parsed.productId)) throw badInput(`${path}[${index}].productId`, `${parsed.productId} appears twice`);
    if (parsed.productId !== null) seen.add(parsed.productId);
    return parsed;
  });
}

function cartStatus(value: unknown, path: string): CartStatus {
  const status = CART_STATUSES.find((candidate) => candidate === value);
  if (!status) throw badInput(path, `must be ${CART_STATUSES.join(' or ')}, or null (an open cart)`);
  return status;
}

/** The sum of the lines, when every line has a quantity and a price (undefined otherwise, or when there is no list). */
export function linesTotal(cart: Pick<Cart, 'products'>): string | undefined {
  if (cart.products === null) return undefined;
  let total = 0n;
  for (const line of cart.products) {
    if (line.quantity === null || line.unitPrice === null) return undefined;
    total += multiply(parseAmount(line.unitPrice, 'unitPrice', MAX_STORED_INTEGER_DIGITS), line.quantity);
  }
  return formatCents(total);
}

/** A product line's own attributes sit at DynamoDB level 3: the products list is level 1, the line's map level 2. */
const LINE_ATTRIBUTE_DEPTH = 3;

/**
 * `extra` holds attributes as DynamoDB JSON. It may name a known field only to
 * carry a value shopdb does not read in that field (the field is then null):
 * one attribute, one place.
 */
function parseExtra(record: Record<string, unknown>, kind: 'order' | 'cart' | 'line', path: string, depth = 1): Extra | undefined {
  const value = record.extra;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput(path, 'must be an object of attribute name → DynamoDB JSON value, or absent');
  const names = Object.keys(value);
  if (names.length === 0) return undefined;
  const extra: Extra = {};
  for (const name of names) {
    const at = `${path}.${name.slice(0, 40)}`;
    attributeName(name, path);
    if ((kind === 'order' && name === 'orderId') || (kind === 'cart' && name === 'cartId')) throw badInput(at, 'is the key; give it as its field');
    if (isIndexAttribute(kind, name)) throw badInput(at, `is shopdb's own index attribute; it is derived from the fields`);
    refuseProtoName(name, at);
    const attribute = parseAttribute((value as Record<string, unknown>)[name], at, depth);
    if (kind !== 'line' && !('S' in attribute) && indexKeyAttributes(indexesOf(kind === 'order' ? 'orders' : 'carts')).includes(name)) {
      throw badInput(at, `is a key of the table's secondary indexes, which hold only strings; DynamoDB refuses a value of type ${Object.keys(attribute)[0]} there`);
    }
    if (isKnownField(kind, name)) {
      if (record[name] !== null && record[name] !== undefined) throw badInput(at, `repeats the field ${name}; an attribute is either a field or in extra`);
      if (readsAs(kind, name, attribute)) throw badInput(at, `holds a value shopdb reads as ${name}; give it as the field ${name}`);
    }
    extra[name] = attribute;
  }
  return extra;
}

function fits(what: string, item: Parameters<typeof itemSize>[0]): void {
  const size = itemSize(item);
  if (size > MAX_ITEM_BYTES) throw badInput(what, `is ${size} bytes as DynamoDB counts them, over its ${MAX_ITEM_BYTES}-byte (400 KB) item limit`);
}

function object(value: unknown, what: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput(what, 'must be a JSON object');
  const unknown = Object.keys(value).find((key) => key !== 'extra' && !fields.includes(key));
  if (unknown !== undefined) {
    throw badInput(what, `has an unknown field ${JSON.stringify(unknown.slice(0, 40))}; allowed: ${fields.join(', ')}, extra (other attributes, as DynamoDB JSON)`);
  }
  return value as Record<string, unknown>;
}

function optional<T>(value: unknown, parse: (value: unknown) => T): T | null {
  return value === null || value === undefined ? null : parse(value);
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(field, 'must be a string');
  return value;
}

/** Money travels as a string: a JSON number may already have lost digits. Any amount DynamoDB holds (storedAmount) is taken back. */
function money(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(field, 'must be a decimal string such as "19.99", or null');
  const amount = formatCents(parseAmount(value, field, MAX_STORED_INTEGER_DIGITS));
  if (significantDigits(amount) > MAX_SIGNIFICANT_DIGITS) throw badInput(field, `has more than the ${MAX_SIGNIFICANT_DIGITS} significant digits a DynamoDB number holds`);
  return amount;
}

function timestamp(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !isTimestamp(value)) throw badInput(field, 'must be an ISO-8601 UTC time such as 2026-01-31T12:00:00.000Z, or null');
  return value;
}

/** A positive whole number, exact: a JSON number within 2^53, or a bigint (the import parser's form for longer literals). */
function positive(value: unknown, field: string): WholeNumber {
  const problem = `must be a positive whole number that DynamoDB can hold (at most ${MAX_SIGNIFICANT_DIGITS} significant digits, below 10^${MAX_NUMBER_DIGITS}), or null`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 1) throw badInput(field, Number.isInteger(value) && value > 0 ? `${problem}; ${value} is past 2^53 and was rounded when read as a JSON number` : problem);
    return value;
  }
  if (typeof value === 'bigint') {
    // As DynamoDB counts: 10^38 (what a write above 38 nines stores) has 1 significant digit.
    const digits = value.toString();
    if (value < 1n || significantDigits(digits) > MAX_SIGNIFICANT_DIGITS || digits.length > MAX_NUMBER_DIGITS) throw badInput(field, problem);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  throw badInput(field, problem);
}
