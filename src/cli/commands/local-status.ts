import { homedir } from 'node:os';
import { ShopError } from '../../core/errors.js';
import { isEngineProcess } from '../../local/engine.js';
import { readState, resolveLocalPaths } from '../../local/state.js';
import type { CommandContext } from '../context.js';

export async function localStatus(ctx: CommandContext): Promise<void> {
  const { stateDir } = resolveLocalPaths(ctx.env, homedir());
  const state = readState(stateDir);
  if (!state || !isEngineProcess(state.pid)) {
    await ctx.out.result({ running: false }, () => 'DynamoDB Local is not running');
    throw new ShopError('NOT_FOUND', 'DynamoDB Local is not running; start it with: shopdb local start');
  }
  await ctx.out.result({ running: true, ...state }, (render) =>
    render.done(`DynamoDB Local runs at ${state.endpoint} (pid ${state.pid}, ${state.inMemory ? 'in memory' : `data in ${state.dataDir}`}, since ${state.startedAt})`),
  );
}
