import { parseBilling, type TableWait } from '../../core/tables.js';
import type { CommandContext } from '../context.js';
import type { Spinner } from '../output.js';

/**
 * The bound on all waiting of one `tables create` or `tables delete`: on AWS a
 * deletion takes seconds to a few minutes, a creation seconds; both tables share it.
 */
export const TABLE_WAIT_MS = 300_000;

export async function tablesCreate(ctx: CommandContext, options: { billing?: string; rcu?: string; wcu?: string; stream?: boolean }): Promise<void> {
  const billing = parseBilling(options);
  const { tables } = await ctx.services();
  const spinner = ctx.out.spinner();
  try {
    const reports = await tables.create(billing, {
      waitMs: TABLE_WAIT_MS,
      streams: options.stream !== false,
      onWait: progress(ctx, spinner),
      onNotice: (message) => {
        spinner.stop();
        ctx.out.warn(message);
      },
    });
    spinner.stop();
    await ctx.out.result({ tables: reports }, (render) =>
      [
        render.tables(reports),
        render.tableIndexes(reports),
        ...(reports.some((report) => report.stream) ? [render.tableStreams(reports)] : []),
        ...(reports.some((report) => report.timeToLive) ? [render.tableTimeToLive(reports)] : []),
      ].join('\n'),
    );
  } finally {
    spinner.stop();
  }
}

/** A spinner at a terminal; with --verbose, one line per table and state waited for. */
export function progress(ctx: CommandContext, spinner: Spinner): (wait: TableWait) => void {
  const told = new Set<string>();
  return (wait) => {
    const line = wait.index !== undefined
      ? `waiting for index ${wait.index} of ${wait.table} to finish ${wait.status}`
      : `waiting for ${wait.table} to finish ${wait.status === 'MISSING' ? 'appearing' : wait.status} before ${wait.then === 'use' ? 'using it' : `${wait.then === 'create' ? 'creating' : 'deleting'} it`}`;
    spinner.update(line);
    if (!told.has(line)) {
      told.add(line);
      ctx.out.debug(line);
    }
  };
}
