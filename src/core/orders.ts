import { ReadThrough, type CacheOutcome, type CacheSettings, type ReadMode, type ServiceEvents, type StoredRead } from './cache.js';
import { isOrder } from './contract.js';
import { BulkService, type BulkStore } from './bulk.js';
import { ShopError } from './errors.js';
import { parseOrderRecord } from './records.js';
import { newId } from './ids.js';
import type { Order, WholeNumber, WriteResult } from './model.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatCents, parseAmount } from './money.js';
import { legalSources, parseStatus, type OrderStatus } from './status.js';
import { validateId } from './validate.js';

export interface NewOrder {
  orderId: string;
  userId: string;
  totalAmount: string;
  createdAt: string;
}

export interface StatusMove {
  orderId: string;
  to: OrderStatus;
  /** The statuses the order must hold for the move to apply; `any` when forced. */
  from: readonly OrderStatus[] | 'any';
  /** When set, the move applies only while the order is at exactly this version (a caller's If-Match). */
  version?: WholeNumber | undefined;
  at: string;
}

/** What DynamoDB decided; `current` is the item as the failed condition saw it. */
export type MoveOutcome = { applied: true; order: Order } | { applied: false; current: Order | undefined };

/** The persistence the order rules need; src/store implements it on DynamoDB. */
export interface OrderStore {
  readonly tableName: string;
  /** Writes the order only if its id is free; otherwise returns the stored order untouched. */
  insert(order: NewOrder): Promise<{ inserted: true; order: Order } | { inserted: false; existing: Order }>;
  get(orderId: string, consistent: boolean): Promise<StoredRead<Order>>;
  /** Applies the move atomically, and only if the condition in `move` holds inside DynamoDB. */
  moveStatus(move: StatusMove): Promise<MoveOutcome>;
  /** Deletes the order atomically, at most once (a resend after a lost answer succeeds), if `removal`'s condition holds. */
  remove(removal: OrderRemoval): Promise<{ applied: true } | { applied: false; current: Order | undefined }>;
}

/** A delete, applied only while the order is at `version` and (unless `any`) in one of `statuses`. */
export interface OrderRemoval {
  orderId: string;
  version: WholeNumber | null;
  statuses: readonly OrderStatus[] | 'any';
}

export interface DeleteOrderInput {
  orderId: string;
  expect?: string | undefined;
  force?: boolean;
  /** Delete only while the order is at this version (checked in DynamoDB's condition). */
  ifVersion?: WholeNumber | undefined;
}

/** Only orders in these statuses are deleted without forcing. */
export const DELETABLE_STATUSES: readonly OrderStatus[] = ['CANCELLED', 'COMPLETED'];
const MAX_ATTEMPTS = 100;

export interface CreateOrderInput {
  orderId?: string | undefined;
  userId: string;
  amount: string;
}

export interface SetStatusInput {
  orderId: string;
  status: string;
  expect?: string | undefined;
  force?: boolean;
  /** Move only while the order is at this version (checked in DynamoDB's condition). */
  ifVersion?: WholeNumber | undefined;
}

export class OrderService {
  private readonly reads: ReadThrough<Order>;
  /** Import and export; see core/bulk.ts. */
  readonly bulk: BulkService<Order>;

  constructor(
    private readonly store: OrderStore,
    options: { cache?: CacheSettings | undefined; events?: ServiceEvents; bulk?: BulkStore<Order> } = {},
  ) {
    this.bulk = new BulkService({ parse: parseOrderRecord, idOf: (item) => item.orderId }, options.bulk, (item) => this.reads.written(item.orderId, item));
    this.reads = new ReadThrough(store.tableName, 'orderId', isOrder, (id, consistent) => store.get(id, consistent), options.cache, options.events ?? {});
  }

  async create(input: CreateOrderInput): Promise<{ result: WriteResult; order: Order }> {
    const orderId = input.orderId === undefined ? newId() : validateId(input.orderId, 'orderId');
    const userId = validateId(input.userId, 'userId');
    const totalAmount = formatCents(parseAmount(input.amount, 'amount'));
    const outcome = await this.store.insert({ orderId, userId, totalAmount, createdAt: new Date().toISOString() });
    if (outcome.inserted) {
      await this.reads.written(orderId, outcome.order);
      return { result: 'created', order: outcome.order };
    }

    const { existing } = outcome;
    if (existing.userId === userId && existing.totalAmount === totalAmount) {
      return { result: 'unchanged', order: existing };
    }
    throw new ShopError(
      'CONFLICT',
      `order ${orderId} already exists with other contents (user ${existing.userId}, amount ${existing.totalAmount}); it was left untouched`,
    );
  }

  async get(orderId: string, options: { strong: boolean }): Promise<Order> {
    return (await this.read(orderId, options.strong ? 'strong' : 'cached')).order;
  }

  /** The order (undefined: not found) and what the cache did for the read (an HTTP answer's X-Cache, a not-found included). */
  async find(orderId: string, mode: ReadMode): Promise<{ order: Order | undefined; cache: CacheOutcome }> {
    const { item, cache } = await this.reads.read(validateId(orderId, 'orderId'), mode);
    return { order: item, cache };
  }

  async read(orderId: string, mode: ReadMode): Promise<{ order: Order; cache: CacheOutcome }> {
    const { order, cache } = await this.find(orderId, mode);
    if (!order) throw notFound(orderId);
    return { order, cache };
  }

  async setStatus(input: SetStatusInput): Promise<{ result: WriteResult; order: Order }> {
    const orderId = validateId(input.orderId, 'orderId');
    const to = parseStatus(input.status, 'status');
    const expect = input.expect === undefined ? undefined : parseStatus(input.expect, 'expect');
    const allowed: readonly OrderStatus[] | 'any' = input.force ? 'any' : legalSources(to);
    const from = expect === undefined ? allowed : allowed === 'any' || allowed.includes(expect) ? [expect] : [];

    const outcome =
      from !== 'any' && from.length === 0
        ? { applied: false as const, current: (await this.store.get(orderId, true)).item }
        : await this.store.moveStatus({ orderId, to, from, version: input.ifVersion, at: new Date().toISOString() });
    if (outcome.applied) {
      await this.reads.written(orderId, outcome.order);
      return { result: 'updated', order: outcome.order };
    }

    const { current } = outcome;
    if (!current) throw notFound(orderId);
    refuseOtherVersion('order', orderId, current.version, input.ifVersion);
    if (current.version === null && current.extra?.version) {
      throw new ShopError(
        'CONFLICT',
        `order ${orderId} cannot change status: its version attribute holds ${JSON.stringify(current.extra.version)}, not a positive whole number; nothing was changed`,
        { hint: { kind: 'fix-item' } },
      );
    }
    if (current.status === to) return { result: 'unchanged', order: current };
    if (expect !== undefined && current.status !== expect) {
      throw new ShopError('UNEXPECTED_STATUS', `order ${orderId} is ${current.status}, not ${expect} as expected; nothing was changed`);
    }
    throw new ShopError('ILLEGAL_TRANSITION', illegalMoveMessage(orderId, current.status, to, current.extra?.status));
  }

  /**
   * Deletes an order that is CANCELLED or COMPLETED (any, when forced), as
   * read just before and conditioned on that version; answers the order as it
   * was. Cached reads answer not-found afterwards.
   */
  async delete(input: DeleteOrderInput): Promise<{ result: 'deleted'; order: Order }> {
    const orderId = validateId(input.orderId, 'orderId');
    const expect = input.expect === undefined ? undefined : parseStatus(input.expect, 'expect');
    let current = (await this.store.get(orderId, true)).item;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!current) throw notFound(orderId);
      refuseForeignOrderVersion(current, 'be deleted');
      refuseOtherVersion('order', orderId, current.version, input.ifVersion);
      if (expect !== undefined && current.status !== expect) {
        throw new ShopError('UNEXPECTED_STATUS', `order ${orderId} is ${describeStatus(current)}, not ${expect} as expected; nothing was deleted`);
      }
      if (!input.force && !DELETABLE_STATUSES.some((status) => status === current?.status)) {
        throw new ShopError('CONFLICT', `order ${orderId} is ${describeStatus(current)}; only CANCELLED or COMPLETED orders are deleted, so it was kept`, {
          hint: { kind: 'force' },
        });
      }
      const statuses = expect !== undefined ? [expect] : input.force ? 'any' : DELETABLE_STATUSES;
      const outcome = await this.store.remove({ orderId, version: current.version, statuses });
      if (outcome.applied) {
        await this.reads.deleted(orderId, current);
        return { result: 'deleted', order: current };
      }
      current = outcome.current;
      await sleep(Math.random() * Math.min(100, 5 * attempt));
    }
    throw new ShopError('UNAVAILABLE', `order ${orderId} is changing too fast to delete; try again`);
  }

  /** Refreshes the cache after another service committed this order (checkout creates orders). */
  async written(order: Order): Promise<void> {
    await this.reads.written(order.orderId, order);
  }
}

/**
 * A caller that named the version it last saw (HTTP If-Match) is refused when
 * the item is at another one. Only a shortcut before a write: the write itself
 * is conditioned on the version, so a change in between is refused by DynamoDB.
 */
export function refuseOtherVersion(kind: 'order' | 'cart', id: string, current: WholeNumber | null, wanted: WholeNumber | undefined): void {
  if (wanted === undefined) return;
  if (current === null || BigInt(current) !== BigInt(wanted)) {
    throw new ShopError('PRECONDITION_FAILED', `${kind} ${id} is at version ${current ?? 'none'}, not ${wanted} as required; nothing was changed`);
  }
}

export function refuseForeignOrderVersion(order: Order, what: string): void {
  if (order.version === null && order.extra?.version) {
    throw new ShopError(
      'CONFLICT',
      `order ${order.orderId} cannot ${what}: its version attribute holds ${JSON.stringify(order.extra.version)}, not a positive whole number; nothing was changed`,
      { hint: { kind: 'fix-item' } },
    );
  }
}

function illegalMoveMessage(orderId: string, from: string | null, to: OrderStatus, stored: unknown): string {
  const found = from ?? (stored ? `a status of ${JSON.stringify(stored)}` : 'no status');
  return `order ${orderId} cannot move from ${found} to ${to}: moves go PENDING → PAID → SHIPPED → COMPLETED, CANCELLED only from PENDING or PAID (a forced move overrides this)`;
}

/** The order's status for a message: a status another program wrote (kept in extra) is shown, not called missing. */
function describeStatus(order: Order): string {
  if (order.status !== null) return order.status;
  const stored = order.extra?.status;
  if (stored && 'S' in stored) return `in a status shopdb does not know (${JSON.stringify(stored.S.length > 40 ? `${stored.S.slice(0, 40)}…` : stored.S)})`;
  if (stored) return `in a status shopdb does not know (a value of type ${Object.keys(stored)[0]})`;
  return 'without a status';
}

export function notFound(orderId: string): ShopError {
  return new ShopError('NOT_FOUND', `order ${orderId} not found`);
}
