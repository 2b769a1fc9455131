import type { CachedEntry, CacheLookup, CacheRef, ChangeOutcome, StreamChange, Version, VersionedCache } from '../../src/core/cache.js';

/**
 * The real cache behind a test's eyes: every call goes to `inner` (Redis
 * decides everything); a subclass overrides the calls it wants to note.
 */
export class PassThroughCache implements VersionedCache {
  constructor(protected readonly inner: VersionedCache) {}

  read(ref: CacheRef, leaseSeconds: number, usable?: (entry: CachedEntry) => boolean): Promise<CacheLookup> {
    return this.inner.read(ref, leaseSeconds, usable);
  }

  lease(ref: CacheRef, leaseSeconds: number): Promise<string> {
    return this.inner.lease(ref, leaseSeconds);
  }

  fill(ref: CacheRef, entry: CachedEntry, token: string, ttlSeconds: number): Promise<boolean> {
    return this.inner.fill(ref, entry, token, ttlSeconds);
  }

  put(ref: CacheRef, entry: CachedEntry, ttlSeconds: number, leaseSeconds: number): Promise<boolean> {
    return this.inner.put(ref, entry, ttlSeconds, leaseSeconds);
  }

  forget(ref: CacheRef, leaseSeconds: number): Promise<void> {
    return this.inner.forget(ref, leaseSeconds);
  }

  remove(ref: CacheRef, deletedVersion: Version | null, ttlSeconds: number, leaseSeconds: number): Promise<boolean> {
    return this.inner.remove(ref, deletedVersion, ttlSeconds, leaseSeconds);
  }

  applyChange(ref: CacheRef, change: StreamChange, ttlSeconds: number, guardSeconds: number): Promise<ChangeOutcome> {
    return this.inner.applyChange(ref, change, ttlSeconds, guardSeconds);
  }

  flush(scope: string, tables: readonly string[]): Promise<number> {
    return this.inner.flush(scope, tables);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }
}
