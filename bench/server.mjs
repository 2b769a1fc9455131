#!/usr/bin/env node
// The server section of `npm run bench`, runnable alone: `node bench/server.mjs [--quick]`
// (or `node bench/run.mjs --only=server`). `shopdb serve` side by side with two minimal fastify apps
// (bench/server-constant.mjs, bench/server-raw-get.mjs) under autocannon, on a DynamoDB Local and a
// redis-server of its own. Each pair runs alternately in one session; the table shows medians, the
// ratio and its target, then serve's RSS after 10 s and 60 s of load. For reading, not for failing CI.
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../dist/local/engine.js';
import { benchEnv } from './env.mjs';
import { startServices } from './services.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const shopdbBin = join(root, 'bin/shopdb');
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 5;
/** Seconds of load per measured run, and of warm-up per server. */
const RUN_SECONDS = quick ? 3 : 10;
const WARMUP_SECONDS = quick ? 1 : 3;
/**
 * The uncached pair's warm-up, each side: DynamoDB Local's JVM answers ~3× faster once a request shape has
 * been seen thousands of times, and serve's requests (ReturnConsumedCapacity) take another path in it than
 * the raw route's; with 3 s, serve's first measured runs were half its later ones.
 */
const ENGINE_WARMUP_SECONDS = quick ? 5 : 20;
/** autocannon's default: 10 keep-alive connections, no pipelining. */
const CONNECTIONS = 10;
/** When serve's RSS is read under continuous load (seconds since the load began). */
const RSS_EARLY = quick ? 5 : 10;
const RSS_LATE = quick ? 20 : 60;
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const work = mkdtempSync(join(tmpdir(), 'shopdb-bench-server-'));
/** The machine's 1-minute load average before the run: on a shared machine it says how far to trust the figures. */
const loadBefore = loadavg()[0];

const services = await startServices();
const { children, endpoint, redis } = services;

const env = benchEnv(endpoint);

function shopdb(...args) {
  const run = spawnSync(shopdbBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`shopdb ${args.join(' ')} exited ${run.status}: ${run.stderr.toString().slice(-500)}`);
  return run.stdout.toString();
}

const prefix = 'benchserve-';
const ORDER_PATH = '/v1/orders/bench-order';
shopdb('--table-prefix', prefix, 'tables', 'create', '--billing', 'on-demand');
shopdb('--table-prefix', prefix, 'order', 'create', 'bench-order', '--user', 'u1', '--amount', '19.99');

/** Starts a server process, its output to a log file (a pipe nobody reads would stall it), and waits until `probe` answers 200. */
async function startServer(name, command, args, port, probe = ORDER_PATH) {
  const log = join(work, `${name}.log`);
  const fd = openSync(log, 'w');
  const child = spawn(command, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${readFileSync(log, 'utf8').slice(-1000)}`);
    const status = await fetch(`${url}${probe}`).then((answer) => answer.status, () => undefined);
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error(`${name} did not answer 200 on ${probe} within 30 s (last: ${status}): ${readFileSync(log, 'utf8').slice(-1000)}`);
    await sleep(100);
  }
  return {
    name,
    url,
    pid: child.pid,
    log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(10_000).then(() => child.kill('SIGKILL'))]);
      children.delete(child);
    },
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // After "pid (comm) ", utime and stime are fields 12 and 13 (0-based).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssMb(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1]) / 1024;
}

/** One autocannon run against a server: requests/s, latency percentiles (ms), the server's and the client's CPU. */
async function load(server, seconds, options = {}) {
  const serverCpu = cpuSeconds(server.pid);
  const clientCpu = process.cpuUsage();
  const result = await autocannon({ url: `${server.url}${ORDER_PATH}`, connections: CONNECTIONS, duration: seconds, ...options });
  const client = process.cpuUsage(clientCpu);
  const failed = result.errors + result.timeouts + (options.requests ? 0 : result.non2xx);
  if (failed > 0) console.error(`  ${server.name}: ${failed} failed requests (errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}): this run does not count`);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpu: (cpuSeconds(server.pid) - serverCpu) / seconds,
    clientCpu: (client.user + client.system) / 1e6 / seconds,
    failed,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** What X-Cache a GET of the order answers with (serve only; undefined from the baselines). */
async function xCache(server, headers = {}) {
  const answer = await fetch(`${server.url}${ORDER_PATH}`, { headers });
  await answer.arrayBuffer();
  return answer.headers.get('x-cache') ?? undefined;
}

// Before `shopdb serve` exists, `shopdb serve --help` prints the top-level help (no --port in it).
const serveHelp = spawnSync(shopdbBin, ['serve', '--help'], { env });
const serveAvailable = serveHelp.status === 0 && serveHelp.stdout.toString().includes('--port');

async function startConstant() {
  const port = await freePort();
  return startServer('constant route', process.execPath, [join(root, 'bench/server-constant.mjs'), String(port)], port);
}
async function startRawGet() {
  const port = await freePort();
  return startServer('raw GetItem route', process.execPath, [join(root, 'bench/server-raw-get.mjs'), String(port), endpoint, `${prefix}EcommerceOrders`], port);
}
/** The real `shopdb serve`, with the Redis cache or without one. */
async function startServe(cached) {
  const port = await freePort();
  const args = ['--table-prefix', prefix, 'serve', '--port', String(port), '--endpoint', endpoint, ...(cached ? ['--cache', '--redis-url', redis.url] : [])];
  return startServer(cached ? 'serve (cached)' : 'serve (no cache)', shopdbBin, args, port);
}

const results = [];
const notes = [];
function report(name, ours, theirs, target, { higherIsBetter = true, unit = 'req/s' } = {}) {
  const ratio = ours / theirs;
  const met = target === undefined ? undefined : higherIsBetter ? ratio >= target : ratio <= target;
  results.push({ name, ours, theirs, ratio, target: target === undefined ? '(report)' : `${higherIsBetter ? '≥' : '≤'} ${target}`, met, unit });
  console.error(`${name}: ${ours.toFixed(2)} vs ${theirs.toFixed(2)} ${unit} → ${Number.isFinite(ratio) ? ratio.toFixed(2) : '—'}${met === undefined ? '' : met ? ' (met)' : ' (missed)'}`);
}

/**
 * Alternates two servers ROUNDS times (which goes first alternates too) after a warm-up of each,
 * and returns the medians of each side's runs.
 */
async function pair(ours, theirs, warmupSeconds = WARMUP_SECONDS) {
  await load(ours, warmupSeconds);
  await load(theirs, warmupSeconds);
  const runs = { ours: [], theirs: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
    for (const side of order) {
      const server = side === 'ours' ? ours : theirs;
      const run = await load(server, RUN_SECONDS);
      console.error(`  ${server.name}: ${Math.round(run.rps)} req/s, p99 ${run.p99} ms, server CPU ${(run.serverCpu * 100).toFixed(0)} %, client CPU ${(run.clientCpu * 100).toFixed(0)} %`);
      if (run.failed === 0) runs[side].push(run);
    }
  }
  const summary = (list) => ({
    rps: median(list.map((run) => run.rps)),
    p99: median(list.map((run) => run.p99)),
    serverCpu: median(list.map((run) => run.serverCpu)),
    clientCpu: median(list.map((run) => run.clientCpu)),
    rpsRange: `${Math.round(Math.min(...list.map((run) => run.rps)))}–${Math.round(Math.max(...list.map((run) => run.rps)))}`,
    runs: list.length,
  });
  return { ours: summary(runs.ours), theirs: summary(runs.theirs) };
}

function cpuNote(label, side, name) {
  notes.push(`${label}: ${name} ${side.rpsRange} req/s over ${side.runs} runs; it used ${(side.serverCpu * 100).toFixed(0)} % of a core, autocannon ${(side.clientCpu * 100).toFixed(0)} % (medians)`);
}

/** serve against a baseline, alternately: req/s (against `target`), p99, and the CPU each side used. */
async function compare(served, baseline, { label, rpsName, p99Name, baselineName, target, warmupSeconds }) {
  const measured = await pair(served, baseline, warmupSeconds);
  report(rpsName, measured.ours.rps, measured.theirs.rps, target);
  report(p99Name, measured.ours.p99, measured.theirs.p99, undefined, { unit: 'ms', higherIsBetter: false });
  cpuNote(label, measured.ours, 'serve');
  cpuNote(label, measured.theirs, baselineName);
}

/** A baseline measured alone (a checkout without serve). */
const aloneNote = (alone) =>
  `${Math.round(alone.rps)} req/s, p99 ${alone.p99} ms, server CPU ${(alone.serverCpu * 100).toFixed(0)} %, autocannon ${(alone.clientCpu * 100).toFixed(0)} %`;

// --- cached reads vs a constant route ----------------------------------------
const constant = await startConstant();
if (serveAvailable) {
  const cached = await startServe(true);
  await xCache(cached);
  const answered = await xCache(cached);
  if (answered !== 'hit') throw new Error(`serve (cached) answered X-Cache: ${answered} on a repeated GET; expected hit`);
  await compare(cached, constant, {
    label: 'cached',
    rpsName: 'cached `GET /v1/orders/{id}` vs constant route (req/s)',
    p99Name: 'p99 latency, cached GET vs constant route (ms)',
    baselineName: 'the constant route',
    target: 0.5,
  });
  await cached.stop();
} else {
  const alone = await load(constant, RUN_SECONDS);
  notes.push(`shopdb serve is not built into this checkout (\`shopdb serve --help\` shows no --port): baselines only. constant route: ${aloneNote(alone)}`);
}
await constant.stop();

// --- uncached reads vs one raw SDK GetItem per request ------------------------
const rawGet = await startRawGet();
if (serveAvailable) {
  const uncached = await startServe(false);
  const answered = await xCache(uncached);
  if (answered !== 'off') throw new Error(`serve without a cache answered X-Cache: ${answered}; expected off`);
  await compare(uncached, rawGet, {
    label: 'uncached',
    rpsName: 'uncached `GET /v1/orders/{id}` vs raw-SDK GetItem route (req/s)',
    p99Name: 'p99 latency, uncached GET vs raw-SDK route (ms)',
    baselineName: 'the raw GetItem route',
    target: 0.9,
    warmupSeconds: ENGINE_WARMUP_SECONDS,
  });
  await uncached.stop();
} else {
  await load(rawGet, ENGINE_WARMUP_SECONDS);
  notes.push(`raw GetItem route: ${aloneNote(await load(rawGet, RUN_SECONDS))}`);
}
await rawGet.stop();

// --- serve's memory under sustained load ----------------------------------------
// A fresh cached serve under RSS_LATE seconds of reads that take every read path in turn: a cache hit, a
// bypass (Cache-Control: no-cache: DynamoDB, then a lease and a fill in Redis) and a not-found.
if (serveAvailable) {
  const fresh = await startServe(true);
  const idle = rssMb(fresh.pid);
  const samples = {};
  const sampler = (async () => {
    await sleep(RSS_EARLY * 1000);
    samples.early = rssMb(fresh.pid);
    await sleep((RSS_LATE - RSS_EARLY) * 1000 - 250);
    samples.late = rssMb(fresh.pid);
  })();
  const run = await load(fresh, RSS_LATE, {
    requests: [
      { method: 'GET', path: ORDER_PATH },
      { method: 'GET', path: ORDER_PATH, headers: { 'cache-control': 'no-cache' } },
      { method: 'GET', path: '/v1/orders/no-such-order' },
    ],
  });
  await sampler;
  report(`serve RSS after ${RSS_LATE} s vs after ${RSS_EARLY} s of load (MB)`, samples.late, samples.early, 1.3, { higherIsBetter: false, unit: 'MB' });
  notes.push(`memory run: ${Math.round(run.rps)} req/s for ${RSS_LATE} s (hit, bypass and not-found reads in turn); RSS ${idle.toFixed(1)} MB idle, ${samples.early.toFixed(1)} MB after ${RSS_EARLY} s, ${samples.late.toFixed(1)} MB after ${RSS_LATE} s`);
  await fresh.stop();
}

await services.stop();
rmSync(work, { recursive: true, force: true });

const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`\nshopdb serve benchmark — ${new Date().toISOString().slice(0, 10)}, ${machine}${quick ? ' (quick)' : ''}`);
console.log(`load average (1 min) ${loadBefore.toFixed(1)} before the run, ${loadavg()[0].toFixed(1)} after it; autocannon, ${CONNECTIONS} connections, ${ROUNDS} alternating runs of ${RUN_SECONDS} s per side after a warm-up of each (${WARMUP_SECONDS} s cached, ${ENGINE_WARMUP_SECONDS} s uncached); medians\n`);
console.log('| measurement | shopdb serve | baseline | ratio | target | |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  // autocannon records latencies in whole milliseconds: 0 means under 1 ms, and a ratio to it means nothing.
  const show = (value) => (r.unit === 'req/s' ? `${Math.round(value)} req/s` : r.unit === 'ms' ? (value === 0 ? '< 1 ms' : `${value} ms`) : `${value.toFixed(1)} ${r.unit}`);
  const ratio = Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '—';
  console.log(`| ${r.name} | ${show(r.ours)} | ${show(r.theirs)} | ${ratio} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'met' : 'missed'} |`);
}
console.log('');
for (const note of notes) console.log(`- ${note}`);
