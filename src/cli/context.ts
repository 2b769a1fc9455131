import type { Readable } from 'node:stream';
import type { Shop } from '../app/shop.js';
import type { Config, Env } from './config.js';
import type { Output } from './output.js';

/** The services a command uses: the shared wiring's shop, without its lifecycle. */
export type Services = Omit<Shop, 'close'>;

/** What every command receives: resolved settings, where to print, and services built on first use. */
export interface CommandContext {
  config: Config;
  out: Output;
  env: Env;
  /** Standard input, for `import -`. */
  stdin: Readable;
  services(): Promise<Services>;
}
