#!/usr/bin/env node
// The follower section of `npm run bench`, runnable alone: `node bench/follow.mjs [--quick]` (or
// `node bench/run.mjs --only=follow`). One `shopdb cache follow` process against a DynamoDB Local and a
// redis-server of this script's own, measured end to end:
// - lag under a foreign write load: a plain SDK client (not shopdb; bench/follow-writer.mjs, a process of
//   its own) puts and updates orders at a fixed rate (≥ 200 writes/s), version untouched, each write
//   carrying a unique marker; Redis keyspace notifications (`notify-keyspace-events E$`) tell this script
//   the moment the follower SETs an entry, and a GET of it says which write it holds. Lag = that moment −
//   the write's answer (epoch ms, performance.now()'s resolution, in both processes); and, as an upper
//   bound, − its sending: the record became readable from the stream between the two. DynamoDB Local
//   rounds the stream's ApproximateCreationDateTime down to the minute, so the follower's own "lag" log
//   figure means nothing here and is not used;
// - the records/s the follower sustains, from its own log lines (`--report-seconds 1`);
// - catching up a backlog: the follower stopped, BACKLOG records written, the follower started again,
//   timed until every record's image is in Redis.
// For reading, not for failing CI.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Redis } from 'ioredis';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startServices } from './services.mjs';
import { benchEnv } from './env.mjs';
import { MARKER, orderId, orderItem } from './follow-items.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const shopdbBin = join(root, 'bin/shopdb');
const quick = process.argv.includes('--quick');
const option = (name, fallback) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
/** The orders the foreign writer keeps rewriting: at RATE writes/s each is rewritten every IDS / RATE s, far apart from its lag. */
const IDS = 3000;
/** Foreign writes per second asked for (the issue: at least 200 sustained). */
const RATE = option('rate', 250);
const LOAD_SECONDS = option('seconds', quick ? 10 : 30);
/** Writes at the same rate before the measured window: DynamoDB Local's JVM is several times slower on its first few thousand requests. */
const WARMUP_SECONDS = quick ? 3 : 5;
const BACKLOG = option('backlog', quick ? 3000 : 10_000);
/** Writes in flight at most: the writer falls behind its schedule (and says so) rather than pile up requests (DynamoDB Local writes fewer per second at 32 concurrent than at 8). */
const MAX_IN_FLIGHT = option('in-flight', 16);
/** How long the follower may take to apply what was written before the measurement gives up on the rest. */
const DRAIN_MS = 30_000;
/** The follower's poll interval of an idle shard (src/core/follower.ts DEFAULT_POLL_MS): the reference a lag is judged against. */
const POLL_MS = 250;
const TARGET_P99_MS = 1000;
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const loadBefore = loadavg()[0];

const services = await startServices();
const { children, engine, endpoint, redis } = services;
const env = benchEnv(endpoint);
const prefix = 'benchfollow-';
const table = `${prefix}EcommerceOrders`;

function shopdb(...args) {
  const run = spawnSync(shopdbBin, ['--table-prefix', prefix, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`shopdb ${args.join(' ')} exited ${run.status}: ${run.stderr.toString().slice(-500)}`);
  return run.stdout.toString();
}
shopdb('tables', 'create', '--billing', 'on-demand');

// --- writes: the seed and the backlog here (BatchWriteItem), the timed load in bench/follow-writer.mjs ------
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
);
/** Epoch milliseconds with performance.now()'s resolution, comparable across this script and its writer process. */
const epoch = () => performance.timeOrigin + performance.now();
/** Write n → when it was acknowledged and when its image was seen in Redis (epoch ms). */
const writes = new Map();
let nextWrite = 0;

async function batchPut(items) {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  while (requests.length > 0) {
    const answer = await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
    requests = answer.UnprocessedItems?.[table] ?? [];
  }
}

/** Puts orders `ids` (one write each, numbered from nextWrite on) by BatchWriteItem, `concurrency` batches at a time; returns their numbers. */
async function bulkWrite(ids, concurrency = 4) {
  const items = ids.map((id) => ({ n: nextWrite, item: orderItem(id, nextWrite++) }));
  for (const { n } of items) writes.set(n, { acked: undefined, seen: undefined });
  const batches = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await batchPut(batch.map(({ item }) => item));
        const at = epoch();
        for (const { n } of batch) writes.get(n).acked = at;
      }
    }),
  );
  return items.map(({ n }) => n);
}

/** Runs bench/follow-writer.mjs: warm-up, then the measured load; onMeasuring and onMeasured when its measured window begins and ends. */
function foreignLoad(onMeasuring, onMeasured) {
  const config = { endpoint, table, ids: IDS, rate: RATE, warmupSeconds: WARMUP_SECONDS, seconds: LOAD_SECONDS, firstWrite: nextWrite, maxInFlight: MAX_IN_FLIGHT };
  // Every write the writer may make is known in advance, so the watcher can time it even before the writer reports.
  const last = nextWrite + Math.ceil(RATE * (WARMUP_SECONDS + LOAD_SECONDS)) + 2;
  for (let n = nextWrite; n < last; n++) writes.set(n, { acked: undefined, seen: undefined });
  const child = spawn(process.execPath, [join(root, 'bench/follow-writer.mjs'), JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    let result;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'measuring') onMeasuring();
      else {
        onMeasured();
        result = JSON.parse(line);
      }
    });
    child.once('exit', (code) => {
      children.delete(child);
      if (code !== 0 || result === undefined) {
        reject(new Error(`bench/follow-writer.mjs exited ${code}`));
        return;
      }
      nextWrite = result.next;
      for (const [n, , acked] of result.writes) writes.get(n).acked = acked;
      resolve({ ...result, pid: child.pid });
    });
  });
}

// --- the watcher: a keyspace notification for every SET, then a GET of the entry to read its marker ------
const watcher = new Redis(redis.url);
const subscriber = new Redis(redis.url);
await watcher.config('SET', 'notify-keyspace-events', 'E$');
let foreignSets = 0;
subscriber.on('message', (_channel, key) => {
  const at = epoch();
  if (!key.includes(table) || key.endsWith(':lease')) return;
  watcher.get(key).then((value) => {
    const found = MARKER.exec(value ?? '');
    const entry = found ? writes.get(Number(found[1])) : undefined;
    if (entry === undefined) {
      foreignSets += 1;
      return;
    }
    entry.seen ??= at;
  });
});
await subscriber.subscribe('__keyevent@0__:set');

/** Waits until every write in `numbers` is seen in Redis, or `ms` pass; returns how many are still unseen. (The times are taken by the watcher.) */
async function seenAll(numbers, ms) {
  const deadline = performance.now() + ms;
  let pending = numbers;
  for (;;) {
    pending = pending.filter((n) => writes.get(n)?.seen === undefined);
    if (pending.length === 0 || performance.now() >= deadline) return pending.length;
    await sleep(50);
  }
}

// --- the follower process ---------------------------------------------------------------------------
/** Log lines of every follower run: { at (epoch ms), text }. */
const logLines = [];
function startFollower() {
  const child = spawn(shopdbBin, ['--table-prefix', prefix, '--redis-url', redis.url, 'cache', 'follow', '--report-seconds', '1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  createInterface({ input: child.stderr }).on('line', (text) => {
    const at = Date.parse(text.slice(0, 24));
    logLines.push({ at: Number.isNaN(at) ? Date.now() : at, text });
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: child.pid,
    started: epoch(),
    exited,
    async stop() {
      child.kill('SIGTERM');
      const { code, signal } = await Promise.race([exited, sleep(15_000).then(() => ({ code: 'timeout' }))]);
      children.delete(child);
      if (code !== 0) throw new Error(`cache follow ended with ${code ?? signal} on SIGTERM: ${logLines.slice(-5).map((line) => line.text).join('\n')}`);
      return JSON.parse(stdout.trim().split('\n').pop());
    },
  };
}

/** The follower's "applied N records (R/s)" reports between two epoch-ms instants. */
function reportedRates(from, to) {
  return logLines
    .filter((line) => line.at >= from && line.at <= to)
    .map((line) => /applied (\d+) records \(([\d.]+)\/s\)/.exec(line.text))
    .filter(Boolean)
    .map((found) => ({ records: Number(found[1]), rate: Number(found[2]) }));
}

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const median = (values) => percentile([...values].sort((a, b) => a - b), 50);
const ms = (value) => `${Math.round(value)} ms`;

// --- 1. seed, start the follower (it applies the seed from the stream's oldest record) ------------------
const seeded = await bulkWrite(Array.from({ length: IDS }, (_, i) => orderId(i)));
let follower = startFollower();
const seedMissing = await seenAll(seeded, 60_000);
if (seedMissing > 0) throw new Error(`the follower applied only ${IDS - seedMissing} of the ${IDS} seeded orders within 60 s: ${logLines.slice(-5).map((line) => line.text).join('\n')}`);
const sample = await watcher.get((await watcher.keys(`*${table}:${orderId(0)}}`))[0] ?? '');
if (!sample?.includes('"by":"stream"')) throw new Error(`the seeded entry is not the follower's: ${sample}`);

// --- 2. lag under a foreign write load (the writer warms up first, then the measured window) -------------
const pids = { 'DynamoDB Local (Java)': engine.pid, 'cache follow': follower.pid, 'redis-server': redis.pid, 'this script (watcher)': process.pid };
const sampleCpu = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
let cpuBefore;
let cpuAfter;
let windowStart;
let windowEnd;
const watcherLoop = monitorEventLoopDelay({ resolution: 5 });
const measured = await foreignLoad(
  () => {
    cpuBefore = sampleCpu();
    windowStart = Date.now();
    watcherLoop.enable();
  },
  () => {
    cpuAfter = sampleCpu();
    windowEnd = Date.now();
    watcherLoop.disable();
  },
);
const cpu = Object.fromEntries(Object.keys(pids).map((name) => [name, (cpuAfter[name] - cpuBefore[name]) / measured.seconds]));
cpu['foreign writer'] = measured.cpuSeconds / measured.seconds;
const numbers = measured.writes.map(([n]) => n);
const lagMissing = await seenAll(numbers, DRAIN_MS);
const lags = numbers
  .map((n) => writes.get(n))
  .filter((entry) => entry.seen !== undefined)
  .map((entry) => entry.seen - entry.acked)
  .sort((a, b) => a - b);
const sentToSeen = measured.writes
  .map(([n, sent]) => (writes.get(n).seen === undefined ? undefined : writes.get(n).seen - sent))
  .filter((value) => value !== undefined)
  .sort((a, b) => a - b);
const negative = lags.filter((value) => value < 0).length;
const answers = measured.writes.map(([, sent, acked]) => acked - sent).sort((a, b) => a - b);
const writeRate = measured.writes.length / measured.seconds;
const loadRates = reportedRates(windowStart + 1000, windowEnd).map((report) => report.rate);
const lag = { p50: percentile(lags, 50), p90: percentile(lags, 90), p99: percentile(lags, 99), max: lags.at(-1), min: lags[0] };
console.error(
  `follow: ${measured.writes.length} foreign writes in ${measured.seconds.toFixed(1)} s (${writeRate.toFixed(0)}/s); lag p50 ${ms(lag.p50)}, p99 ${ms(lag.p99)}, max ${ms(lag.max)}; ${lagMissing} never seen`,
);

// --- 3. a backlog: the follower stopped, BACKLOG records written, the follower started again --------------
const stopped = await follower.stop();
const backlogWriteStart = performance.now();
const backlog = await bulkWrite(Array.from({ length: BACKLOG }, (_, i) => orderId(i)));
const backlogWriteSeconds = (performance.now() - backlogWriteStart) / 1000;
const restartEpoch = Date.now();
follower = startFollower();
const backlogMissing = await seenAll(backlog, 120_000);
const caughtUpEpoch = Date.now();
const seenTimes = backlog.map((n) => writes.get(n).seen).filter((at) => at !== undefined);
const firstSeen = Math.min(...seenTimes);
const lastSeen = Math.max(...seenTimes);
const catchUp = { fromStart: (lastSeen - follower.started) / 1000, applying: (lastSeen - firstSeen) / 1000, firstAfter: (firstSeen - follower.started) / 1000 };
const catchUpReports = reportedRates(restartEpoch, caughtUpEpoch + 1000).filter((report) => report.records > 0);
console.error(
  `follow: backlog of ${BACKLOG} applied ${catchUp.fromStart.toFixed(2)} s after the start (${(BACKLOG / catchUp.fromStart).toFixed(0)}/s), ` +
    `${catchUp.applying.toFixed(2)} s from the first to the last (${(BACKLOG / catchUp.applying).toFixed(0)}/s); ${backlogMissing} never seen`,
);
const final = await follower.stop();

subscriber.disconnect();
watcher.disconnect();
client.destroy();
await services.stop();

// --- the report ---------------------------------------------------------------------------------------
const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const rate = (count, seconds) => `${Math.round(count / seconds).toLocaleString('en-US')} records/s`;
// The record is readable from the stream after the write was sent and before its answer: the issue's lag lies
// between the lag from the answer and the lag from the sending, so the target is met for sure when even the latter meets it.
const upper = { p50: percentile(sentToSeen, 50), p99: percentile(sentToSeen, 99), max: sentToSeen.at(-1) };
const met = lag.p99 <= TARGET_P99_MS;
const verdict = upper.p99 <= TARGET_P99_MS ? 'met' : met ? 'met from the answer, not from the sending' : 'missed';
console.log(`\nshopdb cache follow benchmark — ${new Date().toISOString().slice(0, 10)}, ${machine}${quick ? ' (quick)' : ''}`);
console.log(
  `load average (1 min) ${loadBefore.toFixed(1)} before the run, ${loadavg()[0].toFixed(1)} after it; DynamoDB Local and redis-server on the same machine; ` +
    `${IDS} orders rewritten by a plain SDK client (PutItem and UpdateItem alternately, version untouched) for ${LOAD_SECONDS} s after ${WARMUP_SECONDS} s of warm-up\n`,
);
console.log('| measurement | cache follow | reference | |');
console.log('|---|---|---|---|');
console.log(`| foreign writes, achieved (asked ${RATE}/s) | ${writeRate.toFixed(0)} writes/s | ≥ 200 writes/s | ${writeRate >= 200 ? 'met' : 'missed'} |`);
console.log(`| lag, write answered → its image in Redis: p50 | ${ms(lag.p50)} | the poll interval of an idle shard, ${POLL_MS} ms | |`);
console.log(`| lag p90 | ${ms(lag.p90)} | | |`);
console.log(`| lag p99 | ${ms(lag.p99)} | ≤ ${TARGET_P99_MS} ms after the record is readable | ${verdict} |`);
console.log(`| lag max | ${ms(lag.max)} | | |`);
console.log(`| lag from the write's sending (an upper bound: DynamoDB's answer time included): p50, p99, max | ${ms(upper.p50)}, ${ms(upper.p99)}, ${ms(upper.max)} | ≤ ${TARGET_P99_MS} ms (p99) | |`);
console.log(
  `| records/s applied under that load (the follower's 1-s reports: median, range) | ${loadRates.length ? `${median(loadRates).toFixed(0)}/s (${Math.min(...loadRates).toFixed(0)}–${Math.max(...loadRates).toFixed(0)})` : '—'} | the write rate, ${writeRate.toFixed(0)}/s | |`,
);
console.log(`| catch-up of ${BACKLOG.toLocaleString('en-US')} records, process start → last image in Redis | ${catchUp.fromStart.toFixed(2)} s, ${rate(BACKLOG, catchUp.fromStart)} | | |`);
console.log(`| the same, first image → last | ${catchUp.applying.toFixed(2)} s, ${rate(BACKLOG, catchUp.applying)} | | |`);
console.log('');
console.log(
  `- lag: ${lags.length} of ${measured.writes.length} writes seen in Redis (${lagMissing} not within ${DRAIN_MS / 1000} s), min ${ms(lag.min)}, ${negative} below 0 ` +
    `(the follower's SET reached the watcher before the write's answer reached the writer: a late answer, see the writer's event-loop delay; ` +
    `so the lags from the answer are lower bounds, those from the sending upper bounds); ${measured.failed} writes failed${measured.firstError ? ` (${measured.firstError})` : ''}`,
);
console.log(
  `- the writer: DynamoDB answered its writes in ${ms(percentile(answers, 50))} (p50), ${ms(percentile(answers, 99))} (p99); it had ${MAX_IN_FLIGHT} writes in flight and waited ${measured.capped} times; ` +
    `event-loop delay p99/max: writer ${ms(measured.loopDelayMs.p99)}/${ms(measured.loopDelayMs.max)}, watcher ${ms(watcherLoop.percentile(99) / 1e6)}/${ms(watcherLoop.max / 1e6)}`,
);
if (writeRate < 0.95 * RATE) {
  console.log(
    `- the writer fell behind its ${RATE}/s: DynamoDB Local (Java, on the same cores as everything else) answered no faster with ${MAX_IN_FLIGHT} writes in flight; ` +
      (lagMissing === 0 && met ? 'it, not the follower, set the write rate (the follower kept up: every write reached Redis, at the lags above)' : 'and the follower did not keep up either (see the lags above)'),
  );
}
console.log(`- CPU during the measured load (share of one core): ${Object.entries(cpu).map(([name, share]) => `${name} ${(share * 100).toFixed(0)} %`).join(', ')}`);
console.log(
  `- backlog: ${BACKLOG.toLocaleString('en-US')} puts (${Math.min(BACKLOG, IDS)} to existing orders, ${Math.max(0, BACKLOG - IDS)} new) by BatchWriteItem in ${backlogWriteSeconds.toFixed(1)} s while the follower was stopped; ` +
    `the first image reached Redis ${catchUp.firstAfter.toFixed(2)} s after the follower's start; ${backlogMissing} never seen; ` +
    `its 1-s reports meanwhile: ${catchUpReports.map((report) => `${report.rate.toFixed(0)}/s`).join(', ') || '—'}`,
);
const warnings = logLines.filter((line) => line.text.includes(' warning: '));
console.log(
  `- the follower's own results: ${stopped.records} records applied and ${stopped.errors} errors in the first run, ${final.records} and ${final.errors} in the second; ` +
    `entries SET with no marker of this run: ${foreignSets}`,
);
for (const line of warnings.slice(0, 5)) console.log(`- the follower warned: ${line.text.slice(25)}`);
