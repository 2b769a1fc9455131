import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID: 10 characters of millisecond time then 16 of randomness, so ids
 * sort by creation time as plain strings and never collide in practice.
 */
export function newId(now: number = Date.now()): string {
  let time = '';
  for (let rest = now, i = 0; i < 10; i++, rest = Math.floor(rest / 32)) {
    time = CROCKFORD[rest % 32] + time;
  }
  const random = randomBytes(16);
  let tail = '';
  for (const byte of random) tail += CROCKFORD[byte % 32];
  return time + tail;
}
