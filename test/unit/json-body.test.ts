import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonBody, repeatedName } from '../../src/server/json-body.js';
import { ProblemError } from '../../src/server/problem.js';

function refusal(text: string, contentType = 'application/json'): { status: number; code: string; detail: string } {
  try {
    parseJsonBody(text, contentType);
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemError);
    return (error as ProblemError).problem;
  }
  throw new Error(`accepted: ${text}`);
}

describe('repeatedName', () => {
  it('finds a name given twice in one object, at any depth, however it is escaped', () => {
    expect(repeatedName('{"a":1,"a":2}')).toBe('a');
    expect(repeatedName('{"x":{"b":1,"c":[{"d":1,"d":2}]}}')).toBe('d');
    expect(repeatedName('{"a\\u0062":1,"ab":2}')).toBe('ab');
    expect(repeatedName('{ "a" : 1 ,\n\t"a"\r: 2 }')).toBe('a');
    expect(repeatedName('{"__proto__":1,"__proto__":2}')).toBe('__proto__');
  });

  it('does not confuse values, other objects or escaped quotes with names', () => {
    expect(repeatedName('{"a":"a","b":"a"}')).toBeUndefined();
    expect(repeatedName('[{"a":1},{"a":2}]')).toBeUndefined();
    expect(repeatedName('{"a":{"a":{"a":1}}}')).toBeUndefined();
    expect(repeatedName('{"a\\"":1,"a":2,"k":"\\"a\\":"}')).toBeUndefined();
    expect(repeatedName('["a","a"]')).toBeUndefined();
  });

  it('finds nothing in what JSON.stringify writes (its names are unique), and the name inserted twice when one is', () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(json, (value) => {
        expect(repeatedName(JSON.stringify(value))).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), json, { minKeys: 1, maxKeys: 5 }), fc.nat(), (object, pick) => {
        const names = Object.keys(object);
        const name = names[pick % names.length] as string;
        const text = JSON.stringify(object);
        const doubled = `${text.slice(0, -1)},${JSON.stringify(name)}:null}`;
        expect(repeatedName(doubled)).toBe(name);
      }),
    );
  });
});

describe('parseJsonBody', () => {
  it('reads UTF-8 JSON (charset absent, utf-8 or utf8 in any case); an empty body is none', () => {
    expect(parseJsonBody('{"a":1}', 'application/json')).toEqual({ a: 1 });
    expect(parseJsonBody('{"a":1}', 'application/json; charset=UTF-8')).toEqual({ a: 1 });
    expect(parseJsonBody('{"a":1}', 'application/json;charset="utf8"')).toEqual({ a: 1 });
    expect(parseJsonBody('  \n', 'application/json')).toBeUndefined();
  });

  it('refuses another charset (415), invalid JSON and a repeated name (400 naming it)', () => {
    expect(refusal('{}', 'application/json; charset=latin1')).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(refusal('{}', 'application/json; charset=utf-16')).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(refusal('{bad')).toMatchObject({ status: 400, code: 'BAD_INPUT' });
    expect(refusal('{bad').detail).toMatch(/^body: is not valid JSON/);
    expect(refusal('{"status":"PAID","status":"SHIPPED"}').detail).toBe('status: is given more than once in one object; send each field once');
    expect(refusal('{"a b\\n":1,"a b\\n":2}').detail).toBe('body field "a b\\n": is given more than once in one object; send each field once');
  });
});
