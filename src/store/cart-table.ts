import { ConditionalCheckFailedException, TransactionCanceledException, TransactionInProgressException } from '@aws-sdk/client-dynamodb';
import { GetCommand, NumberValue, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CartStore, ChangeOutcome, LineChange, NewCart } from '../core/carts.js';
import type { StoredRead } from '../core/cache.js';
import { ShopError } from '../core/errors.js';
import type { Cart } from '../core/model.js';
import type { Dynamo } from './dynamo-client.js';
import { refusingProtoNames, serviceError } from './dynamo-client.js';
import { itemAfterFailedCondition } from './fallback-read.js';
import { cartToItem, lineToItem, toCart } from './items.js';

export class CartTable implements CartStore {
  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
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


  async addToLine(change: LineChange): Promise<ChangeOutcome> {
    const update = change.lineIndex === undefined ? appendLine(change) : raiseLine(change, change.lineIndex);
    // A transaction with a request token, rather than a plain UpdateItem, because
    // the SDK resends a write whose answer was lost, and ADD is not idempotent:
    // DynamoDB applies a token at most once (for ten minutes). Every resend of
    // this one change, by the SDK or below, carries the same token.
    const command = new TransactWriteCommand({
      ClientRequestToken: randomUUID(),
      TransactItems: [
        { Update: { TableName: this.tableName, Key: { cartId: change.cartId }, ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
      ],
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.dynamo.documents.send(command);
        return { applied: true };
      } catch (error) {
        // A resend that overtook the first attempt: wait for that one to finish, then ask again with the same token.
        if (error instanceof TransactionInProgressException && attempt < IN_PROGRESS_ATTEMPTS) {
          await sleep(IN_PROGRESS_BACKOFF_MS * attempt);
          continue;
        }
        if (error instanceof TransactionCanceledException) {
          const [reason] = error.CancellationReasons ?? [];
          if (reason?.Code === 'ValidationError' && /size/i.test(reason.Message ?? '')) {
            throw new ShopError('CONFLICT', `cart ${change.cartId} is full: adding ${change.line.productId} would take it past DynamoDB's 400 KB item limit; the cart was left as it was`, { cause: error });
          }
          if (reason?.Code === 'ConditionalCheckFailed') {
            const current = await itemAfterFailedCondition(this.dynamo, this.tableName, { cartId: change.cartId }, reason.Item);
            return { applied: false, current: current ? toCart(current) : undefined };
          }
          // Cancelled means not applied, so the caller may retry the change under a new token.
          if (reason?.Code === 'TransactionConflict') {
            return { applied: false, current: (await this.get(change.cartId, true)).item };
          }
        }
        throw serviceError(numberLimit(error, change) ?? error, this.dynamo.location, this.tableName);
      }
    }
  }
}

/** DynamoDB numbers hold 38 significant digits: a sum past that is the cart's limit, not bad input. */
function numberLimit(error: unknown, change: LineChange): ShopError | undefined {
  if (!(error instanceof Error) || error.name !== 'ValidationException' || !/38 digits|significant digits|number overflow|magnitude/i.test(error.message)) return undefined;
  const attribute = change.lineIndex === undefined ? 'totalAmount or version' : `totalAmount, products[${change.lineIndex}].quantity or version`;
  return new ShopError(
    'CONFLICT',
    `cart ${change.cartId} cannot take ${change.line.quantity} × ${change.line.productId}: ${attribute} would pass the 38 significant digits a DynamoDB number holds; the cart was left as it was`,
    { cause: error },
  );
}

const IN_PROGRESS_ATTEMPTS = 5;
const IN_PROGRESS_BACKOFF_MS = 200;

type Update = {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeValues: Record<string, unknown>;
};

const COMMON_SET = 'totalAmount = if_not_exists(totalAmount, :zero) + :amount, updatedAt = :at';

/**
 * The arithmetic needs numbers where it adds: a total or version of another
 * type written since the read fails the condition (and the re-read explains
 * it) instead of failing with DynamoDB's "incorrect data type".
 */
function commonCondition(change: LineChange): string {
  const total = change.hasTotal ? 'attribute_type(totalAmount, :numberType)' : 'attribute_not_exists(totalAmount)';
  return `${total} AND (attribute_not_exists(version) OR attribute_type(version, :numberType))`;
}

function commonValues(change: LineChange): Record<string, unknown> {
  return { ':zero': 0, ':amount': NumberValue.from(change.amount), ':at': change.at, ':one': 1, ':numberType': 'N' };
}

function appendLine(change: LineChange): Update {
  // Lines are never removed, so an unchanged count proves the product is still absent.
  const list = 'attribute_type(products, :listType) AND size(products) = :count';
  const unchanged = change.lineCount === 0 ? `(attribute_not_exists(products) OR (${list}))` : `(${list})`;
  return {
    UpdateExpression: `SET products = list_append(if_not_exists(products, :empty), :line), ${COMMON_SET} ADD version :one`,
    ConditionExpression: `attribute_exists(cartId) AND ${unchanged} AND ${commonCondition(change)}`,
    ExpressionAttributeValues: {
      ...commonValues(change),
      ':listType': 'L',
      ':empty': [],
      ':count': change.lineCount,
      ':line': [lineToItem(change.line)],
    },
  };
}

function raiseLine(change: LineChange, index: number): Update {
  const line = `products[${index}]`;
  return {
    UpdateExpression: `SET ${line}.quantity = ${line}.quantity + :quantity, ${COMMON_SET} ADD version :one`,
    ConditionExpression: `${line}.productId = :productId AND ${line}.unitPrice = :unitPrice AND attribute_type(${line}.quantity, :numberType) AND ${commonCondition(change)}`,
    ExpressionAttributeValues: {
      ...commonValues(change),
      ':quantity': NumberValue.from(String(change.line.quantity)),
      ':productId': change.line.productId,
      ':unitPrice': NumberValue.from(String(change.line.unitPrice)),
    },
  };
}
