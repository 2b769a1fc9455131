import { badInput } from './errors.js';
import { quote } from './validate.js';

/**
 * Money is held as an integer number of cents in a bigint, so sums and
 * products are exact; it travels as a decimal string ("59.97"), never as a
 * binary float.
 */
export type Cents = bigint;

/** 17 integer digits: 99999999999999999.99 is the largest amount a person may type. */
const MAX_INTEGER_DIGITS = 17;
/**
 * DynamoDB holds 38 significant digits (trailing zeros do not count) below
 * 10^126: a whole number or an amount's integer part has at most 126 digits.
 */
export const MAX_NUMBER_DIGITS = 126;
/** Amounts read from the table and taken back by import: whatever DynamoDB holds, 2 decimals at most. */
export const MAX_STORED_INTEGER_DIGITS = MAX_NUMBER_DIGITS;
const AMOUNT = /^(\d+)(?:\.(\d{1,2}))?$/;

export function parseAmount(text: string, field: string, maxIntegerDigits = MAX_INTEGER_DIGITS): Cents {
  const match = AMOUNT.exec(text);
  if (!match) {
    throw badInput(field, `${quote(text)} is not an amount; use a non-negative decimal with at most 2 decimals, e.g. 19.99`);
  }
  const [, whole = '', fraction = ''] = match;
  if (whole.replace(/^0+(?=\d)/, '').length > maxIntegerDigits) {
    throw badInput(field, `amount is too large; at most ${maxIntegerDigits} digits before the decimal point`);
  }
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

export function formatCents(cents: Cents): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  const whole = abs / 100n;
  const fraction = (abs % 100n).toString().padStart(2, '0');
  return `${sign}${whole}.${fraction}`;
}

/**
 * Reads an amount that came back from the table: a DynamoDB number such as
 * "59.97" or "10", or a string written by the original Python design.
 * Stored values that are not plain 2-decimal amounts are returned as found,
 * so nothing a person wrote is ever rounded away.
 */
export function normalizeStoredAmount(stored: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(stored.trim());
  if (!match) return stored;
  const [, sign = '', whole = '', fraction = ''] = match;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > 2) return stored;
  const cents = BigInt(whole) * 100n + BigInt(significant.padEnd(2, '0'));
  return formatCents(sign === '-' ? -cents : cents);
}

export function multiply(unitPrice: Cents, quantity: number | bigint): Cents {
  return unitPrice * BigInt(quantity);
}

/**
 * The amount a stored DynamoDB number holds, if it is one shopdb writes: not
 * negative, at most 2 decimals, no exponent (DynamoDB already bounds its
 * digits). Anything else is undefined (the caller keeps it as found, never
 * rounded); amountProblem says why.
 */
export function storedAmount(number: string): string | undefined {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(number);
  if (!match) return undefined;
  const [, whole = '', fraction = ''] = match;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > 2 || whole.replace(/^0+(?=\d)/, '').length > MAX_STORED_INTEGER_DIGITS) return undefined;
  return formatCents(BigInt(whole) * 100n + BigInt(significant.padEnd(2, '0')));
}

/** A whole number as the contract carries it: a plain number while exact, a bigint beyond. */
export function wholeNumber(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
}

/** Why a stored DynamoDB number is not an amount (storedAmount refused it), in words for a message. */
export function amountProblem(number: string): string {
  if (number.startsWith('-')) return 'is negative';
  const match = /^(\d+)(?:\.(\d+))?$/.exec(number);
  if (!match) return 'is not written as plain digits';
  const [, , fraction = ''] = match;
  if (fraction.replace(/0+$/, '').length > 2) return 'has more than 2 decimals';
  return `has more than ${MAX_STORED_INTEGER_DIGITS} integer digits`;
}
