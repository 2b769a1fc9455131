import { runExport } from '../bulk-commands.js';
import type { CommandContext } from '../context.js';

export async function bulkExport(ctx: CommandContext, segments: string | undefined): Promise<void> {
  const { carts } = await ctx.services();
  await runExport(ctx, 'cart', carts.bulk, segments);
}
