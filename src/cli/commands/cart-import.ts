import { runImport, type ImportFlags } from '../bulk-commands.js';
import type { CommandContext } from '../context.js';

export async function bulkImport(ctx: CommandContext, flags: ImportFlags): Promise<void> {
  const { carts } = await ctx.services();
  await runImport(ctx, 'cart', carts.bulk, flags);
}
