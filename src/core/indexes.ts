import { createHash } from 'node:crypto';
import type { OrderStatus } from './status.js';
import { ORDER_STATUSES } from './status.js';

/*
 * The secondary indexes `list` queries (tables create makes them; see
 * README "Finding things"). Every index projects ALL attributes except the
 * *-keys ones, which hold only the keys plus what the legacy pass filters on.
 *
 * By user: `userId` + `createdAt`, newest first. Items without `createdAt`
 * (the original design wrote none) are not in that index (a GSI holds only
 * items that have its key attributes); they are found through the `userId`
 * index (hash key only, every item with a userId), filtered on
 * `attribute_not_exists(createdAt)`, after the dated ones. It also carries
 * `status` and `updatedAt` so that `--status` and `--updated-before` filter
 * the legacy pass without reading the items (an order of the original design
 * that shopdb moved since has `updatedAt` but no `createdAt`).
 *
 * By status: one partition per status would be five hot partitions, so the
 * hash key is the status plus a shard suffix (`PAID#3`), derived from the
 * order id, and a read merges the shards by `updatedAt`, newest first.
 * `statusShard` is shopdb's own index attribute: written with every status,
 * never shown (not in `get --json`, not in `extra`), recomputed on import.
 */

export const STATUS_SHARDS = 8;

/** The index attribute that spreads one status over STATUS_SHARDS partitions. */
export const STATUS_SHARD_ATTRIBUTE = 'statusShard';

/** Attributes shopdb derives for its indexes; never part of the JSON contract. */
export const INDEX_ATTRIBUTES: readonly string[] = [STATUS_SHARD_ATTRIBUTE];

export function shardOf(orderId: string): number {
  return createHash('sha256').update(orderId).digest()[0]! % STATUS_SHARDS;
}

export function statusShard(orderId: string, status: OrderStatus): string {
  return `${status}#${shardOf(orderId)}`;
}

/** Every partition of one status in the status index. */
export function statusShards(status: OrderStatus): string[] {
  return Array.from({ length: STATUS_SHARDS }, (_, shard) => `${status}#${shard}`);
}

export function allStatusShards(): string[] {
  return ORDER_STATUSES.flatMap(statusShards);
}

export interface IndexDefinition {
  name: string;
  hashKey: string;
  rangeKey?: string;
  /** ALL, or INCLUDE these non-key attributes. */
  projection: 'ALL' | readonly string[];
}

export const ORDER_INDEXES: readonly IndexDefinition[] = [
  { name: 'userId-createdAt', hashKey: 'userId', rangeKey: 'createdAt', projection: 'ALL' },
  { name: 'statusShard-updatedAt', hashKey: STATUS_SHARD_ATTRIBUTE, rangeKey: 'updatedAt', projection: 'ALL' },
  { name: 'userId-keys', hashKey: 'userId', projection: ['createdAt', 'status', 'updatedAt'] },
];

export const CART_INDEXES: readonly IndexDefinition[] = [
  { name: 'userId-createdAt', hashKey: 'userId', rangeKey: 'createdAt', projection: 'ALL' },
  { name: 'userId-keys', hashKey: 'userId', projection: ['createdAt'] },
];

/** The indexes of one table kind (the idempotency keys' table has none: it is only read by key). */
export function indexesOf(kind: 'orders' | 'carts' | 'idempotency'): readonly IndexDefinition[] {
  return kind === 'orders' ? ORDER_INDEXES : kind === 'carts' ? CART_INDEXES : [];
}

/** The attributes the indexes key on (all strings). */
export function indexKeyAttributes(indexes: readonly IndexDefinition[]): string[] {
  return [...new Set(indexes.flatMap((index) => (index.rangeKey === undefined ? [index.hashKey] : [index.hashKey, index.rangeKey])))];
}
