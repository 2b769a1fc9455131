#!/usr/bin/env node
// `npm run build && node bench/list.mjs [--quick]`: `order list --user` on a table of 100k orders
// (20k with --quick) of 1,000 users, on a DynamoDB Local of its own. Shows that a listing reads
// only that user's items: the read capacity consumed (--verbose) against the user's item count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../dist/local/engine.js';
import { benchEnv } from './env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const shopdbBin = join(root, 'bin/shopdb');
const ITEMS = process.argv.includes('--quick') ? 20_000 : 100_000;
const USERS = 1000;
const work = mkdtempSync(join(tmpdir(), 'shopdb-bench-list-'));
const port = await freePort();
const engine = spawnEngine({ port, inMemory: true, detached: false, env: process.env });
process.on('exit', () => {
  engine.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
const endpoint = `http://127.0.0.1:${port}`;
await waitUntilReady(endpoint, 60_000, engine);
const env = benchEnv(endpoint, { SHOPDB_TABLE_PREFIX: 'benchlist-' });

function shopdb(args, input) {
  const started = process.hrtime.bigint();
  const run = spawnSync(shopdbBin, args, { env, input, maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (run.status !== 0) throw new Error(`shopdb ${args.join(' ')} exited ${run.status}: ${run.stderr.toString().slice(-500)}`);
  return { seconds, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

shopdb(['tables', 'create', '--billing', 'on-demand']);
const file = join(work, 'orders.ndjson');
const lines = [];
for (let i = 0; i < ITEMS; i++) {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  lines.push(JSON.stringify({ orderId: `bench-${String(i).padStart(7, '0')}`, userId: `user-${i % USERS}`, totalAmount: '9.99', status: ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED'][i % 4], createdAt: at, updatedAt: at, version: 1 }));
}
writeFileSync(file, `${lines.join('\n')}\n`);
const imported = shopdb(['order', 'import', '--overwrite', '--concurrency', '8', file]);
console.log(`imported ${ITEMS} orders of ${USERS} users in ${imported.seconds.toFixed(1)} s`);

const capacity = (stderr) => Number(/([\d.]+) read capacity units/.exec(stderr)?.[1]);
const user = 'user-42';
const page = shopdb(['order', 'list', '--user', user, '--verbose']);
const all = shopdb(['order', 'list', '--user', user, '--all', '--verbose']);
const count = all.stdout.trim().split('\n').length;
const bytes = all.stdout.length;
const status = shopdb(['order', 'list', '--status', 'PAID', '--verbose']);
console.log(`order list --user ${user} (page of 50):  ${capacity(page.stderr)} RCU, ${page.seconds.toFixed(2)} s`);
console.log(`order list --user ${user} --all:         ${count} orders (${ITEMS / USERS} expected), ${capacity(all.stderr)} RCU, ${all.seconds.toFixed(2)} s`);
console.log(`  that user's items are ${(bytes / 1024).toFixed(1)} KiB as JSON: about ${Math.ceil(bytes / 4096 / 2)} RCU to read eventually consistent; a Scan would read all ${ITEMS}`);
console.log(`order list --status PAID (page of 50):   ${capacity(status.stderr)} RCU, ${status.seconds.toFixed(2)} s`);

// The engine's pipes keep the event loop alive: stop it, so the script (and `npm run bench`) ends.
await stopProcess(engine.pid);
