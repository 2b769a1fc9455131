import { runExport } from '../bulk-commands.js';
import type { CommandContext } from '../context.js';

export async function bulkExport(ctx: CommandContext, segments: string | undefined): Promise<void> {
  const { orders } = await ctx.services();
  await runExport(ctx, 'order', orders.bulk, segments);
}
