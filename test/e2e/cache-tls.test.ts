import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';
import { createTables, shopdb, uniquePrefix } from '../support/cli.js';

/* rediss:// — the cache over TLS, with a password — against a real redis-server with a TLS port. */

const prefix = uniquePrefix('tls');
const certDir = mkdtempSync(join(tmpdir(), 'shopdb-tls-'));
const PASSWORD = 'tls-secret-9f3a';
let redis: RunningRedis;
let tlsPort: number;

beforeAll(async () => {
  await createTables(prefix);
  const [cert, key] = [join(certDir, 'cert.pem'), join(certDir, 'key.pem')];
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  tlsPort = await freePort();
  redis = await startRedis({
    port: await freePort(),
    password: PASSWORD,
    extraArgs: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
  });
});

afterAll(async () => {
  await redis?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

describe('the cache over rediss://', () => {
  it('misses, fills and hits over TLS with a password in the URL, never printing it', async () => {
    await shopdb(['order', 'create', 'o-tls', '--user', 'u1', '--amount', '4.20'], { prefix });
    const env = { NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') };
    const url = `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`;
    const first = await shopdb(['order', 'get', 'o-tls', '--cache', '--verbose', '--redis-url', url], { prefix, env });
    const second = await shopdb(['order', 'get', 'o-tls', '--cache', '--verbose', '--redis-url', url], { prefix, env });
    for (const run of [first, second]) {
      expect(run.exitCode).toBe(0);
      expect(run.stderr).not.toContain('warning');
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(run.json()).toMatchObject({ orderId: 'o-tls', totalAmount: '4.20' });
    }
    expect(first.stderr).toContain('cache miss');
    expect(second.stderr).toContain('cache hit');
    expect(second.stderr).toContain(`rediss://127.0.0.1:${tlsPort}`);
  });

  it('falls back to DynamoDB with one warning when the certificate is not trusted', async () => {
    const run = await shopdb(['order', 'get', 'o-tls', '--cache', '--redis-url', `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`], { prefix });
    expect(run.exitCode).toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^shopdb: warning: /);
    expect(run.stderr).not.toContain(PASSWORD);
  });
});
