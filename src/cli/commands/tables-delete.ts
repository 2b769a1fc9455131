import { badInput } from '../../core/errors.js';
import type { CommandContext } from '../context.js';

export async function tablesDelete(ctx: CommandContext, options: { yes: boolean }): Promise<void> {
  if (!options.yes) throw badInput('yes', 'deleting the tables destroys every order and cart in them; add --yes to confirm');
  const { tables } = await ctx.services();
  const reports = await tables.delete();
  await ctx.out.result({ tables: reports }, (render) => render.tables(reports));
}
