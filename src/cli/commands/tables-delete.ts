import { badInput } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { progress, TABLE_WAIT_MS } from './tables-create.js';

export async function tablesDelete(ctx: CommandContext, options: { yes: boolean }): Promise<void> {
  if (!options.yes) throw badInput('yes', 'deleting the tables destroys every order and cart in them; add --yes to confirm');
  const { tables } = await ctx.services();
  const spinner = ctx.out.spinner();
  try {
    const reports = await tables.delete({ waitMs: TABLE_WAIT_MS, onWait: progress(ctx, spinner) });
    spinner.stop();
    await ctx.out.result({ tables: reports }, (render) => render.tables(reports));
  } finally {
    spinner.stop();
  }
}
