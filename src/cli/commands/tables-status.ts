import { ShopError } from '../../core/errors.js';
import { NOT_READY, STREAM_VIEW_TYPE, streamRefreshes } from '../../core/tables.js';
import type { CommandContext } from '../context.js';

export async function tablesStatus(ctx: CommandContext): Promise<void> {
  const { tables } = await ctx.services();
  const reports = await tables.status();
  await ctx.out.result({ tables: reports }, (render) => {
    const present = reports.filter((report) => report.indexes.length > 0);
    const expiring = reports.filter((report) => report.timeToLive && report.timeToLive.status !== 'MISSING');
    const streaming = reports.filter((report) => report.stream && report.stream.status !== 'MISSING');
    return [
      render.tables(reports),
      ...(present.length === 0 ? [] : [render.tableIndexes(present)]),
      ...(streaming.length === 0 ? [] : [render.tableStreams(streaming)]),
      ...(expiring.length === 0 ? [] : [render.tableTimeToLive(expiring)]),
    ].join('\n');
  });
  const unready = reports.filter((report) => report.status === 'ACTIVE' || report.status === 'UPDATING').flatMap((report) => report.indexes.filter((index) => index.status === 'MISSING').map((index) => `${report.name} ${index.name}`));
  // Reads and writes work without them; only listing needs them.
  if (unready.length > 0) ctx.out.warn(`indexes missing (order list and cart list need them): ${unready.join(', ')}; tables create adds them`);
  const mismatched = reports.flatMap((report) => report.indexes.filter((index) => index.status === 'MISMATCH').map((index) => `${report.name} ${index.name}`));
  // tables create refuses these (exit 4): it never changes or drops an index someone else made.
  if (mismatched.length > 0) ctx.out.warn(`indexes of shopdb's names with other keys or projection: ${mismatched.join(', ')}; delete them (tables create then adds shopdb's) or use another --table-prefix`);
  const serving = (report: (typeof reports)[number]) => report.status === 'ACTIVE' || report.status === 'UPDATING';
  const streamless = reports.filter((report) => serving(report) && report.stream && report.stream.status !== 'ENABLED').map((report) => `${report.name} (${report.stream?.status ?? '?'})`);
  // Reads and writes work without one; only the cache follower needs it.
  if (streamless.length > 0) ctx.out.warn(`no stream on ${streamless.join(', ')}: the cache follower (shopdb cache follow) needs one; tables create enables it where the service supports streams`);
  for (const report of reports) {
    const stream = report.stream;
    if (!stream || !serving(report) || stream.status !== 'ENABLED' || streamRefreshes(stream.viewType)) continue;
    ctx.out.warn(
      `the stream of ${report.name} is ${stream.viewType ?? '?'}, not ${STREAM_VIEW_TYPE}: the cache follower can only drop cached entries on a change, not refresh them; tables create leaves it (changing it means turning the stream off, which loses its records)`,
    );
  }
  for (const report of reports) {
    const ttl = report.timeToLive;
    if (!ttl || !(report.status === 'ACTIVE' || report.status === 'UPDATING') || ttl.status === 'ENABLED' || ttl.status === 'ENABLING') continue;
    // Records past their expiry count as absent all the same: only their deletion is missing.
    const why = ttl.status === 'MISMATCH' ? `is set on another attribute than ${ttl.attribute}` : `is ${ttl.status}`;
    ctx.out.warn(`time to live of ${report.name} ${why}: expired idempotency keys stay stored; tables create turns it on where the service can`);
  }
  const missing = reports.filter((report) => report.result === 'absent').map((report) => report.name);
  if (missing.length > 0) {
    throw new ShopError('TABLE_NOT_FOUND', `missing at ${ctx.config.location}: ${missing.join(', ')}`, { hint: { kind: 'create-tables' } });
  }
  // A table on its way in or out refuses reads and writes: not ready, though present (UPDATING ones serve).
  const passing = reports.filter((report) => NOT_READY.has(report.status)).map((report) => `${report.name} is ${report.status}`);
  if (passing.length > 0) {
    throw new ShopError('UNAVAILABLE', `not ready at ${ctx.config.location}: ${passing.join(', ')}`, { hint: { kind: 'table-status' } });
  }
}
