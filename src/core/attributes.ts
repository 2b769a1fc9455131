import { isShopError } from './errors.js';
import type { AttributeJson, Cart, Extra, Order, ProductLine, WholeNumber } from './model.js';
import { storedAmount, wholeNumber } from './money.js';
import { parseStatus } from './status.js';
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

export const ORDER_FIELDS = ['orderId', 'userId', 'totalAmount', 'status', 'createdAt', 'updatedAt', 'version'] as const;
export const CART_FIELDS = ['cartId', 'userId', 'products', 'totalAmount', 'createdAt', 'updatedAt', 'version'] as const;
export const LINE_FIELDS = ['productId', 'name', 'quantity', 'unitPrice'] as const;

/** How each known field is read from its attribute: the value, or undefined when the attribute is foreign to it. */
type Reader = (value: AttributeJson) => unknown;

const readId: Reader = (value) => ('S' in value && accepts(() => validateId(value.S, 'id')) ? value.S : undefined);
const readName: Reader = (value) => ('S' in value && accepts(() => validateName(value.S, 'name')) ? value.S : undefined);
const readAmount: Reader = (value) => ('N' in value ? storedAmount(value.N) : undefined);
const readStatus: Reader = (value) => ('S' in value && accepts(() => parseStatus(value.S, 'status')) ? value.S : undefined);
const readTimestamp: Reader = (value) => ('S' in value && isTimestamp(value.S) ? value.S : undefined);
const readPositive: Reader = (value) => ('N' in value ? positiveInteger(value.N) : undefined);

const ORDER_READERS: Record<string, Reader> = {
  userId: readId,
  totalAmount: readAmount,
  status: readStatus,
  createdAt: readTimestamp,
  updatedAt: readTimestamp,
  version: readPositive,
};
const CART_READERS: Record<string, Reader> = {
  userId: readId,
  products: (value) => ('L' in value && value.L.every((line) => 'M' in line) ? value.L.map((line) => toLine((line as { M: Attributes }).M)) : undefined),
  totalAmount: readAmount,
  createdAt: readTimestamp,
  updatedAt: readTimestamp,
  version: readPositive,
};
const LINE_READERS: Record<string, Reader> = {
  productId: readId,
  name: readName,
  quantity: readPositive,
  unitPrice: readAmount,
};

/** Whether a known field's reader takes this value: then it belongs in the field, not in `extra`. */
export function readsAs(kind: 'order' | 'cart' | 'line', field: string, value: AttributeJson): boolean {
  const reader = readerOf(kind === 'order' ? ORDER_READERS : kind === 'cart' ? CART_READERS : LINE_READERS, field);
  return reader !== undefined && ('NULL' in value || reader(value) !== undefined);
}

export function isKnownField(kind: 'order' | 'cart' | 'line', field: string): boolean {
  const fields: readonly string[] = kind === 'order' ? ORDER_FIELDS : kind === 'cart' ? CART_FIELDS : LINE_FIELDS;
  return fields.includes(field);
}

/** Own entries only: an attribute named `valueOf` or `constructor` is not a known field. */
function readerOf(readers: Record<string, Reader>, name: string): Reader | undefined {
  return Object.hasOwn(readers, name) ? readers[name] : undefined;
}

function read(item: Attributes, readers: Record<string, Reader>, key: string | undefined): { fields: Record<string, unknown>; extra: Extra | undefined } {
  const fields: Record<string, unknown> = {};
  let extra: Extra | undefined;
  for (const name of Object.keys(item).sort()) {
    const value = item[name] as AttributeJson;
    if (name === key) continue;
    const reader = readerOf(readers, name);
    // NULL in a known field means no value (shopdb itself once stored a line's missing name so): read as null, written back absent.
    if (reader && 'NULL' in value) continue;
    const parsed = reader ? reader(value) : undefined;
    if (parsed === undefined) define((extra ??= {}), name, value);
    else fields[name] = parsed;
  }
  return { fields, extra };
}

export function toOrder(item: Attributes): Order {
  const { fields, extra } = read(item, ORDER_READERS, 'orderId');
  const order: Order = {
    orderId: keyOf(item, 'orderId'),
    userId: (fields.userId as string | undefined) ?? null,
    totalAmount: (fields.totalAmount as string | undefined) ?? null,
    status: (fields.status as string | undefined) ?? null,
    createdAt: (fields.createdAt as string | undefined) ?? null,
    updatedAt: (fields.updatedAt as string | undefined) ?? null,
    version: (fields.version as WholeNumber | undefined) ?? null,
  };
  if (extra) order.extra = extra;
  return order;
}

export function toCart(item: Attributes): Cart {
  const { fields, extra } = read(item, CART_READERS, 'cartId');
  const cart: Cart = {
    cartId: keyOf(item, 'cartId'),
    userId: (fields.userId as string | undefined) ?? null,
    products: (fields.products as ProductLine[] | undefined) ?? null,
    totalAmount: (fields.totalAmount as string | undefined) ?? null,
    createdAt: (fields.createdAt as string | undefined) ?? null,
    updatedAt: (fields.updatedAt as string | undefined) ?? null,
    version: (fields.version as WholeNumber | undefined) ?? null,
  };
  if (extra) cart.extra = extra;
  return cart;
}

function toLine(item: Attributes): ProductLine {
  const { fields, extra } = read(item, LINE_READERS, undefined);
  const line: ProductLine = {
    productId: (fields.productId as string | undefined) ?? null,
    name: (fields.name as string | undefined) ?? null,
    quantity: (fields.quantity as WholeNumber | undefined) ?? null,
    unitPrice: (fields.unitPrice as string | undefined) ?? null,
  };
  if (extra) line.extra = extra;
  return line;
}

/** The key is always a string (the table's key schema says so); it is shown as stored. */
function keyOf(item: Attributes, key: string): string {
  const value = Object.hasOwn(item, key) ? item[key] : undefined;
  return value && 'S' in value ? value.S : '';
}

/* The stored form: null fields are absent (as the original design's items have them); `extra` is written back as found. */

export function fromOrder(order: Order): Attributes {
  return withExtra(order.extra, {
    orderId: { S: order.orderId },
    userId: string(order.userId),
    totalAmount: number(order.totalAmount),
    status: string(order.status),
    createdAt: string(order.createdAt),
    updatedAt: string(order.updatedAt),
    version: number(order.version),
  });
}

export function fromCart(cart: Cart): Attributes {
  return withExtra(cart.extra, {
    cartId: { S: cart.cartId },
    userId: string(cart.userId),
    products: cart.products === null ? undefined : { L: cart.products.map((line) => ({ M: fromLine(line) })) },
    totalAmount: number(cart.totalAmount),
    createdAt: string(cart.createdAt),
    updatedAt: string(cart.updatedAt),
    version: number(cart.version),
  });
}

export function fromLine(line: ProductLine): Attributes {
  return withExtra(line.extra, {
    productId: string(line.productId),
    name: string(line.name),
    quantity: number(line.quantity),
    unitPrice: number(line.unitPrice),
  });
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

function string(value: string | null): AttributeJson | undefined {
  return value === null ? undefined : { S: value };
}

function number(value: string | WholeNumber | null): AttributeJson | undefined {
  return value === null ? undefined : { N: String(value) };
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
