import type { CreateCartInput } from '../../core/carts.js';
import type { CommandContext } from '../context.js';

export async function cartCreate(ctx: CommandContext, input: CreateCartInput): Promise<void> {
  const { carts } = await ctx.services();
  const { result, cart } = await carts.create(input);
  await ctx.out.result({ result, cart }, (render) =>
    render.done(
      result === 'created'
        ? `Created cart ${cart.cartId} for ${cart.userId}`
        : `Cart ${cart.cartId} already exists for ${cart.userId}; nothing changed`,
    ),
  );
}
