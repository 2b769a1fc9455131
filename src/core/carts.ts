import { setTimeout as sleep } from 'node:timers/promises';
import { ReadThrough, type CacheOutcome, type CacheSettings, type ReadMode, type ServiceEvents, type StoredRead } from './cache.js';
import { isCart } from './contract.js';
import { BulkService, type BulkStore } from './bulk.js';
import { isShopError, ShopError } from './errors.js';
import { fromOrder } from './attributes.js';
import type { OrderStatus } from './status.js';
import { parseCartRecord } from './records.js';
import { newId } from './ids.js';
import { refuseOtherVersion } from './orders.js';
import type { AttributeJson, Cart, Order, ProductLine, WholeNumber, WriteResult } from './model.js';
import { itemSize, MAX_ITEM_BYTES, MAX_SIGNIFICANT_DIGITS, significantDigits } from './limits.js';
import { amountProblem, formatCents, MAX_STORED_INTEGER_DIGITS, multiply, parseAmount, wholeNumber } from './money.js';
import { linesTotal } from './records.js';
import { parseQuantity, validateId, validateName } from './validate.js';

export interface NewCart {
  cartId: string;
  userId: string;
  createdAt: string;
}

/** What an edit does to the cart's lines. */
export type LineEdit =
  /** Appends `line`; the cart must still hold `count` lines. */
  | { op: 'append'; line: ProductLine; count: number }
  /** Sets the quantity of the line at `index`, which must still hold `productId`. */
  | { op: 'set'; index: number; productId: string; quantity: WholeNumber }
  /** Removes the line at `index`, which must still hold `productId`. */
  | { op: 'remove'; index: number; productId: string };

/**
 * One atomic change to a cart, applied only while the cart is as it was read:
 * its version first (every shopdb write raises it), and, for writers that do
 * not (other programs), the line touched, the total, and not checked out.
 * The new total is computed exactly from the lines read.
 */
export interface CartEdit {
  cartId: string;
  /** The version read; null: the item had none, and must still have none. */
  version: WholeNumber | null;
  /** The total read; null: the item had none. */
  totalBefore: string | null;
  totalAfter: string;
  edit: LineEdit;
  at: string;
}

/**
 * `contended`: cancelled by another transaction still running on the cart
 * (TransactionConflict), not by the condition: the cart may read as before,
 * and trying again is right.
 */
export type ChangeOutcome = { applied: true } | { applied: false; current: Cart | undefined; contended?: boolean };

/** A delete, applied only while the cart is at `version`; `order` also requires that order to be final (or gone). */
export interface CartRemoval {
  cartId: string;
  version: WholeNumber | null;
  /** The order the cart was checked out as, when it must be final for the delete to apply. */
  order?: { orderId: string; finalStatuses: readonly OrderStatus[] } | undefined;
}

export type RemovalOutcome = { applied: true } | { applied: false; current: Cart | undefined; orderNotFinal: boolean };

/** The order to create and the cart (as read) to mark checked out, in one transaction. */
export interface CheckoutWrite {
  cart: Cart;
  order: Order;
  at: string;
}

export type CheckoutOutcome = { applied: true } | { applied: false; cartChanged: boolean; orderExists: boolean };

export interface CartStore {
  readonly tableName: string;
  insert(cart: NewCart): Promise<{ inserted: true; cart: Cart } | { inserted: false; existing: Cart }>;
  get(cartId: string, consistent: boolean): Promise<StoredRead<Cart>>;
  /** Applies the edit in one atomic write, at most once even when the SDK resends it. */
  edit(edit: CartEdit): Promise<ChangeOutcome>;
  /** Deletes the cart atomically, at most once; a resend after a lost answer succeeds. */
  remove(removal: CartRemoval): Promise<RemovalOutcome>;
  /** Creates the order and marks the cart checked out, both or neither. */
  checkout(write: CheckoutWrite): Promise<CheckoutOutcome>;
}

/** What checkout needs of the orders: reading one back, and refreshing the cache after it is created. */
export interface CheckoutOrders {
  get(orderId: string, options: { strong: boolean }): Promise<Order>;
  written(order: Order): Promise<void>;
}

export interface CreateCartInput {
  cartId?: string | undefined;
  userId: string;
}

export interface SetQuantityInput {
  cartId: string;
  productId: string;
  quantity: string;
  /** Change only while the cart is at this version (checked in DynamoDB's condition; HTTP If-Match). */
  ifVersion?: WholeNumber | undefined;
}

export interface CheckoutInput {
  cartId: string;
  orderId?: string | undefined;
  /** Change only while the cart is at this version (checked in DynamoDB's condition; HTTP If-Match). */
  ifVersion?: WholeNumber | undefined;
}

export interface AddProductInput {
  cartId: string;
  productId: string;
  price: string;
  quantity?: string | undefined;
  name?: string | undefined;
  /** Change only while the cart is at this version (checked in DynamoDB's condition; HTTP If-Match). */
  ifVersion?: WholeNumber | undefined;
}

/** Racing writers only cost a retry each; this many means something is badly wrong. */
const MAX_ATTEMPTS = 100;

/** An order in one of these may have its checked-out cart deleted. */
const FINAL_STATUSES: readonly OrderStatus[] = ['COMPLETED', 'CANCELLED'];

export class CartService {
  private readonly reads: ReadThrough<Cart>;
  /** Import and export; see core/bulk.ts. */
  readonly bulk: BulkService<Cart>;
  private readonly orders: CheckoutOrders | undefined;

  constructor(
    private readonly store: CartStore,
    options: { cache?: CacheSettings | undefined; events?: ServiceEvents; bulk?: BulkStore<Cart>; orders?: CheckoutOrders } = {},
  ) {
    this.bulk = new BulkService({ parse: parseCartRecord, idOf: (item) => item.cartId }, options.bulk, (item) => this.reads.written(item.cartId, item));
    this.reads = new ReadThrough(store.tableName, 'cartId', isCart, (id, consistent) => store.get(id, consistent), options.cache, options.events ?? {});
    this.orders = options.orders;
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
    return (await this.read(cartId, options.strong ? 'strong' : 'cached')).cart;
  }

  /** The cart (undefined: not found) and what the cache did for the read (an HTTP answer's X-Cache, a not-found included). */
  async find(cartId: string, mode: ReadMode): Promise<{ cart: Cart | undefined; cache: CacheOutcome }> {
    const { item, cache } = await this.reads.read(validateId(cartId, 'cartId'), mode);
    return { cart: item, cache };
  }

  async read(cartId: string, mode: ReadMode): Promise<{ cart: Cart; cache: CacheOutcome }> {
    const { cart, cache } = await this.find(cartId, mode);
    if (!cart) throw notFound(cartId);
    return { cart, cache };
  }

  async addProduct(input: AddProductInput): Promise<{ result: WriteResult; cart: Cart }> {
    const cartId = validateId(input.cartId, 'cartId');
    const productId = validateId(input.productId, 'productId');
    const unitPrice = parseAmount(input.price, 'price');
    const quantity = input.quantity === undefined ? 1 : parseQuantity(input.quantity, 'quantity');
    const name = input.name === undefined ? null : validateName(input.name, 'name');
    const line: ProductLine = { productId, name, quantity, unitPrice: formatCents(unitPrice) };
    const amount = formatCents(multiply(unitPrice, quantity));

    return this.change(cartId, `add ${productId}`, 'add-product', input.ifVersion, (cart, products) => {
      const index = products.findIndex((existing) => existing.productId === productId);
      const existing = products[index];
      if (existing && existing.unitPrice !== line.unitPrice) {
        throw new ShopError('CONFLICT', `product ${productId} is in cart ${cartId} at ${existing.unitPrice}, not ${line.unitPrice}; a line's price never changes`);
      }
      refuseOverflow(cartId, line, cart, existing, amount);
      const total = addAmounts(cart.totalAmount ?? '0', amount);
      if (!existing) return { edit: { op: 'append', line, count: products.length }, total };
      return { edit: { op: 'set', index, productId, quantity: wholeNumber(BigInt(existing.quantity as WholeNumber) + BigInt(quantity)) }, total };
    });
  }

  /** Sets a line's quantity; 0 removes the line. A product not in the cart is NOT_FOUND. */
  async setQuantity(input: SetQuantityInput): Promise<{ result: WriteResult; cart: Cart }> {
    const cartId = validateId(input.cartId, 'cartId');
    const productId = validateId(input.productId, 'productId');
    const quantity = input.quantity === '0' ? 0 : parseQuantity(input.quantity, 'quantity', { allowZero: true });
    if (quantity === 0) return this.removeProduct({ cartId, productId, ifVersion: input.ifVersion }, 'set-quantity');
    return this.change(cartId, `set the quantity of ${productId}`, 'set-quantity', input.ifVersion, (cart, products) => {
      const index = lineOf(cartId, productId, products);
      const existing = products[index] as ProductLine;
      if (BigInt(existing.quantity as WholeNumber) === BigInt(quantity)) return undefined;
      const before = multiply(parseAmount(existing.unitPrice as string, 'unitPrice', MAX_STORED_INTEGER_DIGITS), existing.quantity as WholeNumber);
      const after = multiply(parseAmount(existing.unitPrice as string, 'unitPrice', MAX_STORED_INTEGER_DIGITS), quantity);
      return { edit: { op: 'set', index, productId, quantity }, total: shiftTotal(cart, after - before) };
    });
  }

  /** `command`: how a refusal names what was asked (set-quantity to 0 removes too). */
  async removeProduct(input: { cartId: string; productId: string; ifVersion?: WholeNumber | undefined }, command = 'remove-product'): Promise<{ result: WriteResult; cart: Cart }> {
    const cartId = validateId(input.cartId, 'cartId');
    const productId = validateId(input.productId, 'productId');
    return this.change(cartId, `remove ${productId}`, command, input.ifVersion, (cart, products) => {
      const index = lineOf(cartId, productId, products);
      const existing = products[index] as ProductLine;
      const amount = multiply(parseAmount(existing.unitPrice as string, 'unitPrice', MAX_STORED_INTEGER_DIGITS), existing.quantity as WholeNumber);
      return { edit: { op: 'remove', index, productId }, total: shiftTotal(cart, -amount) };
    });
  }

  /**
   * Reads the cart, lets `plan` decide the edit from what it holds, and writes
   * it conditioned on that read; a refused condition means another writer
   * came first, so it reads again and plans again. `plan` returning undefined:
   * the cart already holds what was asked (unchanged, nothing written).
   */
  private async change(
    cartId: string,
    what: string,
    command: string,
    ifVersion: WholeNumber | undefined,
    plan: (cart: Cart, products: ProductLine[]) => { edit: LineEdit; total: string } | undefined,
  ): Promise<{ result: WriteResult; cart: Cart }> {
    let cart = (await this.store.get(cartId, true)).item;
    let before: string | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!cart) throw notFound(cartId);
      // A refused condition must be explained by what the re-read shows; otherwise retrying would only spin.
      const seen = fingerprint(cart);
      if (seen === before) {
        throw new ShopError('CONFLICT', `cart ${cartId}: DynamoDB refused to ${what} though the cart reads unchanged; nothing was changed (check the item's attributes)`);
      }
      before = seen;
      refuseOtherVersion('cart', cartId, cart.version, ifVersion);
      refuseCheckedOut(cart);
      refuseUnwritable(cart, command);
      const planned = plan(cart, cart.products ?? []);
      if (planned === undefined) return { result: 'unchanged', cart };
      if (significantDigits(planned.total) > MAX_SIGNIFICANT_DIGITS) {
        throw new ShopError('CONFLICT', `cart ${cartId} cannot ${what}: totalAmount would pass the ${MAX_SIGNIFICANT_DIGITS} significant digits a DynamoDB number holds; the cart was left as it was`);
      }
      const outcome = await this.store.edit({
        cartId,
        version: cart.version,
        totalBefore: cart.totalAmount,
        totalAfter: planned.total,
        edit: planned.edit,
        at: new Date().toISOString(),
      });
      if (outcome.applied) return { result: 'updated', cart: await this.afterChange(cartId) };
      cart = outcome.current;
      // Another transaction was in progress: the cart may read unchanged until it commits (or is cancelled too).
      if (outcome.contended) before = undefined;
      // Another writer came first; spread the retries so a crowd does not collide again in step.
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new ShopError('UNAVAILABLE', `cart ${cartId} is changing too fast to ${what}; try again`);
  }

  /**
   * Deletes a cart. A checked-out cart whose order is not yet COMPLETED or
   * CANCELLED is kept unless forced: the order may still need it. Prints the
   * cart as it was.
   */
  async delete(input: { cartId: string; force?: boolean; ifVersion?: WholeNumber | undefined }): Promise<{ result: 'deleted'; cart: Cart }> {
    const cartId = validateId(input.cartId, 'cartId');
    let cart = (await this.store.get(cartId, true)).item;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!cart) throw notFound(cartId);
      refuseForeignVersion(cart, 'be deleted');
      refuseOtherVersion('cart', cartId, cart.version, input.ifVersion);
      if (cart.status === 'CHECKED_OUT' && cart.orderId === null && !input.force) {
        // Its order cannot be looked up, so whether it is final is unknown.
        const stored = cart.extra?.orderId;
        throw new ShopError('CONFLICT', `cart ${cartId} is checked out, but its orderId ${stored ? `holds ${describe(stored)}, not an order id` : 'is missing'}; whether its order is final is unknown, so the cart was kept`, {
          hint: { kind: 'force' },
        });
      }
      const order = cart.status === 'CHECKED_OUT' && cart.orderId !== null && !input.force ? { orderId: cart.orderId, finalStatuses: FINAL_STATUSES } : undefined;
      const outcome = await this.store.remove({ cartId, version: cart.version, order });
      if (outcome.applied) {
        await this.reads.deleted(cartId, cart);
        return { result: 'deleted', cart };
      }
      if (outcome.orderNotFinal) {
        throw new ShopError(
          'CONFLICT',
          `cart ${cartId} was checked out as order ${cart.orderId}, which is not COMPLETED or CANCELLED yet; the cart was kept`,
          { hint: { kind: 'force' } },
        );
      }
      cart = outcome.current;
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new ShopError('UNAVAILABLE', `cart ${cartId} is changing too fast to delete; try again`);
  }

  /**
   * Turns the cart into an order (PENDING, the cart's user, lines and total)
   * and marks the cart CHECKED_OUT, in one transaction. A cart already checked
   * out answers its order, unchanged: a retry or a racing checkout never makes
   * a second one.
   */
  async checkout(input: CheckoutInput): Promise<{ result: WriteResult; order: Order }> {
    const cartId = validateId(input.cartId, 'cartId');
    const wanted = input.orderId === undefined ? undefined : validateId(input.orderId, 'orderId');
    const orders = this.orders;
    if (!orders) throw new ShopError('INTERNAL', 'checkout needs the orders table, which this service was not given');
    const orderId = wanted ?? newId();
    let cart = (await this.store.get(cartId, true)).item;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!cart) throw notFound(cartId);
      refuseOtherVersion('cart', cartId, cart.version, input.ifVersion);
      if (cart.status === 'CHECKED_OUT') return this.checkedOut(cart, wanted, orders);
      // A status shopdb does not know (another program's) is refused as edits refuse it, not overwritten.
      refuseCheckedOut(cart);
      refuseUnwritable(cart, 'checkout');
      if (cart.orderId !== null || cart.extra?.orderId) {
        // An open cart naming an order: another program's link, which checkout would overwrite.
        const held = cart.orderId !== null ? `the order id ${cart.orderId}` : describe(cart.extra?.orderId as AttributeJson);
        throw new ShopError('CONFLICT', `cart ${cartId} is open but its orderId holds ${held}; checking it out would replace that, so nothing was changed`);
      }
      if (!cart.products?.length) throw new ShopError('CONFLICT', `cart ${cartId} is empty; there is nothing to check out`);
      if (cart.userId === null) throw new ShopError('CONFLICT', `cart ${cartId} has no user to place the order; nothing was changed`);
      const at = new Date().toISOString();
      const order: Order = {
        orderId,
        userId: cart.userId,
        totalAmount: cart.totalAmount ?? linesTotal(cart) ?? '0.00',
        status: 'PENDING',
        createdAt: at,
        updatedAt: at,
        version: 1,
        cartId,
        products: cart.products,
      };
      refuseOversizedOrder(order);
      const outcome = await this.store.checkout({ cart, order, at });
      if (outcome.applied) {
        await orders.written(order);
        await this.afterChange(cartId);
        return { result: 'created', order };
      }
      if (outcome.orderExists && !outcome.cartChanged) {
        throw new ShopError('CONFLICT', `order ${orderId} already exists; cart ${cartId} was not checked out`);
      }
      cart = (await this.store.get(cartId, true)).item;
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new ShopError('UNAVAILABLE', `cart ${cartId} is changing too fast to check out; try again`);
  }

  private async checkedOut(cart: Cart, wanted: string | undefined, orders: CheckoutOrders): Promise<{ result: WriteResult; order: Order }> {
    if (cart.orderId === null) throw new ShopError('CONFLICT', `cart ${cart.cartId} is checked out but names no order; nothing was changed`);
    if (wanted !== undefined && wanted !== cart.orderId) {
      throw new ShopError('CONFLICT', `cart ${cart.cartId} was already checked out as order ${cart.orderId}, not ${wanted}; nothing was changed`);
    }
    try {
      const order = await orders.get(cart.orderId, { strong: true });
      // An order of that id made since (the first deleted, the id reused) is not this checkout's.
      if (order.cartId !== cart.cartId) {
        throw new ShopError('CONFLICT', `cart ${cart.cartId} was checked out as order ${cart.orderId}, but that order now belongs to ${order.cartId === null ? 'no cart' : `cart ${order.cartId}`}; nothing was changed`);
      }
      return { result: 'unchanged', order };
    } catch (error) {
      if (isShopError(error, 'NOT_FOUND')) {
        throw new ShopError('CONFLICT', `cart ${cart.cartId} was checked out as order ${cart.orderId}, which no longer exists; nothing was changed`, { cause: error });
      }
      throw error;
    }
  }

  /** The cart as it stands after a committed change, other writers' changes included; refreshed in the cache. */
  private async afterChange(cartId: string): Promise<Cart> {
    const { item } = await this.store.get(cartId, true);
    if (!item) throw notFound(cartId);
    await this.reads.written(cartId, item);
    return item;
  }
}

function lineOf(cartId: string, productId: string, products: ProductLine[]): number {
  const index = products.findIndex((line) => line.productId === productId);
  if (index === -1) throw new ShopError('NOT_FOUND', `product ${productId} is not in cart ${cartId}`);
  return index;
}

function addAmounts(a: string, b: string): string {
  return formatCents(parseAmount(a, 'totalAmount', MAX_STORED_INTEGER_DIGITS) + parseAmount(b, 'amount', MAX_STORED_INTEGER_DIGITS));
}

function shiftTotal(cart: Cart, cents: bigint): string {
  return formatCents(parseAmount(cart.totalAmount ?? '0', 'totalAmount', MAX_STORED_INTEGER_DIGITS) + cents);
}

function refuseCheckedOut(cart: Cart): void {
  if (cart.status === 'CHECKED_OUT') {
    throw new ShopError('CONFLICT', `cart ${cart.cartId} was checked out${cart.orderId === null ? '' : ` as order ${cart.orderId}`}; it can no longer change`);
  }
  if (cart.status === null && cart.extra?.status) {
    throw new ShopError('CONFLICT', `cart ${cart.cartId} holds a status of ${describe(cart.extra.status)}, which shopdb does not know; nothing was changed`);
  }
}

function refuseForeignVersion(cart: Cart, what: string): void {
  if (cart.version === null && cart.extra?.version) {
    throw new ShopError('CONFLICT', `cart ${cart.cartId} cannot ${what}: its version attribute holds ${describe(cart.extra.version)}, not a positive whole number; nothing was changed`, {
      hint: { kind: 'fix-item' },
    });
  }
}

/** An order holds the cart's lines: a cart near DynamoDB's item limit makes an order past it. */
function refuseOversizedOrder(order: Order): void {
  const size = itemSize(fromOrder(order));
  if (size > MAX_ITEM_BYTES) {
    throw new ShopError('CONFLICT', `cart ${order.cartId} is too large to become one order (${size} bytes, over DynamoDB's 400 KB item limit); nothing was changed`);
  }
}

/**
 * Cart edits keep a cart's total the sum of its lines, exactly; on a cart
 * written by another program (a string total, lines
 * holding `price`/`qty`, a total that does not add up) that would fail or
 * invent, so it is refused at once, naming the attribute.
 */
function refuseUnwritable(cart: Cart, command: string): void {
  const extra = cart.extra ?? {};
  const refuse = (attribute: string, problem: string) =>
    new ShopError(
      'CONFLICT',
      `cart ${cart.cartId} cannot take ${command}: ${attribute} ${problem}; nothing was changed`,
      { hint: { kind: 'fix-item' } },
    );
  if (cart.products === null && extra.products) throw refuse('products', `holds ${describe(extra.products)}, not a list of product maps`);
  if (cart.version === null && extra.version) throw refuse('version', `holds ${describe(extra.version)}, not a positive whole number`);
  const products = cart.products ?? [];
  const seen = new Map<string, number>();
  for (const [index, line] of products.entries()) {
    if (line.productId === null) continue;
    const first = seen.get(line.productId);
    // One line per product is what every edit relies on; another program's cart may repeat one.
    if (first !== undefined) throw refuse(`products[${index}].productId`, `repeats ${line.productId} of products[${first}]`);
    seen.set(line.productId, index);
  }
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

export function cartNotFound(cartId: string): ShopError {
  return notFound(cartId);
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
