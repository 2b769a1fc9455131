// The orders bench/follow.mjs and its foreign writer (bench/follow-writer.mjs) write, and their markers.
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';

export const orderId = (n) => `f-${String(n).padStart(5, '0')}`;

/** Write n's marker, in the item's `benchMark` attribute (shopdb keeps it among the item's extra attributes, so it is in the cached image). */
export const marker = (n) => `bm${n}x`;
export const MARKER = /bm(\d+)x/;

/** A whole order as shopdb stores it (with its status index key), version 1, carrying write n's marker. */
export function orderItem(id, n) {
  return {
    orderId: id,
    userId: `user-${id.slice(-2)}`,
    totalAmount: NumberValue.from('19.99'),
    status: 'PAID',
    statusShard: `PAID#${createHash('sha256').update(id).digest()[0] % 8}`,
    createdAt: '2026-11-01T10:00:00.000Z',
    updatedAt: new Date().toISOString(),
    version: 1,
    benchMark: marker(n),
  };
}
