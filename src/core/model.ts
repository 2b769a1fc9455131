import type { OrderStatus } from './status.js';

/*
 * These types are the JSON contract: `get --json` prints exactly these
 * fields. Money is a decimal string; whole numbers are JSON numbers, exact
 * (a bigint past Number.MAX_SAFE_INTEGER). A field shows a value only when
 * the stored attribute holds what shopdb itself would write there (the type
 * and form import accepts); otherwise it is null, and a stored value of
 * another type is kept, exactly, in `extra`.
 */

/** A whole number: a plain number while it is exact as one, a bigint beyond. */
export type WholeNumber = number | bigint;

/** One DynamoDB attribute value in DynamoDB JSON, digits and types exactly as stored; binary as base64. */
export type AttributeJson =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: AttributeJson[] }
  | { M: { [name: string]: AttributeJson } };

/**
 * Attributes shopdb does not read: unknown names, and known names holding a
 * value of another type or form (then the field itself is null). Absent when
 * there are none.
 */
export type Extra = Record<string, AttributeJson>;

export interface Order {
  orderId: string;
  userId: string | null;
  totalAmount: string | null;
  /** One of ORDER_STATUSES. */
  status: OrderStatus | (string & {}) | null;
  createdAt: string | null;
  updatedAt: string | null;
  version: WholeNumber | null;
  /** The cart this order was checked out from; null for orders created directly. */
  cartId: string | null;
  /** The cart's lines at checkout; null for orders created directly. */
  products: ProductLine[] | null;
  extra?: Extra;
}

export interface ProductLine {
  productId: string | null;
  name: string | null;
  quantity: WholeNumber | null;
  unitPrice: string | null;
  extra?: Extra;
}

export interface Cart {
  cartId: string;
  userId: string | null;
  /** In the order the products were first added; null when the item has no list of product maps. */
  products: ProductLine[] | null;
  totalAmount: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  version: WholeNumber | null;
  /** null while open; CHECKED_OUT once checked out (then `orderId` names the order). */
  status: 'CHECKED_OUT' | (string & {}) | null;
  orderId: string | null;
  extra?: Extra;
}

/** What a write did: `unchanged` when the item already held what was asked (a safe retry). */
export type WriteResult = 'created' | 'updated' | 'unchanged';
