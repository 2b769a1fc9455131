import type { BatchReport } from '../../core/follower.js';
import { tableNames } from '../../core/tables.js';
import { parsePositiveInteger } from '../../core/validate.js';
import type { CommandContext } from '../context.js';
import { usableColumns, wrap } from '../layout.js';

export interface FollowInput {
  leaseSeconds?: string | undefined;
  reportSeconds?: string | undefined;
}

const DEFAULT_LEASE_SECONDS = 10;
const DEFAULT_REPORT_SECONDS = 10;

/**
 * `cache follow`: applies every change of the tables' streams to the cache
 * until stopped (SIGINT, SIGTERM, SIGHUP), then finishes the batch in hand,
 * releases its leases to the other followers and ends with exit 0. It logs
 * on stderr, one timestamped line each: the shards it takes, loses and
 * finishes, problems (once per outage), and every --report-seconds the
 * records applied, their rate and the lag; with --verbose one line per batch.
 */
export async function cacheFollow(ctx: CommandContext, input: FollowInput): Promise<void> {
  ctx.stopsGracefully();
  const leaseSeconds = input.leaseSeconds === undefined ? DEFAULT_LEASE_SECONDS : parsePositiveInteger(input.leaseSeconds, 'lease-seconds', 3600);
  const reportSeconds = input.reportSeconds === undefined ? DEFAULT_REPORT_SECONDS : parsePositiveInteger(input.reportSeconds, 'report-seconds', 86_400);
  // Piped or redirected: one line per event, a full timestamp. On a terminal: the time of day, wrapped to its width.
  const log = (message: string) => {
    const columns = usableColumns(ctx.out.stderrColumns);
    const now = new Date().toISOString();
    const lines = columns === undefined ? [`${now} ${message}`] : wrap(`${now.slice(11, 19)} ${message}`, columns, { indent: 9 });
    ctx.out.stderr.write(`${lines.join('\n')}\n`);
  };
  const window = { records: 0, skipped: 0, lagMs: undefined as number | undefined, behindMs: 0, since: Date.now() };
  const { startFollower } = await import('../../app/follow.js');
  const started = Date.now();
  const follower = await startFollower(ctx.config, { leaseSeconds }, {
    info: log,
    warn: (message) => log(`warning: ${message}`),
    applied(batch: BatchReport) {
      const applied = batch.outcomes.stored + batch.outcomes.dropped + batch.outcomes.seen;
      window.records += applied;
      window.skipped += batch.outcomes.skipped;
      if (batch.lagMs !== undefined) window.lagMs = Math.max(window.lagMs ?? 0, batch.lagMs);
      window.behindMs = Math.max(window.behindMs, batch.behindMs);
      if (ctx.config.verbose && applied + batch.outcomes.skipped > 0) {
        const { stored, dropped, seen, skipped } = batch.outcomes;
        log(`${batch.table} shard ${batch.shard}: ${stored} stored, ${dropped} dropped, ${seen} already applied, ${skipped} older than the horizon; lag ${seconds(batch.lagMs)}`);
      }
    },
  });
  if (!ctx.signal.aborted) {
    const names = tableNames(ctx.config.tablePrefix);
    log(`following ${names.orders} and ${names.carts} into Redis (worker ${follower.worker}, lease ${leaseSeconds} s, records older than ${follower.horizonSeconds} s skipped); stop with Ctrl-C`);
    const timer = setInterval(() => {
      const now = Date.now();
      const { shards, errors } = follower.stats();
      const rate = window.records / Math.max(0.001, (now - window.since) / 1000);
      log(
        `applied ${window.records} record${window.records === 1 ? '' : 's'} (${rate.toFixed(1)}/s)${window.skipped ? `, skipped ${window.skipped} older than the horizon` : ''}; ` +
          `lag ${seconds(window.lagMs)} (largest), ${seconds(Math.max(window.behindMs, ...shards.map((shard) => shard.behindMs)))} behind the head; ${shards.length} shard${shards.length === 1 ? '' : 's'}; ${errors} error${errors === 1 ? '' : 's'} so far`,
      );
      Object.assign(window, { records: 0, skipped: 0, lagMs: undefined, behindMs: 0, since: now });
    }, reportSeconds * 1000);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(timer);
    log(`stopping (${String(ctx.signal.reason)}): finishing the batch in hand, releasing the leases`);
  }
  const stats = follower.stats();
  await follower.stop();
  await ctx.out.result(
    { result: 'stopped', worker: follower.worker, records: stats.records, skipped: stats.skipped, errors: stats.errors, seconds: Math.round((Date.now() - started) / 100) / 10 },
    (render) => render.done(`Stopped following: ${stats.records} records applied, ${stats.errors} errors`),
  );
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
}
