import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, NumberValue, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MoveOutcome, NewOrder, OrderRemoval, OrderStore, StatusMove } from '../core/orders.js';
import { transactOnce, versionCondition } from './transact.js';
import type { StoredRead } from '../core/cache.js';
import type { Order } from '../core/model.js';
import { ShopError } from '../core/errors.js';
import { STATUS_SHARD_ATTRIBUTE, statusShard } from '../core/indexes.js';
import type { Dynamo } from './dynamo-client.js';
import { keepingRawAnswer, refusingProtoNames, serviceError } from './dynamo-client.js';
import { FALLBACK_ATTEMPTS, itemAfterFailedCondition, moveWouldApply } from './fallback-read.js';
import { attributeValuesToOrder, orderToItem, toOrder } from './items.js';

export class OrderTable implements OrderStore {
  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
  ) {}

  async insert(order: NewOrder): Promise<{ inserted: true; order: Order } | { inserted: false; existing: Order }> {
    const { orderId, userId, totalAmount, createdAt } = order;
    // Fields in contract order: this object is what `order create --json` prints.
    const created: Order = { orderId, userId, totalAmount, status: 'PENDING', createdAt, updatedAt: createdAt, version: 1, cartId: null, products: null };
    try {
      await this.dynamo.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: orderToItem(created),
          ConditionExpression: 'attribute_not_exists(orderId)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { inserted: true, order: created };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = await itemAfterFailedCondition(this.dynamo, this.tableName, { orderId }, error.Item);
        if (existing) return { inserted: false, existing: toOrder(existing) };
      }
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  async get(orderId: string, consistent: boolean): Promise<StoredRead<Order>> {
    try {
      const { Item, ConsumedCapacity } = await this.dynamo.documents.send(
        refusingProtoNames(new GetCommand({ TableName: this.tableName, Key: { orderId }, ConsistentRead: consistent, ReturnConsumedCapacity: 'TOTAL' }), this.tableName),
      );
      return { item: Item ? toOrder(Item) : undefined, capacityUnits: ConsumedCapacity?.CapacityUnits };
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }


  async moveStatus(move: StatusMove, attempt = 1): Promise<MoveOutcome> {
    // Placeholders only: no user text ever becomes part of an expression.
    const sources = move.from === 'any' ? [] : move.from;
    const sourceNames = sources.map((_, i) => `:from${i}`);
    const condition = [
      'attribute_exists(orderId)',
      '#status <> :to',
      // ADD needs a number: a version of another type fails here, and the service names it, rather than DynamoDB's "incorrect data type".
      // A version of 0 or below is refused too (as add-product refuses it); a fractional one (1.5) passes: no condition can tell.
      '(attribute_not_exists(version) OR (attribute_type(version, :numberType) AND version >= :one))',
      // The SDK drops a top-level attribute named __proto__ from answers: such an order is refused before any change.
      'attribute_not_exists(#proto)',
      ...(sources.length > 0 ? [`#status IN (${sourceNames.join(', ')})`] : []),
      ...(move.version !== undefined ? ['version = :ifVersion'] : []),
    ].join(' AND ');
    const raw: { output?: Record<string, unknown> } = {};
    try {
      const { Attributes } = await this.dynamo.documents.send(
        keepingRawAnswer(new UpdateCommand({
          TableName: this.tableName,
          Key: { orderId: move.orderId },
          // The status index's key moves with the status (core/indexes.ts).
          UpdateExpression: 'SET #status = :to, #shard = :shard, updatedAt = :at ADD version :one',
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#status': 'status', '#shard': STATUS_SHARD_ATTRIBUTE, '#proto': '__proto__' },
          ExpressionAttributeValues: {
            ':to': move.to,
            ':shard': statusShard(move.orderId, move.to),
            ':at': move.at,
            ':one': 1,
            ':numberType': 'N',
            ...Object.fromEntries(sources.map((status, i) => [`:from${i}`, status])),
            ...(move.version !== undefined ? { ':ifVersion': NumberValue.from(String(move.version)) } : {}),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }), raw),
      );
      // Committed: the order as DynamoDB sent it, read with shopdb's own mapping (a nested __proto__ is kept in extra).
      const sent = raw.output?.Attributes as Record<string, AttributeValue> | undefined;
      return { applied: true, order: sent ? attributeValuesToOrder(sent) : toOrder(Attributes ?? {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const found = await itemAfterFailedCondition(this.dynamo, this.tableName, { orderId: move.orderId }, error.Item);
        const current = found ? toOrder(found) : undefined;
        if (!error.Item && current && moveWouldApply(current, move) && attempt < FALLBACK_ATTEMPTS) return this.moveStatus(move, attempt + 1);
        return { applied: false, current };
      }
      throw serviceError(versionLimit(error, move.orderId) ?? error, this.dynamo.location, this.tableName);
    }
  }

  async remove(removal: OrderRemoval): Promise<{ applied: true } | { applied: false; current: Order | undefined }> {
    const statuses = removal.statuses === 'any' ? [] : removal.statuses;
    const condition = [
      'attribute_exists(orderId)',
      versionCondition(removal.version),
      ...(statuses.length > 0 ? [`#status IN (${statuses.map((_, i) => `:status${i}`).join(', ')})`] : []),
    ].join(' AND ');
    const values: Record<string, unknown> = Object.fromEntries(statuses.map((status, i) => [`:status${i}`, status]));
    if (removal.version !== null) values[':version'] = NumberValue.from(String(removal.version));
    try {
      const [reason] = await transactOnce(this.dynamo, [
        {
          Delete: {
            TableName: this.tableName,
            Key: { orderId: removal.orderId },
            ConditionExpression: condition,
            ...(statuses.length > 0 ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ]);
      if (reason === undefined) return { applied: true };
      if (reason.Code === 'ConditionalCheckFailed') {
        const found = await itemAfterFailedCondition(this.dynamo, this.tableName, { orderId: removal.orderId }, reason.Item);
        return { applied: false, current: found ? toOrder(found) : undefined };
      }
      return { applied: false, current: (await this.get(removal.orderId, true)).item };
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }
}

/** DynamoDB numbers hold 38 significant digits: a version already at that edge cannot move on. */
function versionLimit(error: unknown, orderId: string): ShopError | undefined {
  if (!(error instanceof Error) || error.name !== 'ValidationException' || !/38 digits|significant digits|number overflow|magnitude/i.test(error.message)) return undefined;
  return new ShopError('CONFLICT', `order ${orderId} cannot change: its version would pass the 38 significant digits a DynamoDB number holds; nothing was changed`, { cause: error });
}
