import { ShopError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';

/**
 * `cache flush --yes`: removes shopdb's cache keys of the configured scope
 * (DynamoDB endpoint + region) and tables, and nothing else. Unlike reads and
 * writes, which go on without a cache, this command fails when Redis cannot be
 * reached: the cache is all it is about.
 */
export async function cacheFlush(ctx: CommandContext, options: { yes: boolean }): Promise<void> {
  if (!options.yes) {
    throw new ShopError('BAD_INPUT', "refusing without --yes (it removes these tables' cached items)");
  }
  const { cache } = await ctx.services();
  // A cache URL is always configured here (program.ts); only an unknown region leaves no scope to flush.
  if (cache === undefined) throw new ShopError('BAD_INPUT', 'region: no AWS region is configured, so the cache scope is not known', { hint: { kind: 'set-region' } });
  const report = await cache.flush();
  await ctx.out.result({ result: 'flushed', keys: report.keys, scope: report.scope, tables: report.tables }, (render) =>
    render.done(
      `Flushed ${report.keys} cache key${report.keys === 1 ? '' : 's'} of ${report.tables.join(' and ')} (scope ${report.scope}) from Redis at ${report.location}`,
    ),
  );
}
