import { ConditionalCheckFailedException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { GetCommand, NumberValue, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CartEdit, CartRemoval, CartStore, ChangeOutcome, CheckoutOutcome, CheckoutWrite, NewCart, RemovalOutcome } from '../core/carts.js';
import type { StoredRead } from '../core/cache.js';
import { ShopError } from '../core/errors.js';
import type { Cart } from '../core/model.js';
import type { Dynamo } from './dynamo-client.js';
import { refusingProtoNames, serviceError } from './dynamo-client.js';
import { itemAfterFailedCondition } from './fallback-read.js';
import { transactOnce, versionCondition, type TransactItem } from './transact.js';
import { cartToItem, lineToItem, orderToItem, toCart } from './items.js';

export class CartTable implements CartStore {
  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
    /** Checkout creates orders, and deleting a checked-out cart checks its order. */
    private readonly ordersTable: string,
  ) {}

  async insert(cart: NewCart): Promise<{ inserted: true; cart: Cart } | { inserted: false; existing: Cart }> {
    const { cartId, userId, createdAt } = cart;
    // Fields in contract order: this object is what `cart create --json` prints.
    const created: Cart = { cartId, userId, products: [], totalAmount: '0.00', createdAt, updatedAt: createdAt, version: 1, status: null, orderId: null };
    try {
      await this.dynamo.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: cartToItem(created),
          ConditionExpression: 'attribute_not_exists(cartId)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { inserted: true, cart: created };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = await itemAfterFailedCondition(this.dynamo, this.tableName, { cartId }, error.Item);
        if (existing) return { inserted: false, existing: toCart(existing) };
      }
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  async get(cartId: string, consistent: boolean): Promise<StoredRead<Cart>> {
    try {
      const { Item, ConsumedCapacity } = await this.dynamo.documents.send(
        refusingProtoNames(new GetCommand({ TableName: this.tableName, Key: { cartId }, ConsistentRead: consistent, ReturnConsumedCapacity: 'TOTAL' }), this.tableName),
      );
      return { item: Item ? toCart(Item) : undefined, capacityUnits: ConsumedCapacity?.CapacityUnits };
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }


  async edit(edit: CartEdit): Promise<ChangeOutcome> {
    const update = editUpdate(edit);
    const item = { Update: { TableName: this.tableName, Key: { cartId: edit.cartId }, ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } };
    try {
      const [reason] = await this.transact([item]);
      if (reason === undefined) return { applied: true };
      if (reason.Code === 'ValidationError') {
        if (/size/i.test(reason.Message ?? '')) {
          const what = edit.edit.op === 'append' ? `adding ${edit.edit.line.productId}` : `changing ${edit.edit.productId}`;
          throw new ShopError('CONFLICT', `cart ${edit.cartId} is full: ${what} would take it past DynamoDB's 400 KB item limit; the cart was left as it was`);
        }
        throw numberLimit(Object.assign(new Error(reason.Message ?? ''), { name: 'ValidationException' }), edit) ??
          new ShopError('CONFLICT', `cart ${edit.cartId}: DynamoDB refused the change (${reason.Message ?? 'a validation error'}); the cart was left as it was`);
      }
      if (reason.Code === 'ConditionalCheckFailed') {
        const current = await itemAfterFailedCondition(this.dynamo, this.tableName, { cartId: edit.cartId }, reason.Item);
        return { applied: false, current: current ? toCart(current) : undefined };
      }
      // Cancelled by a conflicting transaction: not applied, so the change may be planned again.
      return { applied: false, current: (await this.get(edit.cartId, true)).item, contended: true };
    } catch (error) {
      throw serviceError(numberLimit(error, edit) ?? error, this.dynamo.location, this.tableName);
    }
  }

  async remove(removal: CartRemoval): Promise<RemovalOutcome> {
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: this.tableName,
          Key: { cartId: removal.cartId },
          ConditionExpression: `attribute_exists(cartId) AND ${versionCondition(removal.version)}`,
          ...(removal.version === null ? {} : { ExpressionAttributeValues: { ':version': NumberValue.from(String(removal.version)) } }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ];
    if (removal.order) {
      const finals = removal.order.finalStatuses.map((_, i) => `:final${i}`);
      items.push({
        ConditionCheck: {
          TableName: this.ordersTable,
          Key: { orderId: removal.order.orderId },
          ConditionExpression: `attribute_not_exists(orderId) OR #status IN (${finals.join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: Object.fromEntries(removal.order.finalStatuses.map((status, i) => [`:final${i}`, status])),
        },
      });
    }
    try {
      const reasons = await this.transact(items);
      if (reasons.length === 0) return { applied: true };
      const [cart, order] = reasons;
      if (cart?.Code === 'ConditionalCheckFailed') {
        const current = await itemAfterFailedCondition(this.dynamo, this.tableName, { cartId: removal.cartId }, cart.Item);
        return { applied: false, current: current ? toCart(current) : undefined, orderNotFinal: false };
      }
      if (order?.Code === 'ConditionalCheckFailed') return { applied: false, current: undefined, orderNotFinal: true };
      // Cancelled by a conflicting transaction: not applied; the caller reads again.
      return { applied: false, current: (await this.get(removal.cartId, true)).item, orderNotFinal: false };
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  async checkout(write: CheckoutWrite): Promise<CheckoutOutcome> {
    const { cart, order, at } = write;
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.ordersTable,
          Item: orderToItem(order),
          ConditionExpression: 'attribute_not_exists(orderId)',
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: { cartId: cart.cartId },
          UpdateExpression: 'SET #status = :checkedOut, orderId = :orderId, updatedAt = :at ADD version :one',
          ConditionExpression: `attribute_exists(cartId) AND ${versionCondition(cart.version)} AND ${OPEN} AND attribute_not_exists(orderId)`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':checkedOut': 'CHECKED_OUT',
            ':nullType': 'NULL',
            ':orderId': order.orderId,
            ':at': at,
            ':one': 1,
            ...(cart.version === null ? {} : { ':version': NumberValue.from(String(cart.version)) }),
          },
        },
      },
    ];
    try {
      const reasons = await this.transact(items);
      if (reasons.length === 0) return { applied: true };
      const [put, update] = reasons;
      if (put?.Code === 'ValidationError' || update?.Code === 'ValidationError') {
        const message = put?.Message ?? update?.Message ?? '';
        if (/size/i.test(message)) {
          throw new ShopError('CONFLICT', `cart ${cart.cartId} is too large to become one order: the order would pass DynamoDB's 400 KB item limit; nothing was changed`);
        }
        throw new ShopError('CONFLICT', `cart ${cart.cartId} could not be checked out: DynamoDB refused it (${message || 'a validation error'}); nothing was changed`);
      }
      return {
        applied: false,
        orderExists: put?.Code === 'ConditionalCheckFailed',
        cartChanged: update?.Code === 'ConditionalCheckFailed' || update?.Code === 'TransactionConflict' || put?.Code === 'TransactionConflict',
      };
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  private transact(items: TransactItem[]): Promise<CancellationReason[]> {
    return transactOnce(this.dynamo, items);
  }
}

/** Not checked out. */
/** Open as read: the service refuses carts holding any status (CHECKED_OUT or another program's), so none may appear since. */
const OPEN = '(attribute_not_exists(#status) OR attribute_type(#status, :nullType))';

/** DynamoDB numbers hold 38 significant digits: a sum past that is the cart's limit, not bad input. */
function numberLimit(error: unknown, edit: CartEdit): ShopError | undefined {
  if (!(error instanceof Error) || error.name !== 'ValidationException' || !/38 digits|significant digits|number overflow|magnitude/i.test(error.message)) return undefined;
  return new ShopError('CONFLICT', `cart ${edit.cartId}: the change would take totalAmount, a quantity or version past the 38 significant digits a DynamoDB number holds; the cart was left as it was`, { cause: error });
}

type Update = {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
};

/**
 * The cart must be as it was read: the version first (every shopdb write
 * raises it); for writers that do not (other programs), also the line touched,
 * the total and not checked out. Then the new total (computed exactly from the
 * lines read) replaces the old one.
 */
function editUpdate(change: CartEdit): Update {
  const values: Record<string, unknown> = {
    ':total': NumberValue.from(change.totalAfter),
    ':at': change.at,
    ':one': 1,
    ':nullType': 'NULL',
  };
  const conditions = ['attribute_exists(cartId)', versionCondition(change.version), OPEN];
  if (change.version !== null) values[':version'] = NumberValue.from(String(change.version));
  if (change.totalBefore === null) conditions.push('attribute_not_exists(totalAmount)');
  else {
    conditions.push('totalAmount = :before');
    values[':before'] = NumberValue.from(change.totalBefore);
  }
  const common = 'totalAmount = :total, updatedAt = :at';
  const { edit } = change;
  let expression: string;
  if (edit.op === 'append') {
    const list = 'attribute_type(products, :listType) AND size(products) = :count';
    conditions.push(edit.count === 0 ? `(attribute_not_exists(products) OR (${list}))` : `(${list})`);
    Object.assign(values, { ':listType': 'L', ':empty': [], ':count': edit.count, ':line': [lineToItem(edit.line)] });
    expression = `SET products = list_append(if_not_exists(products, :empty), :line), ${common} ADD version :one`;
  } else {
    const line = `products[${edit.index}]`;
    conditions.push(`${line}.productId = :productId`);
    values[':productId'] = edit.productId;
    if (edit.op === 'set') {
      values[':quantity'] = NumberValue.from(String(edit.quantity));
      expression = `SET ${line}.quantity = :quantity, ${common} ADD version :one`;
    } else {
      expression = `REMOVE ${line} SET ${common} ADD version :one`;
    }
  }
  return {
    UpdateExpression: expression,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: values,
  };
}
