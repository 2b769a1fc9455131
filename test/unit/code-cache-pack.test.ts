import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/*
 * The pack format of bin/code-cache.cjs. V8 on Node 20 runs a corrupted code cache without a word, so
 * the pack's own checks are all that stands between a damaged file and executing garbage: whatever
 * happens to the bytes, a payload the loader would hand to V8 is exactly one that was written.
 */
const { encodePack, decodePack } = createRequire(import.meta.url)('../../bin/code-cache.cjs') as {
  encodePack: (entries: Map<string, { source: string; data: Buffer }>) => Buffer;
  decodePack: (buffer: Buffer) => { chunks?: Map<string, { source: string; data: string; payload: Buffer }>; invalid?: string };
};

const sha = (data: Buffer) => createHash('sha256').update(data).digest('base64');
/** What the loader would pass to V8 for each chunk: only payloads whose own hash matches. */
function usable(buffer: Buffer): Map<string, { source: string; payload: Buffer }> {
  const decoded = decodePack(buffer);
  const out = new Map<string, { source: string; payload: Buffer }>();
  for (const [name, entry] of decoded.chunks ?? []) if (sha(entry.payload) === entry.data) out.set(name, { source: entry.source, payload: entry.payload });
  return out;
}

const entries = fc.uniqueArray(
  fc.record({
    name: fc.stringMatching(/^[a-z0-9-]{1,20}\.cjs$/),
    source: fc.base64String({ minLength: 4, maxLength: 44 }),
    data: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  }),
  { selector: (entry) => entry.name, minLength: 1, maxLength: 6 },
);

describe('code cache pack', () => {
  it('round-trips every entry', () => {
    fc.assert(fc.property(entries, (list) => {
      const decoded = usable(encodePack(new Map(list.map(({ name, source, data }) => [name, { source, data }]))));
      expect(decoded.size).toBe(list.length);
      for (const { name, source, data } of list) {
        expect(decoded.get(name)?.source).toBe(source);
        expect(decoded.get(name)?.payload.equals(data)).toBe(true);
      }
    }));
  });

  it('flipped bytes, truncation or appended bytes never yield a payload or source that was not written', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 1 }), xor: fc.constant(0) }),
      fc.record({ kind: fc.constant('append' as const), at: fc.array(fc.nat({ max: 64 }), { minLength: 1, maxLength: 1 }), xor: fc.integer({ min: 0, max: 255 }) }),
    );
    fc.assert(fc.property(entries, damage, (list, { kind, at, xor }) => {
      const written = new Map(list.map(({ name, source, data }) => [name, { source, data }]));
      let buffer = encodePack(written);
      if (kind === 'flip') {
        buffer = Buffer.from(buffer);
        for (const position of at) buffer[position % buffer.length] = (buffer[position % buffer.length] ?? 0) ^ xor;
      } else if (kind === 'truncate') buffer = buffer.subarray(0, (at[0] ?? 0) % buffer.length);
      else buffer = Buffer.concat([buffer, Buffer.alloc((at[0] ?? 0) + 1, xor)]);
      for (const [name, { source, payload }] of usable(buffer)) {
        expect(written.get(name)?.source).toBe(source);
        expect(written.get(name)?.data.equals(payload)).toBe(true);
      }
    }), { numRuns: 2_000 });
  });

  it('says why a pack cannot be used', () => {
    const good = encodePack(new Map([['a.cjs', { source: 'x', data: Buffer.from('payload') }]]));
    expect(decodePack(Buffer.alloc(0)).invalid).toBe('not a shopdb code cache');
    expect(decodePack(Buffer.from('something else entirely, long enough to pass the header')).invalid).toBe('not a shopdb code cache');
    expect(decodePack(good.subarray(0, 60)).invalid).toBe('truncated');
    // Cut inside the header: still recognisably a pack, cut short.
    expect(decodePack(good.subarray(0, 30)).invalid).toBe('truncated');
    expect(decodePack(good.subarray(0, 5)).invalid).toBe('truncated');
    const index = Buffer.from(good);
    index[60] = (index[60] ?? 0) ^ 1;
    expect(decodePack(index).invalid).toBe('corrupted index');
    // A pack another Node wrote (copied between machines or versions) under this one's name.
    const other = Buffer.from(good.toString('latin1').replace(process.version, 'v0.0.1'.padEnd(process.version.length, '0')), 'latin1');
    const hashOf = (buffer: Buffer) => createHash('sha256').update(buffer).digest();
    const length = other.readUInt32LE(16);
    hashOf(other.subarray(52, 52 + length)).copy(other, 20);
    expect(decodePack(other).invalid).toBe('written by another Node');
  });
});
