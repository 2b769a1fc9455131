import type { Cart, Order, ProductLine } from './model.js';

/*
 * One definition per entity: its fields, in contract order, each with the
 * kind of value it holds. From these lists come the stored form and its
 * reading (attributes.ts), the check of cached values (contract.ts), import
 * validation (records.ts) and the JSON Schema of the contract (schema.ts);
 * model.ts's types are checked against them at compile time (below). Adding a
 * field is one line here plus its type in model.ts.
 */

export type FieldKind =
  /** The table's key: a string id, never null. */
  | 'key'
  /** An id: validateId's rules. */
  | 'id'
  /** Free text (a product name): validateName's rules. */
  | 'name'
  /** Money: a decimal string with two decimals, stored as a DynamoDB number. */
  | 'amount'
  /** One of ORDER_STATUSES. */
  | 'orderStatus'
  /** One of CART_STATUSES. */
  | 'cartStatus'
  /** An ISO-8601 UTC instant. */
  | 'timestamp'
  /** A positive whole number, exact past 2^53. */
  | 'positive'
  /** A list of product lines. */
  | 'lines';

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly description: string;
}

export interface EntitySpec {
  readonly name: 'order' | 'cart' | 'line';
  /** The key attribute; absent for a product line (a map inside a cart). */
  readonly key?: string;
  readonly fields: readonly FieldSpec[];
}

export const ORDER_ENTITY = {
  name: 'order',
  key: 'orderId',
  fields: [
    { name: 'orderId', kind: 'key', description: 'the order id' },
    { name: 'userId', kind: 'id', description: 'the user who placed the order' },
    { name: 'totalAmount', kind: 'amount', description: 'the total, a decimal string with two decimals' },
    { name: 'status', kind: 'orderStatus', description: 'PENDING, PAID, SHIPPED, COMPLETED or CANCELLED' },
    { name: 'createdAt', kind: 'timestamp', description: 'when shopdb created it' },
    { name: 'updatedAt', kind: 'timestamp', description: 'when it last changed' },
    { name: 'version', kind: 'positive', description: 'raised by every change; the ETag of the HTTP API' },
    { name: 'cartId', kind: 'id', description: 'the cart it was checked out from' },
    { name: 'products', kind: 'lines', description: "the cart's lines at checkout" },
  ],
} as const satisfies EntitySpec;

export const CART_ENTITY = {
  name: 'cart',
  key: 'cartId',
  fields: [
    { name: 'cartId', kind: 'key', description: 'the cart id' },
    { name: 'userId', kind: 'id', description: 'the user who owns the cart' },
    { name: 'products', kind: 'lines', description: 'the lines, in the order their products were first added' },
    { name: 'totalAmount', kind: 'amount', description: 'the sum of the lines, a decimal string with two decimals' },
    { name: 'createdAt', kind: 'timestamp', description: 'when shopdb created it' },
    { name: 'updatedAt', kind: 'timestamp', description: 'when it last changed' },
    { name: 'version', kind: 'positive', description: 'raised by every change; the ETag of the HTTP API' },
    { name: 'status', kind: 'cartStatus', description: 'null while open; CHECKED_OUT once an order was made from it' },
    { name: 'orderId', kind: 'id', description: 'the order it was checked out as' },
  ],
} as const satisfies EntitySpec;

export const LINE_ENTITY = {
  name: 'line',
  fields: [
    { name: 'productId', kind: 'id', description: 'the product id' },
    { name: 'name', kind: 'name', description: 'the name given when it was first added' },
    { name: 'quantity', kind: 'positive', description: 'how many' },
    { name: 'unitPrice', kind: 'amount', description: 'the price of one, a decimal string with two decimals' },
  ],
} as const satisfies EntitySpec;

export const CART_STATUSES = ['CHECKED_OUT'] as const;
export type CartStatus = (typeof CART_STATUSES)[number];

export type FieldName<E extends EntitySpec> = E['fields'][number]['name'];

export function fieldNames<E extends EntitySpec>(entity: E): ReadonlyArray<FieldName<E>> {
  return entity.fields.map((field) => field.name) as ReadonlyArray<FieldName<E>>;
}

/* Compile-time: model.ts's interfaces have exactly the fields defined here (plus `extra`). */
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const ordersMatch: Exactly<Exclude<keyof Order, 'extra'>, FieldName<typeof ORDER_ENTITY>> = true;
const cartsMatch: Exactly<Exclude<keyof Cart, 'extra'>, FieldName<typeof CART_ENTITY>> = true;
const linesMatch: Exactly<Exclude<keyof ProductLine, 'extra'>, FieldName<typeof LINE_ENTITY>> = true;
void [ordersMatch, cartsMatch, linesMatch];
