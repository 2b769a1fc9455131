import { parseBilling } from '../../core/tables.js';
import type { CommandContext } from '../context.js';

/** Real DynamoDB usually needs seconds; a minute is past any normal creation. */
const WAIT_MS = 120_000;

export async function tablesCreate(ctx: CommandContext, options: { billing?: string; rcu?: string; wcu?: string }): Promise<void> {
  const billing = parseBilling(options);
  const { tables } = await ctx.services();
  const spinner = ctx.out.spinner();
  try {
    const reports = await tables.create(billing, { waitMs: WAIT_MS, onWait: (table) => spinner.update(`waiting for ${table} to become ACTIVE`) });
    spinner.stop();
    await ctx.out.result({ tables: reports }, (render) => render.tables(reports));
  } finally {
    spinner.stop();
  }
}
