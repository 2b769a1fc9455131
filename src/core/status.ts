import { badInput } from './errors.js';
import { quote } from './validate.js';

export const ORDER_STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The forward path; a move may skip steps but never go back. */
const PROGRESSION: readonly OrderStatus[] = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED'];
const CANCELLABLE_FROM: readonly OrderStatus[] = ['PENDING', 'PAID'];

export function parseStatus(text: string, field: string): OrderStatus {
  const status = ORDER_STATUSES.find((candidate) => candidate === text);
  if (!status) {
    const suggestion = suggestStatus(text);
    throw badInput(field, `${quote(text)} is not a status; use one of ${ORDER_STATUSES.join(', ')}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`);
  }
  return status;
}

/** How far a mistyped status may be from the real one (edits, ignoring case) to be suggested. */
const MAX_SUGGESTION_DISTANCE = 2;
const LONGEST_STATUS = Math.max(...ORDER_STATUSES.map((status) => status.length));

/**
 * The status `text` was most likely meant to be: the one it equals ignoring
 * case and surrounding spaces, else the one nearest by edits (a letter added,
 * dropped, changed or two swapped), if within two and nearer than any other.
 * Undefined for a valid status (nothing to suggest) or a guess too far off.
 */
export function suggestStatus(text: string): OrderStatus | undefined {
  if ((ORDER_STATUSES as readonly string[]).includes(text)) return undefined;
  // Longer text cannot be within reach of any status: no work for a pasted paragraph.
  const wanted = text.trim().toUpperCase();
  if (wanted.length > LONGEST_STATUS + MAX_SUGGESTION_DISTANCE) return undefined;
  const ranked = ORDER_STATUSES.map((status) => ({ status, distance: editDistance(wanted, status) })).sort((a, b) => a.distance - b.distance);
  const [best, next] = ranked;
  if (best === undefined || best.distance > MAX_SUGGESTION_DISTANCE) return undefined;
  return next !== undefined && next.distance === best.distance ? undefined : best.status;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours each cost one. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** Whether moving from one status to another changes the order legally (staying put is not a move). */
export function isLegalMove(from: OrderStatus, to: OrderStatus): boolean {
  if (to === 'CANCELLED') return CANCELLABLE_FROM.includes(from);
  const fromIndex = PROGRESSION.indexOf(from);
  const toIndex = PROGRESSION.indexOf(to);
  return fromIndex !== -1 && toIndex > fromIndex;
}

/** The statuses an order may hold for a move to `to` to be legal: what the write's condition checks. */
export function legalSources(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((from) => isLegalMove(from, to));
}
