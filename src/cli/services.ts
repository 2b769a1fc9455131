import { CartService } from '../core/carts.js';
import { OrderService } from '../core/orders.js';
import { TableService, tableNames } from '../core/tables.js';
import { openDynamoStore } from '../store/index.js';
import type { Config } from './config.js';
import type { Services } from './context.js';

/** Wires the core to DynamoDB; loaded only by commands that talk to it. */
export function openServices(config: Config): { services: Services; close: () => void } {
  const names = tableNames(config.tablePrefix);
  const store = openDynamoStore(
    {
      endpoint: config.endpoint,
      region: config.region,
      staticCredentials: config.staticCredentials,
      timeoutMs: config.timeoutMs,
      location: config.location,
    },
    names,
  );
  return {
    services: {
      orders: new OrderService(store.orders),
      carts: new CartService(store.carts),
      tables: new TableService(store.tables, names),
    },
    close: store.close,
  };
}
