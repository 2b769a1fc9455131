import { ReadThrough, type CacheSettings, type ServiceEvents, type StoredRead } from './cache.js';
import { isOrder } from './contract.js';
import { BulkService, type BulkStore } from './bulk.js';
import { ShopError } from './errors.js';
import { parseOrderRecord } from './records.js';
import { newId } from './ids.js';
import type { Order, WriteResult } from './model.js';
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
}

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
    const order = (await this.reads.get(validateId(orderId, 'orderId'), options.strong)) as Order | undefined;
    if (!order) throw notFound(orderId);
    return order;
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
        : await this.store.moveStatus({ orderId, to, from, at: new Date().toISOString() });
    if (outcome.applied) {
      await this.reads.written(orderId, outcome.order);
      return { result: 'updated', order: outcome.order };
    }

    const { current } = outcome;
    if (!current) throw notFound(orderId);
    if (current.version === null && current.extra?.version) {
      throw new ShopError(
        'CONFLICT',
        `order ${orderId} cannot change status: its version attribute holds ${JSON.stringify(current.extra.version)}, not a positive whole number; correct the item (e.g. export it, fix it, import it with --overwrite); nothing was changed`,
      );
    }
    if (current.status === to) return { result: 'unchanged', order: current };
    if (expect !== undefined && current.status !== expect) {
      throw new ShopError('UNEXPECTED_STATUS', `order ${orderId} is ${current.status}, not ${expect} as expected; nothing was changed`);
    }
    throw new ShopError('ILLEGAL_TRANSITION', illegalMoveMessage(orderId, current.status, to, current.extra?.status));
  }
}

function illegalMoveMessage(orderId: string, from: string | null, to: OrderStatus, stored: unknown): string {
  const found = from ?? (stored ? `a status of ${JSON.stringify(stored)}` : 'no status');
  return `order ${orderId} cannot move from ${found} to ${to}: moves go PENDING → PAID → SHIPPED → COMPLETED, CANCELLED only from PENDING or PAID (a forced move overrides this)`;
}

function notFound(orderId: string): ShopError {
  return new ShopError('NOT_FOUND', `order ${orderId} not found`);
}
