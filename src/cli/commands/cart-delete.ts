import type { CommandContext } from '../context.js';

export async function cartDelete(ctx: CommandContext, input: { cartId: string; force: boolean }): Promise<void> {
  const { carts } = await ctx.services();
  const { result, cart } = await carts.delete(input);
  await ctx.out.result({ result, cart }, (render) =>
    render.done(`Deleted cart ${cart.cartId} (${cart.products?.length ?? 0} product${cart.products?.length === 1 ? '' : 's'}, total ${cart.totalAmount ?? '-'})`),
  );
}
