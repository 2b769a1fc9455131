import { setTimeout as sleep } from 'node:timers/promises';
import { ReadThrough, type CacheSettings, type ServiceEvents, type StoredRead } from './cache.js';
import { isCart } from './contract.js';
import { BulkService, type BulkStore } from './bulk.js';
import { ShopError } from './errors.js';
import { parseCartRecord } from './records.js';
import { newId } from './ids.js';
import type { AttributeJson, Cart, ProductLine, WriteResult } from './model.js';
import { MAX_SIGNIFICANT_DIGITS, significantDigits } from './limits.js';
import { amountProblem, formatCents, MAX_STORED_INTEGER_DIGITS, multiply, parseAmount } from './money.js';
import { linesTotal } from './records.js';
import { parseQuantity, validateId, validateName } from './validate.js';

export interface NewCart {
  cartId: string;
  userId: string;
  createdAt: string;
}

/**
 * One atomic change to a cart. `lineIndex` names the existing line to raise,
 * or is absent to append `line` as a new one; the store applies it only if
 * the cart still looks the way the change assumed (see CartStore.addToLine).
 */
export interface LineChange {
  cartId: string;
  line: ProductLine;
  lineIndex: number | undefined;
  /** Lines the cart held when it was read; an append is refused if that changed. */
  lineCount: number;
  /** Whether the cart held a (numeric) total when it was read; refused if that changed. */
  hasTotal: boolean;
  /** quantity × unitPrice, added to the cart's total in the same write. */
  amount: string;
  at: string;
}

export type ChangeOutcome = { applied: true } | { applied: false; current: Cart | undefined };

export interface CartStore {
  readonly tableName: string;
  insert(cart: NewCart): Promise<{ inserted: true; cart: Cart } | { inserted: false; existing: Cart }>;
  get(cartId: string, consistent: boolean): Promise<StoredRead<Cart>>;
  /**
   * Raises the line at `lineIndex` (if it still holds the product at the same
   * price) or appends a new line (if the cart still has `lineCount` lines),
   * together with the total and version, in one atomic write that is applied
   * at most once even when the SDK retries it.
   */
  addToLine(change: LineChange): Promise<ChangeOutcome>;
}

export interface CreateCartInput {
  cartId?: string | undefined;
  userId: string;
}

export interface AddProductInput {
  cartId: string;
  productId: string;
  price: string;
  quantity?: string | undefined;
  name?: string | undefined;
}

/** Racing writers only cost a retry each; this many means something is badly wrong. */
const MAX_ATTEMPTS = 100;

export class CartService {
  private readonly reads: ReadThrough<Cart>;
  /** Import and export; see core/bulk.ts. */
  readonly bulk: BulkService<Cart>;

  constructor(
    private readonly store: CartStore,
    options: { cache?: CacheSettings | undefined; events?: ServiceEvents; bulk?: BulkStore<Cart> } = {},
  ) {
    this.bulk = new BulkService({ parse: parseCartRecord, idOf: (item) => item.cartId }, options.bulk, (item) => this.reads.written(item.cartId, item));
    this.reads = new ReadThrough(store.tableName, 'cartId', isCart, (id, consistent) => store.get(id, consistent), options.cache, options.events ?? {});
  }

  async create(input: CreateCartInput): Promise<{ result: WriteResult; cart: Cart }> {
    const cartId = input.cartId === undefined ? newId() : validateId(input.cartId, 'cartId');
    const userId = validateId(input.userId, 'userId');
    const outcome = await this.store.insert({ cartId, userId, createdAt: new Date().toISOString() });
    if (outcome.inserted) {
      await this.reads.written(cartId, outcome.cart);
      return { result: 'created', cart: outcome.cart };
    }
    if (outcome.existing.userId === userId) return { result: 'unchanged', cart: outcome.existing };
    throw new ShopError('CONFLICT', `cart ${cartId} already exists for another user (${outcome.existing.userId}); it was left untouched`);
  }

  async get(cartId: string, options: { strong: boolean }): Promise<Cart> {
    const cart = (await this.reads.get(validateId(cartId, 'cartId'), options.strong)) as Cart | undefined;
    if (!cart) throw notFound(cartId);
    return cart;
  }

  async addProduct(input: AddProductInput): Promise<{ result: WriteResult; cart: Cart }> {
    const cartId = validateId(input.cartId, 'cartId');
    const productId = validateId(input.productId, 'productId');
    const unitPrice = parseAmount(input.price, 'price');
    const quantity = input.quantity === undefined ? 1 : parseQuantity(input.quantity, 'quantity');
    const name = input.name === undefined ? null : validateName(input.name, 'name');
    const line: ProductLine = { productId, name, quantity, unitPrice: formatCents(unitPrice) };
    const amount = formatCents(multiply(unitPrice, quantity));

    let cart = (await this.store.get(cartId, true)).item;
    let before: string | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!cart) throw notFound(cartId);
      // A refused condition must be explained by what the re-read shows; otherwise retrying would only spin.
      const seen = fingerprint(cart);
      if (seen === before) {
        throw new ShopError('CONFLICT', `cart ${cartId}: DynamoDB refused to add ${productId} though the cart reads unchanged; nothing was changed (check the item's attributes)`);
      }
      before = seen;
      refuseUnwritable(cart);
      const products = cart.products ?? [];
      const lineIndex = products.findIndex((existing) => existing.productId === productId);
      const existing = products[lineIndex];
      if (existing && existing.unitPrice !== line.unitPrice) {
        throw new ShopError(
          'CONFLICT',
          `product ${productId} is in cart ${cartId} at ${existing.unitPrice}, not ${line.unitPrice}; a line's price never changes`,
        );
      }
      refuseOverflow(cartId, line, cart, existing, amount);
      const outcome = await this.store.addToLine({
        cartId,
        line,
        lineIndex: existing ? lineIndex : undefined,
        lineCount: products.length,
        hasTotal: cart.totalAmount !== null,
        amount,
        at: new Date().toISOString(),
      });
      if (outcome.applied) return { result: 'updated', cart: await this.afterChange(cartId) };
      cart = outcome.current;
      // Another writer appended a line first; spread the retries so a crowd does not collide again in step.
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new ShopError('UNAVAILABLE', `cart ${cartId} is changing too fast to add ${productId}; try again`);
  }

  /** The cart as it stands after a committed change, other writers' changes included; refreshed in the cache. */
  private async afterChange(cartId: string): Promise<Cart> {
    const { item } = await this.store.get(cartId, true);
    if (!item) throw notFound(cartId);
    await this.reads.written(cartId, item);
    return item;
  }
}

/**
 * add-product keeps a cart's total the sum of its lines with DynamoDB
 * arithmetic; on a cart written by another program (a string total, lines
 * holding `price`/`qty`, a total that does not add up) that would fail or
 * invent, so it is refused at once, naming the attribute.
 */
function refuseUnwritable(cart: Cart): void {
  const extra = cart.extra ?? {};
  const refuse = (attribute: string, problem: string) =>
    new ShopError(
      'CONFLICT',
      `cart ${cart.cartId} cannot take add-product: ${attribute} ${problem}; correct the item (e.g. export it, fix the line, import it with --overwrite) and try again; nothing was changed`,
    );
  if (cart.products === null && extra.products) throw refuse('products', `holds ${describe(extra.products)}, not a list of product maps`);
  if (cart.version === null && extra.version) throw refuse('version', `holds ${describe(extra.version)}, not a positive whole number`);
  const products = cart.products ?? [];
  for (const [index, line] of products.entries()) {
    const others = Object.keys(line.extra ?? {}).filter((name) => !['productId', 'name', 'quantity', 'unitPrice'].includes(name));
    const holding = others.length > 0 ? ` (the line holds ${others.join(', ')})` : '';
    for (const field of ['productId', 'quantity', 'unitPrice'] as const) {
      if (line[field] !== null) continue;
      const stored = line.extra?.[field];
      throw refuse(`products[${index}].${field}`, stored ? `holds ${describe(stored)}, not what shopdb writes there${holding}` : `is missing${holding}`);
    }
  }
  if (cart.totalAmount === null) {
    const stored = extra.totalAmount;
    if (stored && 'N' in stored) throw refuse('totalAmount', `holds the number ${shorten(stored.N)}, which ${amountProblem(stored.N)}; an amount is a number, not negative, with at most 2 decimals`);
    if (stored) throw refuse('totalAmount', `holds ${describe(stored)}, not an amount stored as a number`);
    if (products.length > 0) throw refuse('totalAmount', 'is missing though the cart has products');
    return;
  }
  const sum = linesTotal(cart);
  if (sum !== undefined && sum !== cart.totalAmount) throw refuse('totalAmount', `is ${cart.totalAmount} but the products add up to ${sum}`);
}

function describe(value: AttributeJson): string {
  if ('S' in value) return `the string ${JSON.stringify(value.S.length > 40 ? `${value.S.slice(0, 40)}…` : value.S)}`;
  if ('N' in value) return `the number ${shorten(value.N)}`;
  return `a value of type ${Object.keys(value)[0]}`;
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function fingerprint(cart: Cart): string {
  return JSON.stringify(cart, (_, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
}

function notFound(cartId: string): ShopError {
  return new ShopError('NOT_FOUND', `cart ${cartId} not found`);
}

/**
 * DynamoDB numbers hold 38 significant digits. What this change would store is
 * known before it is sent, so the attribute that would not fit is named here;
 * the store's own mapping of DynamoDB's refusal stays as the backstop.
 */
function refuseOverflow(cartId: string, line: ProductLine, cart: Cart, existing: ProductLine | undefined, amount: string): void {
  const total = formatCents(parseAmount(cart.totalAmount ?? '0', 'totalAmount', MAX_STORED_INTEGER_DIGITS) + parseAmount(amount, 'amount', MAX_STORED_INTEGER_DIGITS));
  const next: Array<[string, string]> = [
    ['totalAmount', total],
    ...(existing?.quantity != null && line.quantity !== null ? [[`products[${cart.products?.indexOf(existing)}].quantity`, String(BigInt(existing.quantity) + BigInt(line.quantity))] as [string, string]] : []),
    ...(cart.version !== null ? [['version', String(BigInt(cart.version) + 1n)] as [string, string]] : []),
  ];
  const over = next.find(([, value]) => significantDigits(value) > MAX_SIGNIFICANT_DIGITS);
  if (over) {
    throw new ShopError(
      'CONFLICT',
      `cart ${cartId} cannot take ${line.quantity} × ${line.productId}: ${over[0]} would pass the ${MAX_SIGNIFICANT_DIGITS} significant digits a DynamoDB number holds; the cart was left as it was`,
    );
  }
}
