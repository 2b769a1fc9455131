import { badInput } from './errors.js';
import { quote } from './validate.js';

export const ORDER_STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The forward path; a move may skip steps but never go back. */
const PROGRESSION: readonly OrderStatus[] = ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED'];
const CANCELLABLE_FROM: readonly OrderStatus[] = ['PENDING', 'PAID'];

export function parseStatus(text: string, field: string): OrderStatus {
  const status = ORDER_STATUSES.find((candidate) => candidate === text);
  if (!status) throw badInput(field, `${quote(text)} is not a status; use one of ${ORDER_STATUSES.join(', ')}`);
  return status;
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
