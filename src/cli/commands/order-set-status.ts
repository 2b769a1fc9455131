import type { SetStatusInput } from '../../core/orders.js';
import type { CommandContext } from '../context.js';

export async function orderSetStatus(ctx: CommandContext, input: SetStatusInput): Promise<void> {
  const { orders } = await ctx.services();
  const { result, order } = await orders.setStatus(input);
  await ctx.out.result({ result, order }, (render) =>
    render.done(
      result === 'updated'
        ? `Order ${order.orderId} is now ${render.status(order.status)} (version ${order.version})`
        : `Order ${order.orderId} is already ${render.status(order.status)}; nothing changed`,
    ),
  );
}
