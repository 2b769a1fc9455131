/**
 * Messages that lead somewhere: hints that repeat the options in use, and one
 * clear line for endpoints that are not DynamoDB (TLS to a plain port, other
 * HTTP servers, other protocols), through the built binary.
 */
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { shopdb, uniquePrefix, type Run } from '../support/cli.js';
import { rawClient } from '../support/dynamo.js';

const dynamoEndpoint = inject('dynamoEndpoint');
const dynamoPort = new URL(dynamoEndpoint).port;
const STACK = /^\s+at /m;

/** The one line shopdb printed on stderr, as JSON. */
function error(result: Run): { code: string; message: string } {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return (JSON.parse(lines[0] ?? '') as { error: { code: string; message: string } }).error;
}

const servers: Array<HttpServer | TcpServer> = [];

const sockets = new Set<Socket>();

async function listen(server: HttpServer | TcpServer): Promise<string> {
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('hints repeat the options in use', () => {
  it('flags: endpoint, region and prefix are repeated, and the hinted command works', async () => {
    const prefix = uniquePrefix('hint');
    const args = ['--endpoint', dynamoEndpoint, '--region', 'eu-west-1', '--table-prefix', prefix, 'order', 'get', 'o1'];
    const missing = await shopdb(args, { env: { SHOPDB_ENDPOINT: undefined } });
    expect(missing.exitCode).toBe(3);
    const hinted = `shopdb --endpoint ${dynamoEndpoint} --region eu-west-1 --table-prefix ${prefix} tables create`;
    expect(error(missing).message).toMatch(new RegExp(`; run: ${hinted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));

    // What the hint says, typed as it says it, is what was missing.
    const created = await shopdb(hinted.split(' ').slice(1), { env: { SHOPDB_ENDPOINT: undefined } });
    expect(created.exitCode, created.stderr).toBe(0);
    const after = await shopdb(args, { env: { SHOPDB_ENDPOINT: undefined } });
    expect(after.exitCode).toBe(3);
    expect(error(after)).toMatchObject({ code: 'NOT_FOUND', message: 'order o1 not found' });
  });

  it('variables: a prefix from SHOPDB_TABLE_PREFIX is named, the endpoint from the environment is not', async () => {
    const prefix = uniquePrefix('hint-env');
    const status = await shopdb(['tables', 'status'], { prefix });
    expect(status.exitCode).toBe(3);
    expect(error(status).message).toContain(`; run: shopdb --table-prefix ${prefix} tables create`);
    expect(status.stderr).not.toContain('--endpoint');
  });

  it('no CLI wording without a hint: an unreachable local endpoint names the port to start the engine on', async () => {
    const closed = await listen(createTcpServer());
    const port = new URL(closed).port;
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const result = await shopdb(['--endpoint', closed, 'order', 'get', 'o1']);
    expect(result.exitCode).toBe(5);
    expect(error(result).message).toContain(`is it running? start one with: shopdb local start --port ${port}`);
  });
});

describe('endpoints that are not DynamoDB: exit 5, one line', () => {
  it('https:// to the plain-HTTP port of DynamoDB Local', async () => {
    const result = await shopdb(['--endpoint', `https://127.0.0.1:${dynamoPort}`, '--timeout', '5', 'order', 'get', 'o1']);
    expect(result.exitCode).toBe(5);
    expect(error(result).message).toContain(`speaks plain HTTP? use http://127.0.0.1:${dynamoPort}`);
  });

  it.each([
    ['a 404 HTML page', 404, 'text/html', '<html><body>Not Found</body></html>'],
    ['a 200 text answer', 200, 'text/plain', 'hello'],
  ])('an HTTP server answering %s', async (_label, status, type, body) => {
    const endpoint = await listen(
      createHttpServer((request, response) => {
        request.resume();
        response.writeHead(status, { 'content-type': type });
        response.end(body);
      }),
    );
    const result = await shopdb(['--endpoint', endpoint, '--timeout', '5', 'order', 'get', 'o1']);
    expect(result.exitCode).toBe(5);
    expect(error(result).message).toContain(`${endpoint} does not answer like DynamoDB (HTTP ${status}, ${type})`);
  });

  it('a TCP server that writes garbage', async () => {
    const endpoint = await listen(createTcpServer((socket) => socket.end('\x00\x01garbage\r\n\r\n')));
    const result = await shopdb(['--endpoint', endpoint, '--timeout', '5', 'order', 'get', 'o1']);
    expect(result.exitCode).toBe(5);
    expect(error(result).message).toContain(`${endpoint} does not speak HTTP`);
  });

  it('the Redis port', async () => {
    const endpoint = `http://127.0.0.1:${inject('redisPort')}`;
    const result = await shopdb(['--endpoint', endpoint, '--timeout', '5', 'order', 'get', 'o1']);
    expect(result.exitCode).toBe(5);
    expect(error(result).message).toContain('does not speak HTTP');
  });
});

describe('--verbose', () => {
  const prefix = uniquePrefix('verbose');

  beforeAll(async () => {
    const created = await shopdb(['tables', 'create'], { prefix });
    if (created.exitCode !== 0) throw new Error(created.stderr);
    await shopdb(['order', 'create', 'v1', '--user', 'u1', '--amount', '1'], { prefix });
  });

  it('prints no stack trace for known failures', async () => {
    const known: Array<[string[], number]> = [
      [['order', 'get', 'v-none'], 3],
      [['--table-prefix', uniquePrefix('none'), 'order', 'get', 'v1'], 3],
      [['order', 'create', 'v1', '--user', 'u2', '--amount', '1'], 4],
      [['order', 'set-status', 'v1', 'SHIPPED', '--expect', 'PAID'], 4],
      [['--endpoint', `https://127.0.0.1:${dynamoPort}`, '--timeout', '5', 'order', 'get', 'v1'], 5],
    ];
    for (const [args, exitCode] of known) {
      const result = await shopdb(['--verbose', ...args], { prefix });
      expect(result.exitCode, args.join(' ')).toBe(exitCode);
      expect(result.stderr, args.join(' ')).not.toMatch(STACK);
    }
  });

  it('prints the stack trace of an unexpected failure (exit 1), and only with --verbose', async () => {
    // A service answering in DynamoDB's format with an error shopdb has never heard of.
    const endpoint = await listen(
      createHttpServer((request, response) => {
        request.resume();
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#BrandNewException', message: 'something new' }));
      }),
    );
    const verbose = await shopdb(['--verbose', '--endpoint', endpoint, 'order', 'get', 'v1']);
    expect(verbose.exitCode).toBe(1);
    expect(verbose.stderr).toContain('BrandNewException: something new');
    expect(verbose.stderr).toMatch(STACK);
    const quiet = await shopdb(['--endpoint', endpoint, 'order', 'get', 'v1']);
    expect(quiet.exitCode).toBe(1);
    expect(quiet.stderr).not.toMatch(STACK);
  });
});

describe('ValidationException', () => {
  it('a table under shopdb\'s name with another key: exit 4 naming the key, never blamed on the input', async () => {
    const prefix = uniquePrefix('other-key');
    const client = rawClient();
    const table = `${prefix}EcommerceOrders`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    try {
      const created = await shopdb(['order', 'create', 'o1', '--user', 'u1', '--amount', '1'], { prefix });
      expect(created.exitCode).toBe(4);
      const { code, message } = error(created);
      expect(code).toBe('SCHEMA_MISMATCH');
      expect(message).toContain(`table ${table}`);
      expect(message).not.toMatch(/rejected the request|amount|user/);
      // DynamoDB Local does not name the key; the hinted command does.
      expect(message).toContain(`check again with: shopdb --table-prefix ${prefix} tables status`);
      const status = await shopdb(['--table-prefix', prefix, 'tables', 'status']);
      expect(error(status)).toMatchObject({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining(`${table} exists with key id (S, HASH), not orderId (S, HASH)`) });

      const got = await shopdb(['order', 'get', 'o1'], { prefix });
      expect(got.exitCode).toBe(4);
      expect(error(got).code).toBe('SCHEMA_MISMATCH');
    } finally {
      await client.send(new DeleteTableCommand({ TableName: table }));
      client.destroy();
    }
  });
});
