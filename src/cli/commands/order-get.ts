import type { CommandContext } from '../context.js';

export async function orderGet(ctx: CommandContext, input: { orderId: string; strong: boolean }): Promise<void> {
  const { orders } = await ctx.services();
  const order = await orders.get(input.orderId, { strong: input.strong });
  await ctx.out.result(order, (render) => render.order(order));
}
