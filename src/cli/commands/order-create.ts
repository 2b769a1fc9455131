import type { CreateOrderInput } from '../../core/orders.js';
import type { CommandContext } from '../context.js';

export async function orderCreate(ctx: CommandContext, input: CreateOrderInput): Promise<void> {
  const { orders } = await ctx.services();
  const { result, order } = await orders.create(input);
  await ctx.out.result({ result, order }, (render) =>
    render.done(
      result === 'created'
        ? `Created order ${order.orderId} for ${order.userId}: ${order.totalAmount}, ${render.status(order.status)}`
        : `Order ${order.orderId} already exists with the same user and amount; nothing changed`,
    ),
  );
}
