import type { Readable } from 'node:stream';
import type { CartService } from '../core/carts.js';
import type { OrderService } from '../core/orders.js';
import type { TableService } from '../core/tables.js';
import type { Config, Env } from './config.js';
import type { Output } from './output.js';

export interface Services {
  orders: OrderService;
  carts: CartService;
  tables: TableService;
}

/** What every command receives: resolved settings, where to print, and services built on first use. */
export interface CommandContext {
  config: Config;
  out: Output;
  env: Env;
  /** Standard input, for `import -`. */
  stdin: Readable;
  services(): Promise<Services>;
}
