/**
 * applyChange, the cache's side of the stream follower, against the real
 * redis-server: generated histories of one item's stream records, delivered
 * with replays (at-least-once: a restart re-reads from the checkpoint, a lease
 * handed over re-reads a batch) and with shopdb's own writes and readers'
 * fills interleaved. Whatever the schedule, the cache never goes back.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { StreamChange } from '../../src/core/cache.js';
import { cacheKeys, RedisCache } from '../../src/store/redis-cache.js';
import { Redis } from 'ioredis';

const cache = new RedisCache(inject('redisUrl'));
const inspector = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });

afterAll(async () => {
  await cache.close();
  await inspector.quit();
});

let run = 0;

function image(id: string, step: number, version: number) {
  return { orderId: id, status: `S${step}`, version };
}

describe('applyChange under generated schedules', () => {
  it('after any prefix of a schedule with replays, the entry is the newest record applied so far (or dropped), never an older one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<'store' | 'drop'>('store', 'store', 'store', 'drop'), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 40 }),
        async (actions, replayPicks, version) => {
          run += 1;
          const ref = { scope: 'prop', table: 'T', id: `item-${run}` };
          // Sequence numbers as DynamoDB Local pads them; the same version throughout (foreign writes do not bump it).
          const records: StreamChange[] = actions.map((action, step) => ({
            shard: 'shard-1',
            sequence: String(1000 + step * 7).padStart(21, '0'),
            action,
            ...(action === 'store' ? { entry: { version, item: image(ref.id, step, version) } } : {}),
          }));
          // The records in order, each followed now and then by a replay of an earlier one.
          const schedule: number[] = [];
          records.forEach((_, step) => {
            schedule.push(step);
            const pick = replayPicks[step];
            if (pick !== undefined && pick % 3 === 0) schedule.push(pick % (step + 1));
          });
          let newest = -1;
          for (const step of schedule) {
            const outcome = await cache.applyChange(ref, records[step]!, 300, 600);
            if (step <= newest) expect(outcome).toBe('seen');
            newest = Math.max(newest, step);
            const raw = await inspector.get(cacheKeys(ref).entry);
            const applied = records[newest]!;
            if (applied.action === 'drop') expect(raw).toBeNull();
            else expect(JSON.parse(raw!)).toMatchObject({ item: { status: `S${newest}` }, by: 'stream' });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a reader that took its token before a change never fills over it; a shopdb write of a higher version is never replaced by an older image', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 5 }), async (version, ahead) => {
        run += 1;
        const ref = { scope: 'prop', table: 'T', id: `race-${run}` };
        const miss = await cache.read(ref, 30);
        expect(miss.hit).toBe(false);
        const token = (miss as { token: string }).token;
        // The foreign write reaches the follower while the reader is between its DynamoDB read and its fill.
        await cache.applyChange(ref, { shard: 's', sequence: '5', action: 'store', entry: { version, item: image(ref.id, 1, version) } }, 300, 600);
        expect(await cache.fill(ref, { version, item: image(ref.id, 0, version) }, token, 300)).toBe(false);
        expect(JSON.parse((await inspector.get(cacheKeys(ref).entry))!)).toMatchObject({ item: { status: 'S1' } });
        // shopdb then writes a higher version; an older record (applied late) must not replace it.
        await cache.put(ref, { version: version + ahead, item: image(ref.id, 2, version + ahead), by: 'write' }, 300, 30_000);
        expect(await cache.applyChange(ref, { shard: 's', sequence: '6', action: 'store', entry: { version, item: image(ref.id, 3, version) } }, 300, 600)).toBe('dropped');
        const after = await inspector.get(cacheKeys(ref).entry);
        expect(after).toBeNull();
        // And no fill of the old version lands afterwards (the floor holds).
        const next = await cache.read(ref, 30);
        expect(next.hit).toBe(false);
        expect(await cache.fill(ref, { version, item: image(ref.id, 0, version) }, (next as { token: string }).token, 300)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
