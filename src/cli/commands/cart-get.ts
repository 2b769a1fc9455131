import type { CommandContext } from '../context.js';

export async function cartGet(ctx: CommandContext, input: { cartId: string; strong: boolean }): Promise<void> {
  const { carts } = await ctx.services();
  const cart = await carts.get(input.cartId, { strong: input.strong });
  await ctx.out.result(cart, (render) => render.cart(cart));
}
