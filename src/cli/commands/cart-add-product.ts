import type { AddProductInput } from '../../core/carts.js';
import type { CommandContext } from '../context.js';

export async function cartAddProduct(ctx: CommandContext, input: AddProductInput): Promise<void> {
  const { carts } = await ctx.services();
  const { result, cart } = await carts.addProduct(input);
  const line = cart.products?.find((product) => product.productId === input.productId);
  await ctx.out.result({ result, cart }, (render) =>
    render.done(`Added ${input.quantity ?? 1} × ${input.productId} to cart ${cart.cartId}: now ${line?.quantity} in the cart, total ${cart.totalAmount}`),
  );
}
