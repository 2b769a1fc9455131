import { ShopError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';

export async function tablesStatus(ctx: CommandContext): Promise<void> {
  const { tables } = await ctx.services();
  const reports = await tables.status();
  await ctx.out.result({ tables: reports }, (render) => render.tables(reports));
  const missing = reports.filter((report) => report.result === 'absent').map((report) => report.name);
  if (missing.length > 0) {
    throw new ShopError('TABLE_NOT_FOUND', `missing at ${ctx.config.location}: ${missing.join(', ')}; run: shopdb tables create`);
  }
}
