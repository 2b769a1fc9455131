import { describe, expect, it } from 'vitest';
import { renderHint, shellQuote } from '../../src/cli/hints.js';

describe('renderHint', () => {
  it('repeats endpoint and region given as flags, and the prefix in use, quoted for the shell', () => {
    const text = renderHint(
      { kind: 'create-tables' },
      { flags: { endpoint: 'http://127.0.0.1:8000/a b?x=1&y=2', region: 'eu-west-1' }, tablePrefix: 'new-', timeoutMs: 10_000 },
    );
    expect(text).toBe("run: shopdb --endpoint 'http://127.0.0.1:8000/a b?x=1&y=2' --region eu-west-1 --table-prefix new- tables create");
  });

  it('names no option that was not in use', () => {
    expect(renderHint({ kind: 'create-tables' }, { flags: {}, tablePrefix: '', timeoutMs: 10_000 })).toBe('run: shopdb tables create');
    expect(renderHint({ kind: 'raise-timeout' }, { flags: {}, tablePrefix: '', timeoutMs: 2500 })).toContain('(now 2.5 s)');
    expect(renderHint({ kind: 'start-local', port: 8000 }, { flags: {}, tablePrefix: '', timeoutMs: 1 })).toBe('is it running? start one with: shopdb local start');
  });
});

describe('shellQuote', () => {
  it.each([
    ['plain-word_1.2', 'plain-word_1.2'],
    ["it's", "'it'\\''s'"],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
    ['', "''"],
  ])('%j → %s', (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });
});
