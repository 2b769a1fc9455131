import { ShopError } from '../../core/errors.js';
import type { SetStatusInput } from '../../core/orders.js';
import { quote } from '../../core/validate.js';
import type { CommandContext } from '../context.js';

export interface SetStatusArguments {
  /** The first positional: the order id, or the status when --ids-from is given. */
  first: string | undefined;
  second: string | undefined;
  idsFrom: string | undefined;
  expect: string | undefined;
  force: boolean;
  concurrency: string | undefined;
}

/**
 * `order set-status <orderId> <status>` or `order set-status --ids-from <file|-> <status>`:
 * which form was meant is decided here, before anything is opened.
 */
export async function orderSetStatusCommand(ctx: CommandContext, args: SetStatusArguments): Promise<void> {
  if (args.idsFrom !== undefined) {
    if (args.second !== undefined) {
      throw new ShopError('BAD_INPUT', `--ids-from: cannot be combined with an orderId argument (${quote(args.first ?? '')}); give either one order id or --ids-from <file|->, then the status`);
    }
    if (args.first === undefined) throw new ShopError('BAD_INPUT', "missing required argument 'status' (see --help)");
    const { orderSetStatusMany } = await import('./order-set-status-many.js');
    await orderSetStatusMany(ctx, { idsFrom: args.idsFrom, status: args.first, expect: args.expect, force: args.force, concurrency: args.concurrency });
    return;
  }
  if (args.first === undefined) throw new ShopError('BAD_INPUT', "missing required argument 'orderId' (see --help)");
  if (args.second === undefined) throw new ShopError('BAD_INPUT', "missing required argument 'status' (see --help)");
  if (args.concurrency !== undefined) throw new ShopError('BAD_INPUT', '--concurrency: applies only with --ids-from (one order is one request)');
  await orderSetStatus(ctx, { orderId: args.first, status: args.second, expect: args.expect, force: args.force });
}

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
