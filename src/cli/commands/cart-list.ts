import type { CommandContext } from '../context.js';
import { runList, type ListFlags } from './order-list.js';

export async function cartList(ctx: CommandContext, flags: ListFlags): Promise<void> {
  const { listing } = await ctx.services();
  await runList(ctx, 'cart', listing.carts, flags);
}
