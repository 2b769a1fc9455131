import { describe, expect, it } from 'vitest';
import { CacheBreaker } from '../../src/core/cache.js';

describe('CacheBreaker', () => {
  it('opens for 1 s after a failure, doubles while failures continue, up to the limit, and closes again on success', () => {
    let now = 0;
    const breaker = new CacheBreaker(10_000, () => now);
    expect(breaker.closed).toBe(true);
    const openFor = () => {
      let waited = 0;
      while (!breaker.closed) {
        now += 100;
        waited += 100;
      }
      return waited;
    };
    breaker.failed();
    expect(openFor()).toBe(1_000);
    breaker.failed();
    expect(openFor()).toBe(2_000);
    breaker.failed();
    expect(openFor()).toBe(4_000);
    breaker.failed();
    expect(openFor()).toBe(8_000);
    breaker.failed();
    expect(openFor()).toBe(10_000);
    breaker.failed();
    expect(openFor()).toBe(10_000);
    breaker.succeeded();
    breaker.failed();
    expect(openFor()).toBe(1_000);
  });

  it('warns once per outage: again only after the cache worked', () => {
    let now = 0;
    const breaker = new CacheBreaker(10_000, () => now);
    expect(breaker.failed()).toBe(true);
    now += 1_000;
    expect(breaker.failed()).toBe(false);
    expect(breaker.claimWarning()).toBe(false);
    breaker.succeeded();
    expect(breaker.failed()).toBe(true);
  });

  it('never waits longer than a short limit it is given', () => {
    let now = 0;
    const breaker = new CacheBreaker(300, () => now);
    breaker.failed();
    now += 299;
    expect(breaker.closed).toBe(false);
    now += 1;
    expect(breaker.closed).toBe(true);
  });
});
