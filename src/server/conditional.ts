import type { WholeNumber } from '../core/model.js';
import { ShopError } from '../core/errors.js';

/*
 * Conditional requests (RFC 9110 §13): an item's strong entity tag is its
 * version, `"<version>"`. An item without a usable version (another
 * program's) has no tag: If-None-Match never matches it and If-Match (other
 * than `*`) always fails.
 */

export function etagOf(version: WholeNumber | null): string | undefined {
  return version === null ? undefined : `"${version}"`;
}

/** A version no item ever has: an If-Match naming a tag shopdb never makes still fails, inside DynamoDB's condition. */
const NEVER = -1n;

/**
 * The version an If-Match header requires, for a write: undefined when the
 * header is absent or `*` (any current item: every write already needs one).
 * One strong tag only; a weak tag never matches strongly (§13.1.1), so it
 * fails as a tag of no version does. A list of several is refused: a write is
 * conditioned on one version.
 */
export function requiredVersion(header: string | undefined): bigint | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return undefined;
  const tags = splitTags(value);
  if (tags.length !== 1) throw new ShopError('BAD_INPUT', 'If-Match: name exactly one entity tag (as the ETag of the item\'s last answer), or *');
  const [tag] = tags as [string];
  const strong = /^"(0|[1-9]\d{0,39})"$/.exec(tag);
  if (strong) return BigInt(strong[1] as string);
  if (/^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/.test(tag)) return NEVER;
  throw new ShopError('BAD_INPUT', 'If-Match: not an entity tag (a quoted string, such as "3")');
}

/** Whether If-None-Match matches this item's tag (weak comparison, §13.1.2): then a GET answers 304. */
export function noneMatchHits(header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined) return false;
  const value = header.trim();
  // `*` matches any current item, one without a version (no tag) included.
  if (value === '*') return true;
  if (etag === undefined) return false;
  return splitTags(value).some((tag) => tag.replace(/^W\//, '') === etag);
}

/** The core's PRECONDITION_FAILED message, without naming the sentinel version of a tag that never matches. */
export function preconditionDetail(message: string): string {
  return message.replace(`, not ${NEVER} as required`, ', and the If-Match tag (weak, or not one this server makes) never matches');
}

function splitTags(value: string): string[] {
  return value
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

/** Whether If-Match holds for this tag on a read (strong comparison, §13.1.1): `*` for any current item, else one of its tags. */
export function strongMatch(header: string, etag: string | undefined): boolean {
  const value = header.trim();
  if (value === '*') return true;
  return etag !== undefined && splitTags(value).includes(etag);
}
