import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Cart, Order, ProductLine } from '../core/model.js';
import { normalizeStoredAmount } from '../core/money.js';

/*
 * Items come back with numbers wrapped (NumberValue), so nothing is rounded
 * on the way in; these functions turn them into the JSON contract. Items
 * written by the original Python design lack fields and hold money as
 * strings; both read correctly.
 */

type RawItem = Record<string, unknown>;

/** Failed-condition errors carry the item in attribute-value form, which the document client leaves alone. */
export function fromAttributeValues(item: Record<string, AttributeValue>): RawItem {
  return unmarshall(item, { wrapNumbers: true });
}

/** The stored form of an order: money as exact DynamoDB numbers. */
export function orderToItem(order: Order): RawItem {
  return withoutNulls({ ...order, totalAmount: exactNumber(order.totalAmount) });
}

export function cartToItem(cart: Cart): RawItem {
  return withoutNulls({
    ...cart,
    totalAmount: exactNumber(cart.totalAmount),
    products: cart.products.map(lineToItem),
  });
}

export function lineToItem(line: ProductLine): RawItem {
  return { ...line, unitPrice: NumberValue.from(line.unitPrice) };
}

/** A field an item lacks stays absent, as the original design's items have it, rather than stored as NULL. */
function withoutNulls(item: RawItem): RawItem {
  for (const key of Object.keys(item)) if (item[key] === null) delete item[key];
  return item;
}

function exactNumber(amount: string | null): NumberValue | null {
  return amount === null ? null : NumberValue.from(amount);
}

export function toOrder(item: RawItem): Order {
  return {
    orderId: text(item.orderId) ?? '',
    userId: text(item.userId),
    totalAmount: money(item.totalAmount),
    status: text(item.status),
    createdAt: text(item.createdAt),
    updatedAt: text(item.updatedAt),
    version: integer(item.version),
  };
}

export function toCart(item: RawItem): Cart {
  const products = Array.isArray(item.products) ? item.products : [];
  return {
    cartId: text(item.cartId) ?? '',
    userId: text(item.userId),
    products: products.map((line) => toProductLine(isRecord(line) ? line : {})),
    totalAmount: money(item.totalAmount),
    createdAt: text(item.createdAt),
    updatedAt: text(item.updatedAt),
    version: integer(item.version),
  };
}

function toProductLine(line: RawItem): ProductLine {
  return {
    productId: text(line.productId) ?? '',
    name: text(line.name),
    quantity: integer(line.quantity) ?? 0,
    unitPrice: money(line.unitPrice) ?? '0.00',
  };
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  return isNumber(value) ? value.value : null;
}

function money(value: unknown): string | null {
  const raw = text(value);
  return raw === null ? null : normalizeStoredAmount(raw);
}

function integer(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) ? value : null;
  const raw = isNumber(value) ? value.value : typeof value === 'string' ? value : null;
  if (raw === null || !/^-?\d+$/.test(raw)) return null;
  return Number(raw);
}

function isNumber(value: unknown): value is NumberValue {
  return value instanceof NumberValue;
}

function isRecord(value: unknown): value is RawItem {
  return typeof value === 'object' && value !== null;
}
