import type { Cart, Order } from '../core/model.js';
import { BulkTable } from './bulk-table.js';
import { CartTable } from './cart-table.js';
import { attributeValuesToCart, attributeValuesToOrder, cartToItem, orderToItem, toCart, toOrder } from './items.js';
import { connectDynamo, type DynamoSettings } from './dynamo-client.js';
import { OrderTable } from './order-table.js';
import { ListTable } from './list-query.js';
import { DynamoTableAdmin } from './table-admin.js';
import { IdempotencyTable } from './idempotency-table.js';
import type { TableNames } from '../core/tables.js';

export type { DynamoSettings } from './dynamo-client.js';
export { IdempotencyTable } from './idempotency-table.js';

/** Everything the core needs from DynamoDB, behind the core's own interfaces. */
export function openDynamoStore(settings: DynamoSettings, names: TableNames) {
  const dynamo = connectDynamo(settings);
  return {
    orders: new OrderTable(dynamo, names.orders),
    carts: new CartTable(dynamo, names.carts, names.orders),
    bulkOrders: new BulkTable<Order>(dynamo, names.orders, {
      key: 'orderId',
      idOf: (order) => order.orderId,
      toItem: orderToItem,
      fromItem: toOrder,
      fromAttributeValues: attributeValuesToOrder,
    }),
    bulkCarts: new BulkTable<Cart>(dynamo, names.carts, {
      key: 'cartId',
      idOf: (cart) => cart.cartId,
      toItem: cartToItem,
      fromItem: toCart,
      fromAttributeValues: attributeValuesToCart,
    }),
    listOrders: new ListTable<Order>(dynamo, names.orders, { key: 'orderId', fromAttributeValues: attributeValuesToOrder }),
    listCarts: new ListTable<Cart>(dynamo, names.carts, { key: 'cartId', fromAttributeValues: attributeValuesToCart }),
    tables: new DynamoTableAdmin(dynamo),
    /** Idempotency keys of `shopdb serve` (core/idempotency.ts), shared by every replica. */
    idempotency: new IdempotencyTable(dynamo, names.idempotency),
    /** Capacity consumed so far by every call, per table. */
    capacity: () => dynamo.capacity.report(),
    /** Frees the keep-alive sockets so the process can exit at once. */
    close: () => dynamo.client.destroy(),
  };
}
