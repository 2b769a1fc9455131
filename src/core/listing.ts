import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { badInput, ShopError } from './errors.js';
import { allStatusShards, statusShards } from './indexes.js';
import type { Cart, Order } from './model.js';
import { parseStatus, type OrderStatus } from './status.js';
import { parsePositiveInteger, validateId } from './validate.js';

/*
 * `order list` and `cart list`: newest first, from the secondary indexes
 * (core/indexes.ts), never a Scan. Three forms:
 *
 * - by user: `userId-createdAt` newest first (status and updated-before are
 *   filters), then the user's undated items (the original design wrote no
 *   createdAt) from `userId-keys`, read whole by BatchGetItem, in that
 *   index's order;
 * - by status (or every status): the status's shards of
 *   `statusShard-updatedAt`, merged newest first by updatedAt (tie: id),
 *   each shard read lazily in small pages, so a page of N reads about N items;
 * - the cursor is opaque (base64url of deflated JSON), binds to the query,
 *   and holds each source's position: the last item taken from it.
 */

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
/** A cursor longer than this is not one shopdb made (40 shard positions fit well below). */
const MAX_CURSOR_LENGTH = 32_768;
const MAX_POSITION_LENGTH = 2048;

export type ListKind = 'order' | 'cart';

export interface ListRequest {
  user?: string | undefined;
  status?: string | undefined;
  updatedBefore?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
}

/** A validated query: what a cursor binds to. */
export interface ListQuery {
  kind: ListKind;
  user?: string;
  status?: OrderStatus;
  /** ISO 8601, as shopdb writes dates (toISOString). */
  before?: string;
}

export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
  capacityUnits: number;
}

/** A position in an index: the last item taken (its id and the index's sort key, when it has one). */
export interface Position {
  id: string;
  /** createdAt (user, dated), updatedAt (status shards); absent for `userId-keys`. */
  sort?: string;
}

export interface IndexPage<T> {
  items: T[];
  /** More may follow (DynamoDB gave a LastEvaluatedKey). */
  more: boolean;
  /** Where DynamoDB stopped evaluating (past items a filter dropped): the next query starts there. */
  lastEvaluated?: Position | undefined;
  capacityUnits: number;
}

/** What listing needs from the store, per table. */
export interface ListStore<T> {
  /** The user's items with createdAt, newest first, filtered; `limit` items evaluated at most. */
  queryUserDated(user: string, filter: ListFilter, after: Position | undefined, limit: number): Promise<IndexPage<T>>;
  /** The user's items without createdAt, keys only, filtered, in the index's order. */
  queryUserUndated(user: string, filter: ListFilter, after: Position | undefined, limit: number): Promise<IndexPage<string>>;
  /** Whole items by id, in the order asked (missing ones left out: deleted since). */
  getMany(ids: string[]): Promise<{ items: T[]; capacityUnits: number }>;
  /** One shard of the status index, newest first by updatedAt, below `before` when given. */
  queryShard(shard: string, before: string | undefined, after: Position | undefined, limit: number): Promise<IndexPage<T>>;
}

export interface ListFilter {
  status?: OrderStatus;
  before?: string;
}

type Item = Order | Cart;

/** Cursor state: the query it binds to, and where each source stands. */
interface CursorState {
  v: 1;
  q: ListQuery;
  /** By user: the phase and the last item taken in it. */
  u?: { ph: 'd' | 'u'; at?: Position };
  /** By status: each shard's last item taken; `true` when the shard is exhausted; absent: not read yet. */
  s?: Record<string, Position | true>;
}

export function parseListQuery(kind: ListKind, request: ListRequest): { query: ListQuery; limit: number } {
  const query: ListQuery = { kind };
  if (request.user !== undefined) query.user = validateId(request.user, 'user');
  if (kind === 'cart' && query.user === undefined) throw badInput('user', 'is required: carts are listed by user');
  if (request.status !== undefined) query.status = parseStatus(request.status, 'status');
  if (request.updatedBefore !== undefined) query.before = parseInstant(request.updatedBefore, 'updated-before');
  const limit = request.limit === undefined ? DEFAULT_LIMIT : parsePositiveInteger(request.limit, 'limit', MAX_LIMIT);
  return { query, limit };
}

/**
 * An ISO 8601 date (midnight UTC) or a date-time with its zone (Z or ±hh:mm),
 * as the same instant in shopdb's own form (2024-05-01T12:00:00.000Z). A
 * date-time without a zone is refused rather than read in the machine's own
 * zone (one script would select other orders on another host), and so is a
 * day that does not exist (Date.parse rolls 2026-02-30 over to March).
 */
export function parseInstant(text: string, field: string): string {
  const refuse = (why: string) => badInput(field, `${JSON.stringify(text.slice(0, 40))} ${why}`);
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  if (!match) throw refuse('is not an ISO 8601 date or time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z');
  const [, year, month, day, hour, minute, second, zone] = match;
  if (hour !== undefined && zone === undefined) throw refuse('has no time zone; add Z for UTC (2024-05-01T12:00:00Z) or an offset (+02:00)');
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) throw refuse('is not a day of the calendar');
  if (hour !== undefined && (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59)) throw refuse('is not a time of the day');
  const time = Date.parse(hour === undefined ? `${year}-${month}-${day}T00:00:00Z` : text.replace(' ', 'T'));
  if (Number.isNaN(time)) throw refuse('is not an ISO 8601 date or time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z');
  // shopdb's times have milliseconds: "before 19.5481" takes 19.548, so a fraction finer than that rounds up, never down.
  const finer = /\.\d{3}(\d*)/.exec(text)?.[1] ?? '';
  return new Date(/[1-9]/.test(finer) ? time + 1 : time).toISOString();
}

export class ListService<T extends Item> {
  constructor(
    private readonly kind: ListKind,
    private readonly store: ListStore<T>,
  ) {}

  /** One page of at most `limit` items; fewer only at the end (then nextCursor is null). */
  async page(request: ListRequest): Promise<ListPage<T>> {
    const { query, limit } = parseListQuery(this.kind, request);
    const state = request.cursor === undefined ? undefined : decodeCursor(request.cursor, query);
    return query.user !== undefined ? this.byUser(query, query.user, limit, state) : this.byStatus(query, limit, state);
  }

  /** Every page, one after another (`--all`). */
  async *all(request: Omit<ListRequest, 'cursor'>, onPage?: (page: ListPage<T>) => void): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    do {
      const page = await this.page({ ...request, cursor, limit: request.limit ?? String(MAX_LIMIT) });
      onPage?.(page);
      yield page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  private async byUser(query: ListQuery, user: string, limit: number, state: CursorState | undefined): Promise<ListPage<T>> {
    const filter: ListFilter = { ...(query.status ? { status: query.status } : {}), ...(query.before ? { before: query.before } : {}) };
    let phase = state?.u?.ph ?? 'd';
    let at = state?.u?.at;
    let capacityUnits = 0;
    const items: T[] = [];
    const idOf = (item: T) => (this.kind === 'order' ? (item as Order).orderId : (item as Cart).cartId);
    // One item past the page is read, when there is one, so that a full page that ends the listing says so.
    if (phase === 'd') {
      let more = true;
      let position = at;
      let taken = at;
      while (more && items.length <= limit) {
        const page = await this.store.queryUserDated(user, filter, position, limit + 1 - items.length);
        capacityUnits += page.capacityUnits;
        more = page.more;
        for (const item of page.items) {
          items.push(item);
          if (items.length <= limit) taken = { id: idOf(item), sort: String(item.createdAt) };
        }
        position = page.lastEvaluated ?? position;
      }
      if (items.length > limit) {
        return { items: items.slice(0, limit), nextCursor: encodeCursor({ v: 1, q: query, u: { ph: 'd', ...(taken ? { at: taken } : {}) } }), capacityUnits };
      }
      phase = 'u';
      at = undefined;
    }
    const undated = await this.undated(user, filter, at, limit + 1 - items.length);
    capacityUnits += undated.capacityUnits;
    const combined = [...items, ...undated.items];
    if (combined.length > limit) {
      // The last item of the page: an undated one (its id is the position), or the last dated one (the undated pass starts afresh).
      const lastUndated = limit > items.length ? undated.items[limit - items.length - 1] : undefined;
      const position = lastUndated === undefined ? (limit > items.length ? at : undefined) : { id: idOf(lastUndated) };
      return { items: combined.slice(0, limit), nextCursor: encodeCursor({ v: 1, q: query, u: { ph: 'u', ...(position ? { at: position } : {}) } }), capacityUnits };
    }
    return { items: combined, nextCursor: null, capacityUnits };
  }

  /** The user's undated items after `at`: keys from the index, then the items themselves. */
  private async undated(user: string, filter: ListFilter, at: Position | undefined, wanted: number): Promise<{ items: T[]; capacityUnits: number }> {
    const ids: string[] = [];
    let capacityUnits = 0;
    let position = at;
    let more = true;
    while (more && ids.length < wanted) {
      const page = await this.store.queryUserUndated(user, filter, position, Math.max(wanted - ids.length, 25));
      capacityUnits += page.capacityUnits;
      more = page.more;
      ids.push(...page.items.slice(0, wanted - ids.length));
      position = page.lastEvaluated ?? position;
    }
    if (ids.length === 0) return { items: [], capacityUnits };
    const got = await this.store.getMany(ids);
    return { items: got.items, capacityUnits: capacityUnits + got.capacityUnits };
  }

  private async byStatus(query: ListQuery, limit: number, state: CursorState | undefined): Promise<ListPage<T>> {
    const shards = query.status === undefined ? allStatusShards() : statusShards(query.status);
    const positions: Record<string, Position | true> = { ...(state?.s ?? {}) };
    const buffers = new Map<string, T[]>();
    const exhausted = new Set<string>(shards.filter((shard) => positions[shard] === true));
    /** Where the next query of a shard starts: after the last item read (not taken). */
    const readTo = new Map<string, Position | undefined>(shards.map((shard) => [shard, positions[shard] === true ? undefined : (positions[shard] as Position | undefined)]));
    const pageSizes = new Map<string, number>();
    let capacityUnits = 0;
    const idOf = (item: T) => (this.kind === 'order' ? (item as Order).orderId : (item as Cart).cartId);

    const fill = async (shard: string) => {
      // Small first pages (a fair share of the page), doubling while a shard keeps winning.
      const size = pageSizes.get(shard) ?? Math.min(limit + 1, Math.ceil((limit + 1) / shards.length) + 1);
      pageSizes.set(shard, Math.min(size * 2, MAX_LIMIT));
      const page = await this.store.queryShard(shard, query.before, readTo.get(shard), size);
      capacityUnits += page.capacityUnits;
      const last = page.items.at(-1);
      if (page.lastEvaluated) readTo.set(shard, page.lastEvaluated);
      else if (last) readTo.set(shard, { id: idOf(last), sort: String(last.updatedAt) });
      if (!page.more) exhausted.add(shard);
      buffers.set(shard, [...(buffers.get(shard) ?? []), ...page.items]);
    };
    const heads = async () => {
      const empty = shards.filter((shard) => !exhausted.has(shard) && (buffers.get(shard)?.length ?? 0) === 0);
      await Promise.all(empty.map(fill));
      // A shard whose page came back empty but not finished is read again.
      if (empty.some((shard) => !exhausted.has(shard) && (buffers.get(shard)?.length ?? 0) === 0)) await heads();
    };

    const items: T[] = [];
    for (;;) {
      await heads();
      let best: string | undefined;
      for (const shard of shards) {
        const head = buffers.get(shard)?.[0];
        if (head === undefined) continue;
        const current = best === undefined ? undefined : buffers.get(best)?.[0];
        if (current === undefined || newer(head, current, idOf)) best = shard;
      }
      if (best === undefined) return { items, nextCursor: null, capacityUnits };
      if (items.length === limit) {
        const next: Record<string, Position | true> = {};
        // A shard none of this page came from continues below the page's last item, not from its top:
        // an order changed since is newer than that, and belongs to a new listing, not to the next page.
        const last = items.at(-1) as T;
        const boundary: Position = { id: idOf(last), sort: String(last.updatedAt) };
        for (const shard of shards) {
          const position = positions[shard];
          // Exhausted with nothing left unread: never queried again.
          if (exhausted.has(shard) && (buffers.get(shard)?.length ?? 0) === 0) next[shard] = true;
          else next[shard] = position ?? boundary;
        }
        return { items, nextCursor: encodeCursor({ v: 1, q: query, s: next }), capacityUnits };
      }
      const item = buffers.get(best)?.shift() as T;
      items.push(item);
      positions[best] = { id: idOf(item), sort: String(item.updatedAt) };
    }
  }
}

/** Newest first by updatedAt; equal times by id, descending (so that the order is total). */
function newer<T>(a: T & { updatedAt: string | null }, b: T & { updatedAt: string | null }, idOf: (item: T) => string): boolean {
  const x = a.updatedAt ?? '';
  const y = b.updatedAt ?? '';
  if (x !== y) return x > y;
  return idOf(a) > idOf(b);
}

export function encodeCursor(state: CursorState): string {
  return deflateRawSync(Buffer.from(JSON.stringify(state), 'utf8')).toString('base64url');
}

const INVALID = 'is not a cursor shopdb gave for this listing (changed, cut, or from another one); list again without it';

/** The state in `text`, checked against `query`: a cursor of another listing, or one changed by hand, is bad input naming the field. */
export function decodeCursor(text: string, query: ListQuery): CursorState {
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) throw badInput('cursor', INVALID);
  let state: unknown;
  try {
    const json = inflateRawSync(Buffer.from(text, 'base64url'), { maxOutputLength: MAX_CURSOR_LENGTH * 4 }).toString('utf8');
    state = JSON.parse(json);
  } catch {
    throw badInput('cursor', INVALID);
  }
  if (!isRecord(state) || state.v !== 1 || !isRecord(state.q)) throw badInput('cursor', INVALID);
  if (!sameQuery(state.q, query)) {
    throw badInput('cursor', `was given for another listing (${describeQuery(state.q)}), not this one (${describeQuery({ ...query })}); use the same options as the listing that printed it`);
  }
  const keys = Object.keys(state).sort().join(',');
  if (query.user !== undefined) {
    if (keys !== 'q,u,v' || !isRecord(state.u)) throw badInput('cursor', INVALID);
    const { ph, at } = state.u;
    if ((ph !== 'd' && ph !== 'u') || Object.keys(state.u).some((key) => key !== 'ph' && key !== 'at')) throw badInput('cursor', INVALID);
    if (at !== undefined) checkPosition(at, ph === 'd', undefined);
    return state as unknown as CursorState;
  }
  if (keys !== 'q,s,v' || !isRecord(state.s)) throw badInput('cursor', INVALID);
  const shards = new Set(query.status === undefined ? allStatusShards() : statusShards(query.status));
  for (const [shard, position] of Object.entries(state.s)) {
    if (!shards.has(shard)) throw badInput('cursor', INVALID);
    if (position !== true) checkPosition(position, true, query.before);
  }
  return state as unknown as CursorState;
}

/** A position DynamoDB will accept as a start key: non-empty strings of bounded size, and inside the key condition. */
function checkPosition(value: unknown, sorted: boolean, before: string | undefined): void {
  if (!isRecord(value) || typeof value.id !== 'string') throw badInput('cursor', INVALID);
  const names = Object.keys(value).sort().join(',');
  if (names !== (sorted ? 'id,sort' : 'id')) throw badInput('cursor', INVALID);
  try {
    validateId(value.id, 'cursor');
  } catch {
    throw badInput('cursor', INVALID);
  }
  if (sorted) {
    const sort = value.sort;
    if (typeof sort !== 'string' || sort.length === 0 || Buffer.byteLength(sort) > MAX_POSITION_LENGTH || !sort.isWellFormed()) throw badInput('cursor', INVALID);
    // A start key outside `updatedAt < before` is refused by DynamoDB.
    if (before !== undefined && !(sort < before)) throw badInput('cursor', INVALID);
  }
}

function sameQuery(a: Record<string, unknown>, b: ListQuery): boolean {
  const fields = ['kind', 'user', 'status', 'before'] as const;
  if (Object.keys(a).some((key) => !(fields as readonly string[]).includes(key))) return false;
  return fields.every((field) => a[field] === b[field]);
}

function describeQuery(query: Record<string, unknown>): string {
  const parts = [`${String(query.kind)} list`];
  if (typeof query.user === 'string') parts.push(`user ${JSON.stringify(query.user.slice(0, 40))}`);
  if (typeof query.status === 'string') parts.push(`status ${query.status.slice(0, 20)}`);
  if (typeof query.before === 'string') parts.push(`updated before ${query.before.slice(0, 30)}`);
  return parts.join(', ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** The store could not query an index: it is missing (tables made before indexes existed). */
export function missingIndex(table: string, index: string, cause?: unknown): ShopError {
  return new ShopError('SCHEMA_MISMATCH', `table ${table} has no index ${index}, which listing needs (tables made before this version lack it; creating the tables adds it, unless an index of shopdb's names there has other keys)`, {
    cause,
    hint: { kind: 'table-status' },
  });
}
