#!/usr/bin/env node
// `npm run bench`: shopdb side by side with minimal baselines, on a DynamoDB Local of its own.
// Each pair runs alternately in one session; the table shows medians, the ratio and its target.
// Timings are for reading, not for failing CI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnEngine, stopProcess, waitUntilReady } from '../dist/local/engine.js';
import { benchEnv } from './env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const shopdbBin = join(root, 'bin/shopdb');
const quick = process.argv.includes('--quick');
// `node bench/run.mjs --only=set-status-many` (or single, bulk, memory, list, server, follow) runs one section.
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const section = (name) => only === undefined || only === name;
const SINGLE_RUNS = quick ? 5 : 15;
const BULK_ITEMS = quick ? 20_000 : 100_000;
const BULK_RUNS = quick ? 1 : 2;

// `shopdb serve` under HTTP load (bench/server.mjs: its own DynamoDB Local and redis-server).
function serverSection() {
  console.log('');
  const served = spawnSync(process.execPath, [join(root, 'bench/server.mjs'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  if (served.status !== 0) process.exitCode = 1;
}
if (only === 'server') {
  serverSection();
  process.exit();
}

// `shopdb cache follow` under a foreign write load (bench/follow.mjs: its own DynamoDB Local and redis-server).
function followSection() {
  console.log('');
  const followed = spawnSync(process.execPath, [join(root, 'bench/follow.mjs'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  if (followed.status !== 0) process.exitCode = 1;
}
if (only === 'follow') {
  followSection();
  process.exit();
}

const work = mkdtempSync(join(tmpdir(), 'shopdb-bench-'));

const port = await freePort();
const engine = spawnEngine({ port, inMemory: true, detached: false, env: process.env });
process.on('exit', () => engine.kill('SIGKILL'));
const endpoint = `http://127.0.0.1:${port}`;
await waitUntilReady(endpoint, 60_000, engine);

const env = benchEnv(endpoint);

/** Runs a command to completion; returns seconds, and peak RSS in MB when measured. */
function time(command, args, { stdin, measureRss = false, env: extra = {} } = {}) {
  const [file, argv] = measureRss ? ['/usr/bin/time', ['-f', '%M', command, ...args]] : [command, args];
  const started = process.hrtime.bigint();
  const run = spawnSync(file, argv, { env: { ...env, ...extra }, input: stdin, stdio: ['pipe', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stderr = run.stderr.toString();
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${run.status}: ${stderr.slice(-500)}`);
  return { seconds, stderr, rssMb: measureRss ? Number(stderr.trim().split('\n').pop()) / 1024 : undefined };
}

function shopdb(...args) {
  return time(shopdbBin, args);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Alternates the two sides `runs` times and returns their median times. */
function pair(runs, ours, theirs) {
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    a.push(ours(i));
    b.push(theirs(i));
  }
  return { ours: median(a), theirs: median(b) };
}

const results = [];
let breakdown = [];
function report(name, { ours, theirs }, target, higherIsBetter = false, unit = 's') {
  const ratio = ours / theirs;
  const met = higherIsBetter ? ratio >= target : ratio <= target;
  results.push({ name, ours, theirs, ratio, target: `${higherIsBetter ? '≥' : '≤'} ${target}`, met, unit });
  console.error(`${name}: ${ours.toFixed(3)} vs ${theirs.toFixed(3)} ${unit} → ${ratio.toFixed(2)} (${met ? 'met' : 'missed'})`);
}

let tableCounter = 0;
function freshPrefix() {
  const prefix = `bench${tableCounter++}-`;
  shopdb('--table-prefix', prefix, 'tables', 'create', '--billing', 'on-demand');
  return prefix;
}
function dropTables(prefix) {
  shopdb('--table-prefix', prefix, 'tables', 'delete', '--yes');
}

// --- single commands ------------------------------------------------------
// shopdb runs through its V8 code cache (bin/code-cache.cjs), as a user's second and later runs do: the
// warm-up runs below write it. `SHOPDB_NO_CODE_CACHE=1` rows show what the cache saves.
if (section('single')) {
const single = freshPrefix();
shopdb('--table-prefix', single, 'order', 'create', 'bench-order', '--user', 'u1', '--amount', '19.99');
const getArgs = ['--table-prefix', single, 'order', 'get', 'bench-order'];
const rawGet = ['bench/baseline-get.mjs', endpoint, `${single}EcommerceOrders`, 'bench-order'].map((arg, i) => (i === 0 ? join(root, arg) : arg));
for (let i = 0; i < 3; i++) {
  shopdb(...getArgs);
  shopdb('--help');
}
report('order get vs minimal SDK script (bench/baseline-get.mjs)', pair(SINGLE_RUNS, () => shopdb(...getArgs).seconds, () => time('node', rawGet).seconds), 0.55);
const noCache = { env: { SHOPDB_NO_CODE_CACHE: '1' } };
report('order get without the code cache vs minimal SDK script', pair(SINGLE_RUNS, () => time(shopdbBin, getArgs, noCache).seconds, () => time('node', rawGet).seconds), 0.55);
const aws = spawnSync('aws', ['--version']).status === 0;
if (aws) {
  report(
    'order get vs aws dynamodb get-item',
    pair(SINGLE_RUNS, () => shopdb(...getArgs).seconds, () =>
      time('aws', ['dynamodb', 'get-item', '--endpoint-url', endpoint, '--table-name', `${single}EcommerceOrders`, '--key', '{"orderId":{"S":"bench-order"}}']).seconds,
    ),
    0.25,
  );
} else {
  console.error('aws dynamodb get-item: skipped (the AWS CLI is not installed; Debian: apt-get install awscli)');
}
report('shopdb --help vs node -e ""', pair(SINGLE_RUNS, () => shopdb('--help').seconds, () => time('node', ['-e', '']).seconds), 1.4);
report('shopdb --help without the code cache vs node -e ""', pair(SINGLE_RUNS, () => time(shopdbBin, ['--help'], noCache).seconds, () => time('node', ['-e', '']).seconds), 1.4);
report(
  'peak RSS, order get vs minimal SDK script (MB)',
  pair(SINGLE_RUNS, () => time(shopdbBin, getArgs, { measureRss: true }).rssMb, () => time('node', rawGet, { measureRss: true }).rssMb),
  1,
  false,
  'MB',
);
// Where a cached `order get` spends its time, from the launcher's own report (medians).
const parts = { launcher: [], exit: [], pack: [], read: [], hash: [], compile: [] };
const nodeAlone = [];
for (let i = 0; i < SINGLE_RUNS; i++) {
  const line = time(shopdbBin, getArgs, { env: { SHOPDB_CODE_CACHE_DEBUG: '1' } }).stderr.split('\n').find((entry) => entry.includes('ms since start'));
  const numbers = (line ?? '').match(/[\d.]+/g)?.map(Number) ?? [];
  if (numbers.length === 6) for (const [k, key] of Object.keys(parts).entries()) parts[key].push(numbers[k]);
  nodeAlone.push(time('node', ['-e', '']).seconds * 1000);
}
if (parts.exit.length > 0) {
  const m = Object.fromEntries(Object.entries(parts).map(([key, values]) => [key, median(values)]));
  breakdown = [
    `order get, cached, median of ${parts.exit.length} runs (ms since the process started): the launcher starts at ${m.launcher.toFixed(1)}, the process exits at ${m.exit.toFixed(1)} (node -e '' takes ${median(nodeAlone).toFixed(1)} in all, start to end)`,
    `  in the launcher: finding and opening the pack ${m.pack.toFixed(1)}, reading chunks ${m.read.toFixed(1)}, hashing chunks and payloads ${m.hash.toFixed(1)}, deserializing (or compiling) ${m.compile.toFixed(1)}`,
    `  the rest, ${(m.exit - m.launcher - m.pack - m.read - m.hash - m.compile).toFixed(1)}: running the chunks' module code (SDK set-up included), the command and its GetItem round trip, and the output`,
  ];
}
}

// --- bulk -----------------------------------------------------------------
function ordersFile(count) {
  const path = join(work, `orders-${count}.ndjson`);
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({
      orderId: `bench-${String(i).padStart(7, '0')}`,
      userId: `user-${i % 1000}`,
      totalAmount: i % 10 === 0 ? '99999999999999999.99' : ((i * 37) % 100000 / 100).toFixed(2),
      status: ['PENDING', 'PAID', 'SHIPPED', 'COMPLETED'][i % 4],
      createdAt: '2026-11-01T10:00:00.000Z',
      updatedAt: '2026-11-02T10:00:00.000Z',
      version: 1,
    }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

if (section('bulk')) {
const bulkFile = ordersFile(BULK_ITEMS);
const throughput = (seconds) => BULK_ITEMS / seconds;

function baselineImport(concurrency, mode = 'batch') {
  const prefix = freshPrefix();
  const { seconds } = time('node', [join(root, 'bench/baseline-import.mjs'), endpoint, `${prefix}EcommerceOrders`, bulkFile, String(concurrency), mode]);
  dropTables(prefix);
  return seconds;
}
function shopdbImport(flags) {
  const prefix = freshPrefix();
  const { seconds } = shopdb('--table-prefix', prefix, 'order', 'import', bulkFile, ...flags);
  dropTables(prefix);
  return seconds;
}

const candidates = quick ? [8] : [4, 8, 16];
const best = candidates.map((concurrency) => ({ concurrency, seconds: baselineImport(concurrency) })).sort((a, b) => a.seconds - b.seconds)[0];
console.error(`baseline BatchWriteItem writer is fastest at concurrency ${best.concurrency}`);
const overwrite = pair(BULK_RUNS, () => shopdbImport(['--overwrite', '--concurrency', String(best.concurrency)]), () => baselineImport(best.concurrency));
report(`import --overwrite, ${BULK_ITEMS} orders (items/s) vs raw BatchWriteItem`, { ours: throughput(overwrite.ours), theirs: throughput(overwrite.theirs) }, 0.9, true, 'items/s');
const insertOnly = pair(BULK_RUNS, () => shopdbImport(['--concurrency', String(best.concurrency)]), () => baselineImport(best.concurrency, 'transact'));
report(`import (no overwrite), ${BULK_ITEMS} orders (items/s) vs raw BatchWriteItem`, { ours: throughput(insertOnly.ours), theirs: throughput(overwrite.theirs) }, 0.9, true, 'items/s');
report(`import (no overwrite) vs raw conditional TransactWriteItems, its mechanism`, { ours: throughput(insertOnly.ours), theirs: throughput(insertOnly.theirs) }, 0.9, true, 'items/s');

const exported = freshPrefix();
shopdb('--table-prefix', exported, 'order', 'import', bulkFile, '--overwrite');
const exports = pair(BULK_RUNS + 1, () => shopdb('--table-prefix', exported, 'order', 'export', '--segments', '4').seconds, () =>
  time('node', [join(root, 'bench/baseline-export.mjs'), endpoint, `${exported}EcommerceOrders`, '4']).seconds,
);
report(`export, ${BULK_ITEMS} orders (items/s) vs raw parallel Scan, 4 segments`, { ours: throughput(exports.ours), theirs: throughput(exports.theirs) }, 0.9, true, 'items/s');
dropTables(exported);
}

// --- set-status --ids-from ------------------------------------------------
// One process moving 1,000 orders vs one `shopdb order set-status` process per order. The separate
// processes are timed on a sample (PROCESS_SAMPLE of them) and scaled to 1,000: 1,000 runs would take minutes.
if (section('set-status-many')) {
  const IDS = 1_000;
  const PROCESS_SAMPLE = quick ? 50 : 100;
  const prefix = freshPrefix();
  const ids = Array.from({ length: IDS }, (_, i) => `move-${String(i).padStart(4, '0')}`);
  const idsFile = join(work, 'ids.txt');
  writeFileSync(idsFile, `${ids.join('\n')}\n`);
  const seedFile = join(work, 'paid.ndjson');
  writeFileSync(seedFile, `${ids.map((orderId) => JSON.stringify({ orderId, userId: 'u1', totalAmount: '1.00', status: 'PAID', createdAt: null, updatedAt: null, version: 1 })).join('\n')}\n`);
  // Every timed run starts from 1,000 PAID orders (the reset is not timed).
  const reset = () => shopdb('--table-prefix', prefix, 'order', 'import', seedFile, '--overwrite');
  const timing = pair(BULK_RUNS, () => {
    reset();
    return shopdb('--table-prefix', prefix, 'order', 'set-status', '--ids-from', idsFile, 'SHIPPED').seconds;
  }, () => {
    reset();
    let seconds = 0;
    for (const id of ids.slice(0, PROCESS_SAMPLE)) seconds += shopdb('--table-prefix', prefix, 'order', 'set-status', id, 'SHIPPED').seconds;
    return (seconds * IDS) / PROCESS_SAMPLE;
  });
  console.error(`set-status: ${IDS} separate processes estimated from ${PROCESS_SAMPLE} timed ones (× ${IDS / PROCESS_SAMPLE}); speed-up ${(timing.theirs / timing.ours).toFixed(1)}× (target ≥ 10×)`);
  report(`set-status --ids-from, ${IDS} ids vs ${IDS} separate processes (${PROCESS_SAMPLE} timed, scaled)`, timing, 0.1);
  dropTables(prefix);
}

// --- memory ---------------------------------------------------------------
const rss = {};
const large = quick ? 20_000 : 200_000;
if (section('memory')) {
const small = quick ? 2_000 : 10_000;
// Peak RSS depends on when V8 happens to collect garbage: the median of three runs of each size.
for (const count of [small, large]) {
  const file = ordersFile(count);
  const peaks = [];
  for (let i = 0; i < 3; i++) {
    const prefix = freshPrefix();
    peaks.push(time(shopdbBin, ['--table-prefix', prefix, 'order', 'import', file, '--overwrite'], { measureRss: true }).rssMb);
    dropTables(prefix);
  }
  rss[count] = median(peaks);
}
report(`peak RSS, import of ${large} vs ${small} orders (MB)`, { ours: rss[large], theirs: rss[small] }, 1.2, false, 'MB');
}

await stopProcess(engine.pid);
rmSync(work, { recursive: true, force: true });

const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`\nshopdb benchmark — ${new Date().toISOString().slice(0, 10)}, ${machine}${quick ? ' (quick)' : ''}${only ? ` (only ${only})` : ''}\n`);
console.log('| measurement | shopdb | baseline | ratio | target | |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const show = (value) => (r.unit === 'items/s' ? Math.round(value).toString() : r.unit === 'MB' ? value.toFixed(1) : value.toFixed(3));
  console.log(`| ${r.name} | ${show(r.ours)} ${r.unit} | ${show(r.theirs)} ${r.unit} | ${r.ratio.toFixed(2)} | ${r.target} | ${r.met ? 'met' : 'missed'} |`);
}
if (rss[large] !== undefined) console.log(`\npeak RSS of the ${large}-order import: ${rss[large].toFixed(1)} MB (target < 150 MB)`);
if (breakdown.length > 0) console.log(`\n${breakdown.join('\n')}`);

// `order list --user` on 100k orders: capacity, not time (bench/list.mjs, its own engine).
if (section('list')) {
  console.log('');
  const listed = spawnSync(process.execPath, [join(root, 'bench/list.mjs'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  if (listed.status !== 0) process.exitCode = 1;
}

if (section('server')) serverSection();
if (section('follow')) followSection();
