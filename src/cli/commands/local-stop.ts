import { homedir } from 'node:os';
import { isEngineProcess, stopProcess } from '../../local/engine.js';
import { checkStateDir, clearState, readState, resolveLocalPaths, withEngineLock } from '../../local/state.js';
import type { CommandContext } from '../context.js';
import { assertOwnEngine, ENGINE_LOCK } from './local-start.js';

export async function localStop(ctx: CommandContext): Promise<void> {
  const paths = resolveLocalPaths(ctx.env, homedir());
  checkStateDir(paths);
  const { stateDir } = paths;
  // Waits for a start under way, so that the engine it starts is the one stopped.
  const stopped = await withEngineLock(stateDir, ENGINE_LOCK, async () => {
    const state = readState(stateDir);
    // Only the process `local start` recorded, and only while it still is DynamoDB Local.
    if (!state || !isEngineProcess(state.pid)) {
      clearState(stateDir);
      return undefined;
    }
    // Never another home's engine, named by a copied state file.
    assertOwnEngine(state, paths);
    await stopProcess(state.pid);
    clearState(stateDir);
    return state;
  });
  if (!stopped) {
    await ctx.out.result({ result: 'not-running' }, (render) => render.done('DynamoDB Local is not running; nothing to stop'));
    return;
  }
  await ctx.out.result({ result: 'stopped', pid: stopped.pid, endpoint: stopped.endpoint }, (render) =>
    render.done(`Stopped DynamoDB Local at ${stopped.endpoint} (pid ${stopped.pid})`),
  );
}
