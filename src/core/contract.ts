import { fromCart, fromOrder, toCart, toOrder } from './attributes.js';
import { CART_ENTITY, LINE_ENTITY, ORDER_ENTITY, type EntitySpec, type FieldKind } from './entities.js';
import { isShopError } from './errors.js';
import { parseAttribute } from './limits.js';
import type { Cart, Order } from './model.js';

/*
 * Whether a value that came from outside shopdb's own memory (a cache entry)
 * is exactly an item of the JSON contract, as `get --json` prints it: every
 * field present, null or of its type; then the stored form, read back, gives
 * the very same value. That read is the one of attributes.ts, so the forms
 * (money as an amount, ids, statuses, timestamps, positive versions, `extra`
 * not hiding a readable field) are the ones every read applies; nothing here
 * restates them.
 */

type Kind = 'string' | 'whole' | 'products';

/** The JSON type of each field kind (entities.ts); the forms within it are checked by reading back. */
const JSON_KIND: Record<FieldKind, Kind> = {
  key: 'string',
  id: 'string',
  name: 'string',
  amount: 'string',
  orderStatus: 'string',
  cartStatus: 'string',
  timestamp: 'string',
  positive: 'whole',
  lines: 'products',
};

function typesOf(entity: EntitySpec): Record<string, Kind> {
  return Object.fromEntries(entity.fields.map((field) => [field.name, JSON_KIND[field.kind]]));
}

const ORDER_TYPES = typesOf(ORDER_ENTITY);
const CART_TYPES = typesOf(CART_ENTITY);
const LINE_TYPES = typesOf(LINE_ENTITY);

export function isOrder(value: unknown): value is Order {
  return shaped(value, ORDER_TYPES, 'orderId') && readsBack(value, () => toOrder(fromOrder(value as unknown as Order)));
}

export function isCart(value: unknown): value is Cart {
  return shaped(value, CART_TYPES, 'cartId') && readsBack(value, () => toCart(fromCart(value as unknown as Cart)));
}

/** Every field present with a value of its JSON type or null (the key never null), `extra` DynamoDB JSON, nothing else. */
function shaped(value: unknown, types: Record<string, Kind>, key?: string): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  for (const name of Object.keys(value)) if (name !== 'extra' && !(name in types)) return false;
  for (const [name, kind] of Object.entries(types)) {
    if (!(name in value)) return false;
    const field = value[name];
    if (field === null && name !== key) continue;
    if (kind === 'string' && typeof field !== 'string') return false;
    if (kind === 'whole' && !(typeof field === 'bigint' || Number.isSafeInteger(field))) return false;
    if (kind === 'products' && !(Array.isArray(field) && field.every((line) => shaped(line, LINE_TYPES)))) return false;
  }
  return !('extra' in value) || isExtra(value.extra);
}

function isExtra(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  try {
    for (const [name, attribute] of Object.entries(value)) parseAttribute(attribute, name);
    return true;
  } catch (error) {
    if (isShopError(error, 'BAD_INPUT')) return false;
    throw error;
  }
}

function readsBack(value: unknown, roundTrip: () => unknown): boolean {
  return same(value, roundTrip());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON-like values; object key order does not matter, a bigint equals only a bigint. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((element, index) => same(element, b[index]));
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((name) => Object.hasOwn(b, name) && same(a[name], b[name]));
}
