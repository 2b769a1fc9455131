import { badInput } from './errors.js';
import type { Cart, Order, ProductLine } from './model.js';
import { formatCents, multiply, parseAmount } from './money.js';
import { parseStatus } from './status.js';
import { validateId, validateName } from './validate.js';

/*
 * Validation of whole items, as `get --json` and `export` print them, for
 * `import`: the same rules as the single commands, plus the invariants those
 * commands maintain (a cart's total is the sum of its lines).
 */

const ORDER_FIELDS = ['orderId', 'userId', 'totalAmount', 'status', 'createdAt', 'updatedAt', 'version'];
const CART_FIELDS = ['cartId', 'userId', 'products', 'totalAmount', 'createdAt', 'updatedAt', 'version'];
const LINE_FIELDS = ['productId', 'name', 'quantity', 'unitPrice'];

export function parseOrderRecord(value: unknown): Order {
  const record = object(value, 'order', ORDER_FIELDS);
  return {
    orderId: validateId(string(record.orderId, 'orderId'), 'orderId'),
    userId: validateId(string(record.userId, 'userId'), 'userId'),
    totalAmount: amount(record.totalAmount, 'totalAmount'),
    status: parseStatus(string(record.status, 'status'), 'status'),
    createdAt: timestamp(record.createdAt, 'createdAt'),
    updatedAt: timestamp(record.updatedAt, 'updatedAt'),
    version: version(record.version),
  };
}

/** DynamoDB refuses items over 400 KB; a cart near that is refused here, with its line number, instead of failing its whole batch. */
const MAX_CART_JSON_BYTES = 350_000;

export function parseCartRecord(value: unknown): Cart {
  const record = object(value, 'cart', CART_FIELDS);
  if (Buffer.byteLength(JSON.stringify(record)) > MAX_CART_JSON_BYTES) throw badInput('cart', "is too large for DynamoDB's 400 KB item limit");
  if (!Array.isArray(record.products)) throw badInput('products', 'must be a list of product lines');
  const seen = new Set<string>();
  const products = record.products.map((line: unknown, index) => {
    const parsed = productLine(line, `products[${index}]`);
    if (seen.has(parsed.productId)) throw badInput(`products[${index}].productId`, `${parsed.productId} appears twice`);
    seen.add(parsed.productId);
    return parsed;
  });
  const totalAmount = amount(record.totalAmount, 'totalAmount');
  const sum = formatCents(products.reduce((total, line) => total + multiply(parseAmount(line.unitPrice, 'unitPrice'), line.quantity), 0n));
  if (sum !== totalAmount) throw badInput('totalAmount', `is ${totalAmount} but the products add up to ${sum}`);
  return {
    cartId: validateId(string(record.cartId, 'cartId'), 'cartId'),
    userId: validateId(string(record.userId, 'userId'), 'userId'),
    products,
    totalAmount,
    createdAt: timestamp(record.createdAt, 'createdAt'),
    updatedAt: timestamp(record.updatedAt, 'updatedAt'),
    version: version(record.version),
  };
}

function productLine(value: unknown, path: string): ProductLine {
  const line = object(value, path, LINE_FIELDS);
  const quantity = line.quantity;
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 1) {
    throw badInput(`${path}.quantity`, 'must be a positive whole number');
  }
  return {
    productId: validateId(string(line.productId, `${path}.productId`), `${path}.productId`),
    name: line.name === null || line.name === undefined ? null : validateName(string(line.name, `${path}.name`), `${path}.name`),
    quantity,
    unitPrice: amount(line.unitPrice, `${path}.unitPrice`),
  };
}

function object(value: unknown, what: string, fields: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput(what, 'must be a JSON object');
  const unknown = Object.keys(value).find((key) => !fields.includes(key));
  if (unknown !== undefined) throw badInput(what, `has an unknown field ${JSON.stringify(unknown.slice(0, 40))}; allowed: ${fields.join(', ')}`);
  return value as Record<string, unknown>;
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(field, 'must be a string');
  return value;
}

/** Money travels as a string: a JSON number may already have lost digits. */
function amount(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(field, 'must be a decimal string such as "19.99"');
  return formatCents(parseAmount(value, field));
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** Imports repeat the same timestamps line after line; checking one again is the costliest part of a line. */
let lastValidTimestamp = '';

function timestamp(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (value === lastValidTimestamp) return value;
  // Date.parse rolls 2026-02-30 over to March; only a time that survives the round trip is real.
  if (typeof value !== 'string' || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value)) || new Date(value).toISOString().slice(0, 19) !== value.slice(0, 19)) {
    throw badInput(field, 'must be an ISO-8601 UTC time such as 2026-01-31T12:00:00.000Z, or null');
  }
  lastValidTimestamp = value;
  return value;
}

function version(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw badInput('version', 'must be a positive whole number, or null');
  return value;
}
