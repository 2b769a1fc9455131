import type { SetQuantityInput } from '../../core/carts.js';
import type { CommandContext } from '../context.js';

export async function cartRemoveProduct(ctx: CommandContext, input: { cartId: string; productId: string }): Promise<void> {
  const { carts } = await ctx.services();
  const { result, cart } = await carts.removeProduct(input);
  await ctx.out.result({ result, cart }, (render) => render.done(`Removed ${input.productId} from cart ${cart.cartId}: total ${cart.totalAmount}`));
}

export async function cartSetQuantity(ctx: CommandContext, input: SetQuantityInput): Promise<void> {
  const { carts } = await ctx.services();
  const { result, cart } = await carts.setQuantity(input);
  const line = cart.products?.find((product) => product.productId === input.productId);
  await ctx.out.result({ result, cart }, (render) =>
    render.done(
      line === undefined
        ? `Removed ${input.productId} from cart ${cart.cartId}: total ${cart.totalAmount}`
        : result === 'unchanged'
          ? `Cart ${cart.cartId} already holds ${line.quantity} × ${input.productId}; nothing changed`
          : `Cart ${cart.cartId} now holds ${line.quantity} × ${input.productId}: total ${cart.totalAmount}`,
    ),
  );
}

export async function cartCheckout(ctx: CommandContext, input: { cartId: string; orderId?: string | undefined }): Promise<void> {
  const { carts } = await ctx.services();
  const { result, order } = await carts.checkout(input);
  await ctx.out.result({ result, order }, (render) =>
    render.done(
      result === 'created'
        ? `Checked out cart ${input.cartId} as order ${order.orderId} (${render.status(order.status)}, total ${order.totalAmount})`
        : `Cart ${input.cartId} was already checked out as order ${order.orderId} (${render.status(order.status)}); nothing changed`,
    ),
  );
}
