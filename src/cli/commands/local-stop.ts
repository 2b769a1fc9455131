import { homedir } from 'node:os';
import { isEngineProcess, stopProcess } from '../../local/engine.js';
import { clearState, readState, resolveLocalPaths } from '../../local/state.js';
import type { CommandContext } from '../context.js';

export async function localStop(ctx: CommandContext): Promise<void> {
  const { stateDir } = resolveLocalPaths(ctx.env, homedir());
  const state = readState(stateDir);
  // Only the process `local start` recorded, and only while it still is DynamoDB Local.
  if (!state || !isEngineProcess(state.pid)) {
    clearState(stateDir);
    await ctx.out.result({ result: 'not-running' }, (render) => render.done('DynamoDB Local is not running; nothing to stop'));
    return;
  }
  await stopProcess(state.pid);
  clearState(stateDir);
  await ctx.out.result({ result: 'stopped', pid: state.pid, endpoint: state.endpoint }, (render) =>
    render.done(`Stopped DynamoDB Local at ${state.endpoint} (pid ${state.pid})`),
  );
}
