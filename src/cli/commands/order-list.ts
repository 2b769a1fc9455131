import { badInput } from '../../core/errors.js';
import type { ListKind, ListRequest, ListService } from '../../core/listing.js';
import type { Cart, Order } from '../../core/model.js';
import { Interrupted, type CommandContext } from '../context.js';
import { shellQuote } from '../hints.js';
import { widest } from '../progress.js';

export interface ListFlags {
  user?: string | undefined;
  status?: string | undefined;
  updatedBefore?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
  all?: boolean | undefined;
}

export async function orderList(ctx: CommandContext, flags: ListFlags): Promise<void> {
  const { listing } = await ctx.services();
  await runList(ctx, 'order', listing.orders, flags);
}

/**
 * `order list` and `cart list`: one page as `{"orders":[…],"nextCursor":…}`
 * (a table and a `more:` line at a terminal), or with --all every page as
 * NDJSON, one item per line, like export.
 */
export async function runList<T extends Order | Cart>(ctx: CommandContext, kind: ListKind, service: ListService<T>, flags: ListFlags): Promise<void> {
  if (flags.all === true && flags.cursor !== undefined) throw badInput('cursor', 'cannot be combined with --all, which follows every page itself');
  const request: ListRequest = { user: flags.user, status: flags.status, updatedBefore: flags.updatedBefore, limit: flags.limit, cursor: flags.cursor };
  const plural = `${kind}s`;
  if (flags.all === true) {
    ctx.stopsGracefully();
    const progress = ctx.out.progress({ whileStdoutIsPiped: true });
    let count = 0;
    let capacity = 0;
    try {
      for await (const items of service.all(request, (page) => (capacity += page.capacityUnits))) {
        if (ctx.signal.aborted) break;
        await ctx.out.records(items);
        count += items.length;
        progress.show((columns) => widest(columns, [`listing | ${count} ${count === 1 ? kind : plural} written to stdout`, `listed ${count}`]));
        if (ctx.signal.aborted) break;
      }
    } finally {
      progress.stop();
    }
    ctx.out.debug(`list ${plural}: ${count} read, ${round(capacity)} read capacity units`);
    if (ctx.signal.aborted) throw new Interrupted(` after listing ${count} ${count === 1 ? kind : plural}`);
    return;
  }
  const page = await service.page(request);
  ctx.out.debug(`list ${plural}: ${page.items.length} read, ${round(page.capacityUnits)} read capacity units`);
  const data = kind === 'order' ? { orders: page.items, nextCursor: page.nextCursor } : { carts: page.items, nextCursor: page.nextCursor };
  await ctx.out.result(data, (render) => {
    const table = kind === 'order' ? render.orderList(page.items as Order[], flags.user === undefined ? 'updatedAt' : 'createdAt') : render.cartList(page.items as Cart[]);
    return page.nextCursor === null ? table : `${table}\n${render.more(nextCommand(ctx, kind, flags), page.nextCursor)}`;
  });
}

/** The command for the next page: the options in use, the table prefix too when one is set. */
function nextCommand(ctx: CommandContext, kind: ListKind, flags: ListFlags): string {
  const words = [
    ...(ctx.config.tablePrefix === '' ? [] : ['--table-prefix', ctx.config.tablePrefix]),
    kind,
    'list',
    ...(flags.user === undefined ? [] : ['--user', flags.user]),
    ...(flags.status === undefined ? [] : ['--status', flags.status]),
    ...(flags.updatedBefore === undefined ? [] : ['--updated-before', flags.updatedBefore]),
    ...(flags.limit === undefined ? [] : ['--limit', flags.limit]),
  ];
  return ['shopdb', ...words.map(shellQuote)].join(' ');
}

function round(units: number): number {
  return Math.round(units * 100) / 100;
}
