import { isShopError } from './errors.js';
import type { AttributeJson, Cart, Extra, Order, ProductLine, WholeNumber } from './model.js';
import { storedAmount, wholeNumber } from './money.js';
import { CART_ENTITY, CART_STATUSES, fieldNames, LINE_ENTITY, ORDER_ENTITY, type EntitySpec, type FieldKind } from './entities.js';
import { INDEX_ATTRIBUTES, STATUS_SHARD_ATTRIBUTE, statusShard } from './indexes.js';
import { ORDER_STATUSES, parseStatus, type OrderStatus } from './status.js';
import { validateId, validateName } from './validate.js';

/*
 * The one mapping between the JSON contract and stored items, both ways, on
 * DynamoDB JSON. A known field shows a value only when the attribute holds
 * what shopdb writes there, in the form import accepts back; anything else
 * (another type, a string amount, an invalid id) leaves the field null and
 * goes, exactly as stored, into `extra` with the attributes shopdb does not
 * know. So every item reads without inventing anything, and writes back
 * (import) without losing anything.
 */

export type Attributes = Record<string, AttributeJson>;

export const ORDER_FIELDS = fieldNames(ORDER_ENTITY);
export const CART_FIELDS = fieldNames(CART_ENTITY);
export const LINE_FIELDS = fieldNames(LINE_ENTITY);

type Kind = 'order' | 'cart' | 'line';
const ENTITIES: Record<Kind, EntitySpec> = { order: ORDER_ENTITY, cart: CART_ENTITY, line: LINE_ENTITY };

/** How each known field is read from its attribute: the value, or undefined when the attribute is foreign to it. */
type Reader = (value: AttributeJson) => unknown;

const readId: Reader = (value) => ('S' in value && accepts(() => validateId(value.S, 'id')) ? value.S : undefined);
const readName: Reader = (value) => ('S' in value && accepts(() => validateName(value.S, 'name')) ? value.S : undefined);
const readAmount: Reader = (value) => ('N' in value ? storedAmount(value.N) : undefined);
const readStatus: Reader = (value) => ('S' in value && accepts(() => parseStatus(value.S, 'status')) ? value.S : undefined);
const readCartStatus: Reader = (value) => ('S' in value && (CART_STATUSES as readonly string[]).includes(value.S) ? value.S : undefined);
const readTimestamp: Reader = (value) => ('S' in value && isTimestamp(value.S) ? value.S : undefined);
const readPositive: Reader = (value) => ('N' in value ? positiveInteger(value.N) : undefined);
const readLines: Reader = (value) => ('L' in value && value.L.every((line) => 'M' in line) ? value.L.map((line) => toLine((line as { M: Attributes }).M)) : undefined);

const READ_KIND: Record<Exclude<FieldKind, 'key'>, Reader> = {
  id: readId,
  name: readName,
  amount: readAmount,
  orderStatus: readStatus,
  cartStatus: readCartStatus,
  timestamp: readTimestamp,
  positive: readPositive,
  lines: readLines,
};

function readersOf(entity: EntitySpec): Record<string, Reader> {
  const readers: Record<string, Reader> = {};
  for (const field of entity.fields) if (field.kind !== 'key') readers[field.name] = READ_KIND[field.kind];
  return readers;
}

const READERS: Record<Kind, Record<string, Reader>> = { order: readersOf(ORDER_ENTITY), cart: readersOf(CART_ENTITY), line: readersOf(LINE_ENTITY) };
/** shopdb's own index attributes (see indexes.ts): neither a field nor `extra`. */
const HIDDEN: Record<Kind, readonly string[]> = { order: INDEX_ATTRIBUTES, cart: [], line: [] };

/** Whether a known field's reader takes this value: then it belongs in the field, not in `extra`. */
export function readsAs(kind: Kind, field: string, value: AttributeJson): boolean {
  const reader = readerOf(READERS[kind], field);
  return reader !== undefined && ('NULL' in value || reader(value) !== undefined);
}

export function isKnownField(kind: Kind, field: string): boolean {
  return ENTITIES[kind].fields.some((spec) => spec.name === field);
}

/** Whether shopdb keeps this attribute for its indexes (never shown, never taken from import). */
export function isIndexAttribute(kind: Kind, name: string): boolean {
  return HIDDEN[kind].includes(name);
}

/** Own entries only: an attribute named `valueOf` or `constructor` is not a known field. */
function readerOf(readers: Record<string, Reader>, name: string): Reader | undefined {
  return Object.hasOwn(readers, name) ? readers[name] : undefined;
}

function read(item: Attributes, kind: Kind): Record<string, unknown> {
  const entity = ENTITIES[kind];
  const readers = READERS[kind];
  const hidden = HIDDEN[kind];
  const fields: Record<string, unknown> = {};
  let extra: Extra | undefined;
  for (const name of Object.keys(item).sort()) {
    const value = item[name] as AttributeJson;
    if (name === entity.key || hidden.includes(name)) continue;
    const reader = readerOf(readers, name);
    // NULL in a known field means no value (shopdb itself once stored a line's missing name so): read as null, written back absent.
    if (reader && 'NULL' in value) continue;
    const parsed = reader ? reader(value) : undefined;
    if (parsed === undefined) define((extra ??= {}), name, value);
    else fields[name] = parsed;
  }
  // Fields in contract order, every one present (null when absent), then extra.
  const entry: Record<string, unknown> = {};
  for (const field of entity.fields) entry[field.name] = field.kind === 'key' ? keyOf(item, field.name) : (fields[field.name] ?? null);
  if (extra) entry.extra = extra;
  return entry;
}

export function toOrder(item: Attributes): Order {
  return read(item, 'order') as unknown as Order;
}

export function toCart(item: Attributes): Cart {
  return read(item, 'cart') as unknown as Cart;
}

function toLine(item: Attributes): ProductLine {
  return read(item, 'line') as unknown as ProductLine;
}

/** The key is always a string (the table's key schema says so); it is shown as stored. */
function keyOf(item: Attributes, key: string): string {
  const value = Object.hasOwn(item, key) ? item[key] : undefined;
  return value && 'S' in value ? value.S : '';
}

/* The stored form: null fields are absent (as the original design's items have them); `extra` is written back as found. */

function write(kind: Kind, entry: Record<string, unknown>): Attributes {
  const known: Record<string, AttributeJson | undefined> = {};
  for (const field of ENTITIES[kind].fields) {
    const value = entry[field.name] as string | WholeNumber | ProductLine[] | null | undefined;
    if (value === null || value === undefined) continue;
    if (field.kind === 'lines') known[field.name] = { L: (value as ProductLine[]).map((line) => ({ M: fromLine(line) })) };
    else if (field.kind === 'amount' || field.kind === 'positive') known[field.name] = { N: String(value) };
    else known[field.name] = { S: value as string };
  }
  return withExtra(entry.extra as Extra | undefined, known);
}

/**
 * The order as stored, with its status index attribute (indexes.ts) when it
 * has a status and an updatedAt (the index's sort key: without one the item
 * is not in the index, and nothing is added to it, so an item of the original
 * design is written back exactly as it was read).
 */
export function fromOrder(order: Order): Attributes {
  const item = write('order', order as unknown as Record<string, unknown>);
  if (order.status !== null && order.updatedAt !== null && (ORDER_STATUSES as readonly string[]).includes(order.status)) {
    item[STATUS_SHARD_ATTRIBUTE] = { S: statusShard(order.orderId, order.status as OrderStatus) };
  }
  return item;
}

export function fromCart(cart: Cart): Attributes {
  return write('cart', cart as unknown as Record<string, unknown>);
}

export function fromLine(line: ProductLine): Attributes {
  return write('line', line as unknown as Record<string, unknown>);
}

function withExtra(extra: Extra | undefined, known: Record<string, AttributeJson | undefined>): Attributes {
  const item: Attributes = { ...extra };
  for (const [name, value] of Object.entries(known)) if (value !== undefined) item[name] = value;
  return item;
}

/** Sets an own member, even one named `__proto__` (plain assignment would set the prototype instead). */
export function define<T>(object: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
}

function positiveInteger(text: string): WholeNumber | undefined {
  if (!/^[1-9]\d*$/.test(text)) return undefined;
  return wholeNumber(BigInt(text));
}

function accepts(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch (error) {
    if (isShopError(error, 'BAD_INPUT')) return false;
    throw error;
  }
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** Imports repeat the same timestamps line after line; checking one again is the costliest part of a line. */
let lastValidTimestamp = '';

/** An ISO-8601 UTC time that is a real instant (Date.parse rolls 2026-02-30 over to March; only a time that survives the round trip is real). */
export function isTimestamp(value: string): boolean {
  if (value === lastValidTimestamp) return true;
  if (!ISO_UTC.test(value) || Number.isNaN(Date.parse(value)) || new Date(value).toISOString().slice(0, 19) !== value.slice(0, 19)) return false;
  lastValidTimestamp = value;
  return true;
}
