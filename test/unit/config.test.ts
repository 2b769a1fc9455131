import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { describeCredentials, redactedRedisUrl, resolveConfig, type Env, type GlobalOptions } from '../../src/cli/config.js';
import { parseBilling, tableNames } from '../../src/core/tables.js';
import { badInputMessage } from '../support/bad-input.js';

const LOCAL = 'http://127.0.0.1:8000';
const DUMMY = { accessKeyId: 'shopdblocal', secretAccessKey: 'shopdblocal' };

function resolve(flags: GlobalOptions = {}, env: Env = {}, options: { tty?: boolean; awsFile?: boolean } = {}) {
  return resolveConfig(flags, env, options.tty ?? false, options.awsFile ?? false);
}


describe('resolveConfig precedence: flag > SHOPDB_* > AWS_* > default', () => {
  const allEndpoints: Env = {
    SHOPDB_ENDPOINT: 'http://127.0.0.1:1111',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:2222',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:3333',
  };

  it('endpoint: --endpoint wins over every variable', () => {
    expect(resolve({ endpoint: 'http://127.0.0.1:9999' }, allEndpoints).endpoint).toBe('http://127.0.0.1:9999');
  });

  it('endpoint: SHOPDB_ENDPOINT, then AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then none', () => {
    expect(resolve({}, allEndpoints).endpoint).toBe('http://127.0.0.1:1111');
    expect(resolve({}, { ...allEndpoints, SHOPDB_ENDPOINT: undefined }).endpoint).toBe('http://127.0.0.1:2222');
    expect(resolve({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:3333' }).endpoint).toBe('http://127.0.0.1:3333');
    const none = resolve();
    expect(none.endpoint).toBeUndefined();
    expect(none.region).toBeUndefined();
    expect(none.location).toBe('DynamoDB in the configured region');
  });

  it('region: --region > SHOPDB_REGION > AWS_REGION > us-east-1 for a loopback endpoint', () => {
    const env: Env = { SHOPDB_ENDPOINT: LOCAL, SHOPDB_REGION: 'eu-west-1', AWS_REGION: 'ap-south-1' };
    expect(resolve({ region: 'us-west-2' }, env).region).toBe('us-west-2');
    expect(resolve({}, env).region).toBe('eu-west-1');
    expect(resolve({}, { ...env, SHOPDB_REGION: undefined }).region).toBe('ap-south-1');
    expect(resolve({}, { SHOPDB_ENDPOINT: LOCAL }).region).toBe('us-east-1');
  });

  it('region: no default without a loopback endpoint (the SDK resolves it), and location names it', () => {
    expect(resolve({}, { SHOPDB_ENDPOINT: 'https://dynamodb.example.com' }).region).toBeUndefined();
    expect(resolve({}, { AWS_REGION: 'eu-central-1' }).location).toBe('DynamoDB in eu-central-1');
  });

  it('region: a malformed name is BAD_INPUT naming region', () => {
    badInputMessage(() => resolve({ region: 'US East' }), 'region');
    badInputMessage(() => resolve({}, { SHOPDB_REGION: 'x'.repeat(51) }), 'region');
  });

  it('table prefix: --table-prefix > SHOPDB_TABLE_PREFIX > empty', () => {
    expect(resolve({ tablePrefix: 'a-' }, { SHOPDB_TABLE_PREFIX: 'b-' }).tablePrefix).toBe('a-');
    expect(resolve({}, { SHOPDB_TABLE_PREFIX: 'b-' }).tablePrefix).toBe('b-');
    expect(resolve().tablePrefix).toBe('');
  });

  it('timeout: --timeout > SHOPDB_TIMEOUT > 10 s', () => {
    expect(resolve({ timeout: '3' }, { SHOPDB_TIMEOUT: '7' }).timeoutMs).toBe(3000);
    expect(resolve({}, { SHOPDB_TIMEOUT: '7' }).timeoutMs).toBe(7000);
    expect(resolve().timeoutMs).toBe(10_000);
  });

  it('verbose: --verbose or a truthy SHOPDB_VERBOSE', () => {
    expect(resolve().verbose).toBe(false);
    expect(resolve({ verbose: true }).verbose).toBe(true);
    expect(resolve({}, { SHOPDB_VERBOSE: '1' }).verbose).toBe(true);
    expect(resolve({}, { SHOPDB_VERBOSE: 'yes' }).verbose).toBe(true);
    for (const off of ['', '0', 'false', 'FALSE']) expect(resolve({}, { SHOPDB_VERBOSE: off }).verbose).toBe(false);
  });
});

describe('resolveConfig credentials', () => {
  it.each([['http://127.0.0.1:8000'], ['http://localhost:8000'], ['http://[::1]:8000'], ['http://127.9.8.7'], ['HTTP://LOCALHOST:8000'], ['http://[::ffff:127.0.0.1]:8000']])(
    'a loopback endpoint %s with nothing configured gets static dummy credentials and us-east-1',
    (endpoint) => {
      const config = resolve({ endpoint });
      expect(config.staticCredentials).toEqual(DUMMY);
      expect(config.region).toBe('us-east-1');
      expect(config.location).toBe(endpoint);
    },
  );

  it.each([
    ['AWS_PROFILE', { AWS_PROFILE: 'dev' }],
    ['AWS_ACCESS_KEY_ID', { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }],
    ['AWS_WEB_IDENTITY_TOKEN_FILE', { AWS_WEB_IDENTITY_TOKEN_FILE: '/token' }],
    ['AWS_CONTAINER_CREDENTIALS_FULL_URI', { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/creds' }],
    ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/creds' }],
  ] as const)('a loopback endpoint with %s set uses the SDK chain (no static credentials)', (_name, env) => {
    const config = resolve({}, { SHOPDB_ENDPOINT: LOCAL, ...env });
    expect(config.staticCredentials).toBeUndefined();
    expect(config.region).toBe('us-east-1');
  });

  it('a loopback endpoint with an ~/.aws file uses the SDK chain', () => {
    expect(resolve({ endpoint: LOCAL }, {}, { awsFile: true }).staticCredentials).toBeUndefined();
    expect(resolve({ endpoint: LOCAL }, {}, { awsFile: false }).staticCredentials).toEqual(DUMMY);
  });

  it.each([['https://dynamodb.us-east-1.amazonaws.com'], ['http://10.0.0.5:8000'], ['http://localhost.example.com:8000'], ['http://128.0.0.1']])(
    'a non-loopback endpoint %s never gets static credentials',
    (endpoint) => {
      expect(resolve({ endpoint }).staticCredentials).toBeUndefined();
    },
  );

  it('no endpoint at all never gets static credentials', () => {
    expect(resolve().staticCredentials).toBeUndefined();
  });
});

describe('resolveConfig endpoint validation', () => {
  it.each([['ftp://x'], ['not a url'], ['http://user:pw@host'], ['http://user@127.0.0.1:8000'], ['localhost:8000'], ['file:///tmp/x']])(
    'rejects %j as BAD_INPUT naming endpoint',
    (endpoint) => {
      badInputMessage(() => resolve({ endpoint }), 'endpoint');
      badInputMessage(() => resolve({}, { SHOPDB_ENDPOINT: endpoint }), 'endpoint');
    },
  );

  it('does not echo credentials from a rejected endpoint', () => {
    expect(badInputMessage(() => resolve({ endpoint: 'http://user:hunter2@host' }), 'endpoint')).not.toContain('hunter2');
  });

  it('accepts http and https', () => {
    expect(resolve({ endpoint: 'https://dynamodb.eu-west-1.amazonaws.com' }).endpoint).toBe('https://dynamodb.eu-west-1.amazonaws.com');
    expect(resolve({ endpoint: 'http://127.0.0.1:8000' }).endpoint).toBe('http://127.0.0.1:8000');
  });
});

describe('resolveConfig output mode', () => {
  it('--json gives json, even at a terminal', () => {
    expect(resolve({ json: true }, {}, { tty: true }).output).toBe('json');
  });

  it('--output json|table is honoured either way', () => {
    expect(resolve({ output: 'json' }, {}, { tty: true }).output).toBe('json');
    expect(resolve({ output: 'table' }, {}, { tty: false }).output).toBe('table');
    expect(resolve({ json: true, output: 'json' }).output).toBe('json');
  });

  it('defaults to json when piped and table at a terminal', () => {
    expect(resolve({}, {}, { tty: false }).output).toBe('json');
    expect(resolve({}, {}, { tty: true }).output).toBe('table');
  });

  it('SHOPDB_OUTPUT sits between the flags and the default', () => {
    expect(resolve({}, { SHOPDB_OUTPUT: 'table' }, { tty: false }).output).toBe('table');
    expect(resolve({}, { SHOPDB_OUTPUT: 'json' }, { tty: true }).output).toBe('json');
    expect(resolve({ output: 'table' }, { SHOPDB_OUTPUT: 'json' }).output).toBe('table');
    expect(resolve({ json: true }, { SHOPDB_OUTPUT: 'table' }, { tty: true }).output).toBe('json');
  });

  it('--json with --output table is a contradiction', () => {
    expect(badInputMessage(() => resolve({ json: true, output: 'table' }), 'output')).toMatch(/contradict/);
  });

  it.each([['xml'], ['JSON'], ['']])('--output %j is rejected', (output) => {
    badInputMessage(() => resolve({ output }), 'output');
    // An empty variable counts as unset.
    if (output !== '') badInputMessage(() => resolve({}, { SHOPDB_OUTPUT: output }), 'output');
  });

  it('treats empty variables as unset', () => {
    expect(resolve({}, { SHOPDB_OUTPUT: '', SHOPDB_TIMEOUT: '', NO_COLOR: '' }, { tty: true })).toMatchObject({ output: 'table', timeoutMs: 10_000, color: true });
  });
});

describe('resolveConfig colour', () => {
  it('is on at a terminal with nothing turning it off', () => {
    expect(resolve({ color: true }, {}, { tty: true }).color).toBe(true);
    expect(resolve({}, {}, { tty: true }).color).toBe(true);
  });

  it('is off with NO_COLOR, SHOPDB_NO_COLOR, --no-color, or when stdout is not a terminal', () => {
    expect(resolve({}, { NO_COLOR: '1' }, { tty: true }).color).toBe(false);
    expect(resolve({}, { SHOPDB_NO_COLOR: '1' }, { tty: true }).color).toBe(false);
    expect(resolve({ color: false }, {}, { tty: true }).color).toBe(false);
    expect(resolve({ color: true }, {}, { tty: false }).color).toBe(false);
  });
});

describe('resolveConfig timeout', () => {
  it.each([
    ['0.5', 500],
    ['1', 1000],
    ['2.25', 2250],
    ['0.5004', 500],
    ['600', 600_000],
  ] as const)('--timeout %s is %d ms', (timeout, ms) => {
    expect(resolve({ timeout }).timeoutMs).toBe(ms);
  });

  it.each([['0'], ['0.4'], ['600.5'], ['601'], ['-1'], ['abc'], [''], ['1e2'], ['10s'], [' 5'], ['.5'], ['Infinity'], ['NaN']])(
    '--timeout %j is BAD_INPUT naming timeout, SHOPDB_TIMEOUT naming the variable',
    (timeout) => {
      badInputMessage(() => resolve({ timeout }), 'timeout');
      if (timeout !== '') badInputMessage(() => resolve({}, { SHOPDB_TIMEOUT: timeout }), 'SHOPDB_TIMEOUT');
    },
  );
});

describe('parseBilling', () => {
  it('defaults to provisioned with 5 read and 5 write units', () => {
    expect(parseBilling({})).toEqual({ mode: 'provisioned', readCapacity: 5, writeCapacity: 5 });
    expect(parseBilling({ billing: 'provisioned' })).toEqual({ mode: 'provisioned', readCapacity: 5, writeCapacity: 5 });
  });

  it('takes --rcu and --wcu independently', () => {
    expect(parseBilling({ rcu: '10' })).toEqual({ mode: 'provisioned', readCapacity: 10, writeCapacity: 5 });
    expect(parseBilling({ wcu: '40000' })).toEqual({ mode: 'provisioned', readCapacity: 5, writeCapacity: 40_000 });
  });

  it('on-demand has no capacity, and refuses --rcu or --wcu', () => {
    expect(parseBilling({ billing: 'on-demand' })).toEqual({ mode: 'on-demand' });
    expect(badInputMessage(() => parseBilling({ billing: 'on-demand', rcu: '3' }), 'billing')).toMatch(/--rcu/);
    badInputMessage(() => parseBilling({ billing: 'on-demand', wcu: '3' }), 'billing');
  });

  it('refuses an unknown mode', () => {
    badInputMessage(() => parseBilling({ billing: 'PAY_PER_REQUEST' }), 'billing');
  });

  it.each([['0'], ['-1'], ['1.5'], ['abc'], [''], ['40001'], ['1e3']])('refuses capacity %j, naming rcu or wcu', (value) => {
    badInputMessage(() => parseBilling({ rcu: value }), 'rcu');
    badInputMessage(() => parseBilling({ wcu: value }), 'wcu');
  });
});

describe('tableNames', () => {
  it('prepends the prefix to every base name', () => {
    expect(tableNames('')).toEqual({ orders: 'EcommerceOrders', carts: 'EcommerceCarts', idempotency: 'EcommerceIdempotencyKeys' });
    expect(tableNames('staging-')).toEqual({ orders: 'staging-EcommerceOrders', carts: 'staging-EcommerceCarts', idempotency: 'staging-EcommerceIdempotencyKeys' });
    expect(tableNames('A_z.9-')).toEqual({ orders: 'A_z.9-EcommerceOrders', carts: 'A_z.9-EcommerceCarts', idempotency: 'A_z.9-EcommerceIdempotencyKeys' });
  });

  it('accepts 200 characters and refuses 201', () => {
    expect(tableNames('p'.repeat(200)).orders).toHaveLength(215);
    badInputMessage(() => tableNames('p'.repeat(201)), 'table-prefix');
  });

  it.each([['a b'], ['a/b'], ['ü-'], ['a:b'], ['x\n'], ['*']])('refuses prefix %j naming table-prefix', (prefix) => {
    badInputMessage(() => tableNames(prefix), 'table-prefix');
  });
});

describe('the Redis URL is checked before anything runs', () => {
  it('a db path must be a whole number from 0 (ioredis would send SELECT NaN after the command succeeded)', () => {
    for (const db of ['abc', '1x', '-1', '1.5', '0/extra']) {
      const message = badInputMessage(() => resolve({ redisUrl: `redis://127.0.0.1:6379/${db}` }), '--redis-url');
      expect(message).toContain('whole number');
    }
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/0', 'redis://:pw@127.0.0.1:6379/15', 'rediss://u:pw@cache.example:6380/99']) {
      expect(resolve({ redisUrl: url }).cache?.url).toBe(url);
    }
  });

  it('names where the URL came from: the flag, SHOPDB_REDIS_URL or REDIS_URL', () => {
    badInputMessage(() => resolve({}, { SHOPDB_REDIS_URL: 'redis://h/abc' }), 'SHOPDB_REDIS_URL');
    badInputMessage(() => resolve({}, { REDIS_URL: 'redis://h/abc' }), 'REDIS_URL');
    badInputMessage(() => resolve({ redisUrl: 'redis://h/abc' }, { SHOPDB_REDIS_URL: 'redis://h/0' }), '--redis-url');
  });

  it('refuses query parameters (ioredis reads them as client options; ?password= is not the password), fragments, other schemes, no host', () => {
    expect(badInputMessage(() => resolve({ redisUrl: 'redis://127.0.0.1:6379/0?password=secret' }), '--redis-url')).toContain('?query');
    expect(badInputMessage(() => resolve({ redisUrl: 'redis://127.0.0.1:6379#x' }), '--redis-url')).toContain('#fragment');
    expect(badInputMessage(() => resolve({ redisUrl: 'http://127.0.0.1:6379' }), '--redis-url')).toContain('scheme http:');
    expect(badInputMessage(() => resolve({ redisUrl: 'unix:///tmp/redis.sock' }), '--redis-url')).toContain('scheme unix:');
    expect(badInputMessage(() => resolve({ redisUrl: 'redis:///0' }), '--redis-url')).toContain('names no host');
    expect(badInputMessage(() => resolve({ redisUrl: 'not a url' }), '--redis-url')).toContain('is not a URL');
  });

  it('never echoes the URL, which may hold a password', () => {
    const message = badInputMessage(() => resolve({ redisUrl: 'redis://:hunter2@127.0.0.1:6379/0?x=1' }), '--redis-url');
    expect(message).not.toContain('hunter2');
  });
});

describe('resolveConfig sources (config show)', () => {
  it('each setting names where it came from: flag, variable or default', () => {
    const flagged = resolve(
      { endpoint: LOCAL, region: 'eu-west-1', tablePrefix: 'f-', timeout: '3', redisUrl: 'redis://h:1', cacheTtl: '9', cache: true, json: true, verbose: true, color: false },
      { SHOPDB_ENDPOINT: 'http://127.0.0.1:1', SHOPDB_REGION: 'us-west-2', SHOPDB_TIMEOUT: '7' },
    ).sources;
    expect(flagged).toMatchObject({
      endpoint: 'flag --endpoint',
      region: 'flag --region',
      tablePrefix: 'flag --table-prefix',
      timeout: 'flag --timeout',
      cacheUrl: 'flag --redis-url',
      cacheTtl: 'flag --cache-ttl',
      cacheReads: 'flag --cache',
      output: 'flag --json',
      verbose: 'flag --verbose',
      color: 'flag --no-color',
    });
    const defaults = resolve({}, {}, { tty: true }).sources;
    expect(defaults).toMatchObject({
      endpoint: "SDK default (the region's AWS endpoint)",
      region: "SDK default (the AWS profile's config file)",
      credentials: 'SDK default chain (e.g. instance metadata)',
      tablePrefix: 'default (no prefix)',
      timeout: 'default',
      cacheUrl: 'not set: no cache',
      cacheTtl: 'default',
      output: 'default (stdout is a terminal)',
      color: 'default (stdout is a terminal)',
    });
    expect(resolve({ cache: true }).sources.cacheUrl).toBe('default (flag --cache)');
    expect(resolve({}, { SHOPDB_ENDPOINT: LOCAL }).sources.region).toBe('default for a loopback endpoint');
  });

  it('property: the source names exactly the flag or variable whose value was resolved (resolution unchanged)', () => {
    const url = (port: number) => `http://127.0.0.1:${port}`;
    const maybe = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
    fc.assert(
      fc.property(maybe, maybe, maybe, maybe, fc.option(fc.constantFrom('eu-west-1', 'us-west-2'), { nil: undefined }), fc.option(fc.constantFrom('ap-south-1', ''), { nil: undefined }), (flag, shopdb, awsDynamo, aws, regionFlag, awsRegion) => {
        const flags: GlobalOptions = { endpoint: flag === undefined ? undefined : url(flag), region: regionFlag };
        const env: Env = {
          SHOPDB_ENDPOINT: shopdb === undefined ? undefined : url(shopdb),
          AWS_ENDPOINT_URL_DYNAMODB: awsDynamo === undefined ? undefined : url(awsDynamo),
          AWS_ENDPOINT_URL: aws === undefined ? undefined : url(aws),
          AWS_REGION: awsRegion,
        };
        const config = resolve(flags, env);
        const holders: Record<string, string | undefined> = { 'flag --endpoint': flags.endpoint, ...Object.fromEntries(Object.entries(env).map(([name, value]) => [`env ${name}`, value])) };
        if (config.endpoint === undefined) expect(config.sources.endpoint).toBe("SDK default (the region's AWS endpoint)");
        else expect(holders[config.sources.endpoint]).toBe(config.endpoint);
        if (config.sources.region === 'flag --region') expect(config.region).toBe(regionFlag);
        if (config.sources.region === 'env AWS_REGION') expect(config.region).toBe(awsRegion);
        if (config.sources.region === 'default for a loopback endpoint') expect(config.region).toBe('us-east-1');
      }),
      { numRuns: 300 },
    );
  });

  it('credentials: in the SDK order, never a secret', () => {
    expect(describeCredentials({ AWS_PROFILE: 'p', AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S' }, true, '~/.aws/credentials')).toBe('profile p (env AWS_PROFILE)');
    expect(describeCredentials({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S' }, false, '~/.aws/credentials')).toBe('env AWS_ACCESS_KEY_ID');
    expect(describeCredentials({ AWS_ACCESS_KEY_ID: 'A' }, false, undefined)).toMatch(/AWS_SECRET_ACCESS_KEY is not set/);
    expect(describeCredentials({}, true, undefined)).toBe('local defaults for a loopback endpoint');
    expect(describeCredentials({}, false, '~/.aws/config')).toBe('profile default (~/.aws/config)');
    expect(describeCredentials({ AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, false, undefined)).toBe('web identity token (env AWS_WEB_IDENTITY_TOKEN_FILE)');
    expect(describeCredentials({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2' }, false, undefined)).toMatch(/^container credentials/);
    expect(resolve({ endpoint: LOCAL }).sources.credentials).toBe('local defaults for a loopback endpoint');
    expect(resolve({ endpoint: LOCAL }, { AWS_ACCESS_KEY_ID: '' }).sources.credentials).toBe('local defaults for a loopback endpoint');
  });

  it.each([
    ['redis://:pw@host:6379', 'redis://:***@host:6379'],
    ['rediss://user:p%40ss@host:6380/2', 'rediss://user:***@host:6380/2'],
    ['redis://host:6379', 'redis://host:6379'],
    ['redis://user@host', 'redis://user@host'],
  ])('redactedRedisUrl(%s) = %s', (url, shown) => {
    expect(redactedRedisUrl(url)).toBe(shown);
  });
});
