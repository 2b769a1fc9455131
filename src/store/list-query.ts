import { BatchGetItemCommand, QueryCommand, type AttributeValue, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { badInput, ShopError } from '../core/errors.js';
import { STATUS_SHARD_ATTRIBUTE } from '../core/indexes.js';
import { missingIndex, type IndexPage, type ListFilter, type ListStore, type Position } from '../core/listing.js';
import type { Dynamo } from './dynamo-client.js';
import { refuseProtoItem, serviceError } from './dynamo-client.js';

type Values = Record<string, AttributeValue>;

export interface ListCodec<T> {
  /** The table's key attribute: orderId, cartId. */
  key: string;
  fromAttributeValues(item: Values): T;
}

const BATCH_GET_KEYS = 100;
const MAX_RETRIES = 10;

/**
 * The Queries `list` runs (core/listing.ts decides which and in what order):
 * the low-level client, items straight from attribute values to the JSON
 * contract (as export's scan), capacity summed from ReturnConsumedCapacity.
 */
export class ListTable<T> implements ListStore<T> {
  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
    private readonly codec: ListCodec<T>,
  ) {}

  async queryUserDated(user: string, filter: ListFilter, after: Position | undefined, limit: number): Promise<IndexPage<T>> {
    const expression = new Expression();
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: 'userId-createdAt',
      KeyConditionExpression: `${expression.name('userId')} = ${expression.value(user)}`,
      ScanIndexForward: false,
      Limit: limit,
      ...(after ? { ExclusiveStartKey: { [this.codec.key]: { S: after.id }, userId: { S: user }, createdAt: { S: after.sort ?? '' } } } : {}),
    };
    const filters = statusFilters(expression, filter, false);
    const answer = await this.query(input, expression, filters);
    return {
      items: (answer.Items ?? []).map((item) => this.read(item)),
      more: answer.LastEvaluatedKey !== undefined,
      lastEvaluated: this.position(answer.LastEvaluatedKey, 'createdAt'),
      capacityUnits: answer.ConsumedCapacity?.CapacityUnits ?? 0,
    };
  }

  async queryUserUndated(user: string, filter: ListFilter, after: Position | undefined, limit: number): Promise<IndexPage<string>> {
    const expression = new Expression();
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: 'userId-keys',
      KeyConditionExpression: `${expression.name('userId')} = ${expression.value(user)}`,
      Limit: limit,
      ...(after ? { ExclusiveStartKey: { [this.codec.key]: { S: after.id }, userId: { S: user } } } : {}),
    };
    const filters = [`attribute_not_exists(${expression.name('createdAt')})`, ...statusFilters(expression, filter, true)];
    input.ProjectionExpression = expression.name(this.codec.key);
    const answer = await this.query(input, expression, filters);
    return {
      items: (answer.Items ?? []).flatMap((item) => (item[this.codec.key]?.S === undefined ? [] : [item[this.codec.key]?.S as string])),
      more: answer.LastEvaluatedKey !== undefined,
      lastEvaluated: this.position(answer.LastEvaluatedKey, undefined),
      capacityUnits: answer.ConsumedCapacity?.CapacityUnits ?? 0,
    };
  }

  async queryShard(shard: string, before: string | undefined, after: Position | undefined, limit: number): Promise<IndexPage<T>> {
    const expression = new Expression();
    const range = before === undefined ? '' : ` AND ${expression.name('updatedAt')} < ${expression.value(before)}`;
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: 'statusShard-updatedAt',
      KeyConditionExpression: `${expression.name(STATUS_SHARD_ATTRIBUTE)} = ${expression.value(shard)}${range}`,
      ScanIndexForward: false,
      Limit: limit,
      ...(after ? { ExclusiveStartKey: { [this.codec.key]: { S: after.id }, [STATUS_SHARD_ATTRIBUTE]: { S: shard }, updatedAt: { S: after.sort ?? '' } } } : {}),
    };
    const answer = await this.query(input, expression, []);
    return {
      items: (answer.Items ?? []).map((item) => this.read(item)),
      more: answer.LastEvaluatedKey !== undefined,
      lastEvaluated: this.position(answer.LastEvaluatedKey, 'updatedAt'),
      capacityUnits: answer.ConsumedCapacity?.CapacityUnits ?? 0,
    };
  }

  async getMany(ids: string[]): Promise<{ items: T[]; capacityUnits: number }> {
    const found = new Map<string, Values>();
    let capacityUnits = 0;
    for (let start = 0; start < ids.length; start += BATCH_GET_KEYS) {
      let keys: Values[] = ids.slice(start, start + BATCH_GET_KEYS).map((id) => ({ [this.codec.key]: { S: id } }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        let answer;
        try {
          answer = await this.dynamo.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys } }, ReturnConsumedCapacity: 'TOTAL' }));
        } catch (error) {
          throw serviceError(error, this.dynamo.location, this.tableName);
        }
        capacityUnits += (answer.ConsumedCapacity ?? []).reduce((sum, part) => sum + (part.CapacityUnits ?? 0), 0);
        for (const item of answer.Responses?.[this.tableName] ?? []) {
          const id = item[this.codec.key]?.S;
          if (id !== undefined) found.set(id, item);
        }
        // Throttled keys come back unprocessed: asked again with backoff, never dropped.
        keys = answer.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        if (keys.length > 0) {
          if (attempt > MAX_RETRIES) throw new ShopError('THROTTLED', `DynamoDB kept returning unprocessed keys for ${this.tableName} after ${MAX_RETRIES} retries`, { hint: { kind: 'raise-capacity' } });
          await sleep(Math.random() * Math.min(2_000, 50 * 2 ** attempt));
        }
      }
    }
    // In the order asked; an item deleted since the index was read is left out.
    return { items: ids.flatMap((id) => (found.has(id) ? [this.read(found.get(id) as Values)] : [])), capacityUnits };
  }

  /** An item as `get` reads it: one holding an attribute named `__proto__` is refused by name, as `get` refuses it, never shown without it. */
  private read(item: Values): T {
    refuseProtoItem(item, this.tableName);
    return this.codec.fromAttributeValues(item);
  }

  private async query(input: QueryCommandInput, expression: Expression, filters: string[]) {
    const command = new QueryCommand({
      ...input,
      ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
      ExpressionAttributeNames: expression.names,
      ExpressionAttributeValues: expression.values,
      ReturnConsumedCapacity: 'TOTAL',
    });
    try {
      return await this.dynamo.client.send(command);
    } catch (error) {
      const name = (error as { name?: string }).name;
      const message = (error as { message?: string }).message ?? '';
      if (name === 'ValidationException' && /specified index|index.*not.*(exist|found)/i.test(message)) {
        throw missingIndex(this.tableName, input.IndexName ?? '', error);
      }
      if (name === 'ValidationException' && input.ExclusiveStartKey && /start(ing)? key|ExclusiveStartKey/i.test(message)) {
        // core/listing.ts checks cursors; this is the service refusing one all the same.
        throw badInput('cursor', 'DynamoDB refused the position it holds; list again without it');
      }
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  private position(key: Values | undefined, sort: 'createdAt' | 'updatedAt' | undefined): Position | undefined {
    const id = key?.[this.codec.key]?.S;
    if (id === undefined) return undefined;
    const value = sort === undefined ? undefined : key?.[sort]?.S;
    return value === undefined ? { id } : { id, sort: value };
  }
}

/** The filters for --status and --updated-before; `undated`: an item never updated by shopdb counts as updated before any date. */
function statusFilters(expression: Expression, filter: ListFilter, undated: boolean): string[] {
  const filters: string[] = [];
  if (filter.status !== undefined) filters.push(`${expression.name('status')} = ${expression.value(filter.status)}`);
  if (filter.before !== undefined) {
    const updatedAt = expression.name('updatedAt');
    const below = `${updatedAt} < ${expression.value(filter.before)}`;
    filters.push(undated ? `(attribute_not_exists(${updatedAt}) OR ${below})` : below);
  }
  return filters;
}

/** Placeholders only: no user text ever becomes part of an expression. */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Values = {};
  private count = 0;

  name(attribute: string): string {
    const existing = Object.entries(this.names).find(([, value]) => value === attribute)?.[0];
    if (existing) return existing;
    const placeholder = `#n${Object.keys(this.names).length}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(text: string): string {
    const placeholder = `:v${this.count++}`;
    this.values[placeholder] = { S: text };
    return placeholder;
  }
}
