// The foreign writer of bench/follow.mjs, in a process of its own so that its SDK work does not delay the
// watcher's timestamps: a plain document client (not shopdb) rewriting orders at a fixed rate, each write
// carrying a unique marker (`bm<n>x` in `benchMark`), PutItem of the whole order and UpdateItem of two
// attributes alternately, `version` untouched, as a program that does not know shopdb would.
// usage: node bench/follow-writer.mjs '<json: endpoint, table, ids, rate, warmupSeconds, seconds, firstWrite, maxInFlight>'
// Prints `measuring` when the measured window begins, then one JSON line: every measured write's number and
// the epoch ms (fractional) it was sent and acknowledged, the window's length, and how the writer kept up
// (its CPU seconds, its event loop's delay, how often it waited for a free slot).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { marker, orderId, orderItem } from './follow-items.mjs';

const { endpoint, table, ids, rate, warmupSeconds, seconds, firstWrite, maxInFlight } = JSON.parse(process.argv[2]);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
);
/** Epoch milliseconds with performance.now()'s resolution: comparable with the parent's, on the same machine. */
const epoch = () => performance.timeOrigin + performance.now();

let next = firstWrite;
let failed = 0;
let firstError;

/** Write n to order n % ids. */
async function write(n) {
  const id = orderId(n % ids);
  const command =
    n % 2 === 0
      ? new PutCommand({ TableName: table, Item: orderItem(id, n) })
      : new UpdateCommand({
          TableName: table,
          Key: { orderId: id },
          UpdateExpression: 'SET updatedAt = :at, benchMark = :mark',
          ExpressionAttributeValues: { ':at': new Date().toISOString(), ':mark': marker(n) },
        });
  const sent = epoch();
  try {
    await client.send(command);
    return [n, sent, epoch()];
  } catch (error) {
    failed += 1;
    firstError ??= error.message;
    return undefined;
  }
}

/**
 * Writes at `rate`/s for `duration` s, open loop (each write due at its time), at most maxInFlight at
 * once: when DynamoDB answers slower than that, the writer falls behind its schedule, and what it
 * achieved is what counts. Nothing new starts after `duration`; the writes in flight are awaited.
 */
async function load(duration) {
  const started = performance.now();
  const end = started + duration * 1000;
  const inFlight = new Set();
  const done = [];
  let issued = 0;
  let capped = 0;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate) + 1;
    while (issued < due && performance.now() < end) {
      if (inFlight.size >= maxInFlight) {
        capped += 1;
        await Promise.race(inFlight);
        continue;
      }
      const task = write(next++).then((result) => {
        inFlight.delete(task);
        if (result) done.push(result);
      });
      inFlight.add(task);
      issued += 1;
    }
    await sleep(Math.max(1, Math.min(end - performance.now(), Math.ceil(((issued + 1) / rate) * 1000 - (performance.now() - started)))));
  }
  await Promise.all(inFlight);
  return { writes: done, seconds: (performance.now() - started) / 1000, capped };
}

await load(warmupSeconds);
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
process.stdout.write('measuring\n');
const cpu = process.cpuUsage();
const measured = await load(seconds);
const used = process.cpuUsage(cpu);
loop.disable();
client.destroy();
process.stdout.write(
  `${JSON.stringify({ ...measured, cpuSeconds: (used.user + used.system) / 1e6, failed, firstError, next, loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } })}\n`,
);
