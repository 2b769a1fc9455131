import { expect } from 'vitest';
import { ShopError } from '../../src/core/errors.js';

/** Runs `fn`, which must throw a BAD_INPUT ShopError whose message starts with `field: `; returns the message. */
export function badInputMessage(fn: () => unknown, field: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ShopError);
  const error = caught as ShopError;
  expect(error.code).toBe('BAD_INPUT');
  expect(error.message.startsWith(`${field}: `), error.message).toBe(true);
  return error.message;
}
