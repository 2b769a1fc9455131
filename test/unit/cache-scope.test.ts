import { describe, expect, it } from 'vitest';
import { cacheScope } from '../../src/app/shop.js';
import { dynamoIdentity, normalise } from '../../src/store/cache-scope.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function scope(endpoint: string, region = 'us-east-1'): Promise<string> {
  return cacheScope((await dynamoIdentity({ endpoint, region }))!);
}

describe('the cache scope merges only spellings of one address', () => {
  it('127.0.0.1, 127.0.0.2, [::1] and localhost on one port are four scopes (they used to be one: http://loopback:PORT)', async () => {
    const hosts = ['127.0.0.1', '127.0.0.2', '[::1]', 'localhost'];
    const scopes = await Promise.all(hosts.map((host) => scope(`http://${host}:8000`)));
    expect(new Set(scopes).size).toBe(4);
    expect(hosts.map((host) => normalise(`http://${host}:8000`))).toEqual(['http://127.0.0.1:8000', 'http://127.0.0.2:8000', 'http://[::1]:8000', 'http://localhost:8000']);
  });

  it.each([
    'http://127.1:8000',
    'http://0x7f000001:8000',
    'http://2130706433:8000',
    'http://0177.0.0.1:8000',
    'http://[::ffff:127.0.0.1]:8000',
    'http://[::FFFF:7F00:1]:8000/',
    'HTTP://127.0.0.1:8000/',
  ])('%s is 127.0.0.1:8000', async (spelling) => {
    expect(normalise(spelling)).toBe('http://127.0.0.1:8000');
    expect(await scope(spelling)).toBe(await scope('http://127.0.0.1:8000'));
  });

  it('IPv6 forms of one address, host name case and the default port are one spelling', () => {
    expect(normalise('http://[0:0:0:0:0:0:0:1]:8000')).toBe('http://[::1]:8000');
    expect(normalise('http://[::ffff:10.1.2.3]:8000')).toBe('http://10.1.2.3:8000');
    expect(normalise('HTTP://LocalHost:8000/')).toBe('http://localhost:8000');
    expect(normalise('https://dynamodb.eu-west-1.amazonaws.com:443')).toBe('https://dynamodb.eu-west-1.amazonaws.com');
    expect(normalise('http://db.example:80/')).toBe('http://db.example');
  });

  it('what may be another server stays apart: localhost., other ports, schemes, paths, [::2] and other mapped addresses', async () => {
    const spellings = [
      'http://127.0.0.1:8000',
      'http://localhost.:8000',
      'http://127.0.0.1:8001',
      'https://127.0.0.1:8000',
      'http://127.0.0.1:8000/env-a',
      'http://127.0.0.1:8000/env-b',
      'http://127.0.0.1:8000/env-a//',
      'http://[::2]:8000',
      'http://[::ffff:7e00:1]:8000',
      'http://[::ffff:127.0.0.2]:8000',
      'http://localhost.example:8000',
    ];
    const scopes = await Promise.all(spellings.map((spelling) => scope(spelling)));
    expect(new Set(scopes).size).toBe(spellings.length);
  });

  it('the region stays in the scope', async () => {
    expect(await scope('http://localhost:8000', 'eu-west-1')).not.toBe(await scope('http://localhost:8000', 'us-east-1'));
  });
});
