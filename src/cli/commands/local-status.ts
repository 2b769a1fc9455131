import { homedir } from 'node:os';
import { ShopError } from '../../core/errors.js';
import { isEngineProcess } from '../../local/engine.js';
import { checkStateDir, readState, resolveLocalPaths } from '../../local/state.js';
import type { CommandContext } from '../context.js';
import { assertOwnEngine } from './local-start.js';

export async function localStatus(ctx: CommandContext): Promise<void> {
  const paths = resolveLocalPaths(ctx.env, homedir());
  checkStateDir(paths);
  const state = readState(paths.stateDir);
  if (!state || !isEngineProcess(state.pid)) {
    await ctx.out.result({ running: false }, () => 'DynamoDB Local is not running');
    throw new ShopError('NOT_FOUND', 'DynamoDB Local is not running; start it with: shopdb local start');
  }
  assertOwnEngine(state, paths);
  await ctx.out.result({ running: true, ...state }, (render) =>
    render.done(`DynamoDB Local runs at ${state.endpoint} (pid ${state.pid}, ${state.inMemory ? 'in memory' : `data in ${state.dataDir}`}, since ${state.startedAt})`),
  );
}
