import type { DeleteOrderInput } from '../../core/orders.js';
import type { CommandContext } from '../context.js';

export async function orderDelete(ctx: CommandContext, input: DeleteOrderInput): Promise<void> {
  const { orders } = await ctx.services();
  const { result, order } = await orders.delete(input);
  await ctx.out.result({ result, order }, (render) => render.done(`Deleted order ${order.orderId} (${render.status(order.status)}, total ${order.totalAmount ?? '-'})`));
}
