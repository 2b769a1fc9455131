import { runImport, type ImportFlags } from '../bulk-commands.js';
import type { CommandContext } from '../context.js';

export async function bulkImport(ctx: CommandContext, flags: ImportFlags): Promise<void> {
  const { orders } = await ctx.services();
  await runImport(ctx, 'order', orders.bulk, flags);
}
