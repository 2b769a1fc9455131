import type { OrderStatus } from './status.js';

/*
 * These types are the JSON contract: `get --json` prints exactly these
 * fields. Money is a decimal string; fields that items written by the
 * original Python design lack are null.
 */

export interface Order {
  orderId: string;
  userId: string | null;
  totalAmount: string | null;
  /** One of ORDER_STATUSES for orders shopdb wrote; older items may hold other text. */
  status: OrderStatus | (string & {}) | null;
  createdAt: string | null;
  updatedAt: string | null;
  version: number | null;
}

export interface ProductLine {
  productId: string;
  name: string | null;
  quantity: number;
  unitPrice: string;
}

export interface Cart {
  cartId: string;
  userId: string | null;
  /** In the order the products were first added. */
  products: ProductLine[];
  totalAmount: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  version: number | null;
}

/** What a write did: `unchanged` when the item already held what was asked (a safe retry). */
export type WriteResult = 'created' | 'updated' | 'unchanged';
