import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  LimitExceededException,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type GlobalSecondaryIndex,
  type Projection,
  type StreamViewType,
  type TableDescription as AwsTableDescription,
} from '@aws-sdk/client-dynamodb';
import { indexKeyAttributes, STATUS_SHARD_ATTRIBUTE, type IndexDefinition } from '../core/indexes.js';
import type { Billing, IndexDescription, StreamDescription, TableAdmin, TableDescription, TimeToLiveDescription } from '../core/tables.js';
import type { Dynamo } from './dynamo-client.js';
import { serviceError } from './dynamo-client.js';

/** Conditional writes of the status index key in flight at once, while tables create fills it in. */
const BACKFILL_CONCURRENCY = 16;

export class DynamoTableAdmin implements TableAdmin {
  constructor(private readonly dynamo: Dynamo) {}

  async backfillStatusShards(name: string, shardOf: (orderId: string, status: string, updatedAt: string) => string | undefined): Promise<{ written: number; refused: string[] }> {
    const refused: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    let written = 0;
    try {
      do {
        const page = await this.dynamo.client.send(
          new ScanCommand({
            TableName: name,
            FilterExpression: 'attribute_not_exists(#shard) AND attribute_type(updatedAt, :string) AND attribute_type(#status, :string)',
            ProjectionExpression: 'orderId, #status, updatedAt',
            ExpressionAttributeNames: { '#shard': STATUS_SHARD_ATTRIBUTE, '#status': 'status' },
            ExpressionAttributeValues: { ':string': { S: 'S' } },
            ExclusiveStartKey: startKey,
          }),
        );
        const pending = (page.Items ?? []).flatMap((item) => {
          const orderId = item.orderId?.S;
          const status = item.status?.S;
          const updatedAt = item.updatedAt?.S;
          const shard = orderId === undefined || status === undefined || updatedAt === undefined ? undefined : shardOf(orderId, status, updatedAt);
          return orderId === undefined || status === undefined || shard === undefined ? [] : [{ orderId, status, shard }];
        });
        for (let at = 0; at < pending.length; at += BACKFILL_CONCURRENCY) {
          const done = await Promise.all(pending.slice(at, at + BACKFILL_CONCURRENCY).map((order) => this.writeShard(name, order)));
          written += done.filter((outcome) => outcome === 'written').length;
          pending.slice(at, at + BACKFILL_CONCURRENCY).forEach((order, index) => done[index] === 'refused' && refused.push(order.orderId));
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      throw serviceError(error, this.dynamo.location, name);
    }
    return { written, refused };
  }

  /** Only while the status is still the one read, and no key was written meanwhile; nothing else of the item changes. */
  private async writeShard(name: string, order: { orderId: string; status: string; shard: string }): Promise<'written' | 'changed' | 'refused'> {
    try {
      await this.dynamo.client.send(
        new UpdateItemCommand({
          TableName: name,
          Key: { orderId: { S: order.orderId } },
          UpdateExpression: 'SET #shard = :shard',
          ConditionExpression: '#status = :status AND attribute_not_exists(#shard)',
          ExpressionAttributeNames: { '#shard': STATUS_SHARD_ATTRIBUTE, '#status': 'status' },
          ExpressionAttributeValues: { ':shard': { S: order.shard }, ':status': { S: order.status } },
        }),
      );
      return 'written';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'changed';
      // Another index key of the item is not a string (a numeric userId): DynamoDB refuses any write to it; it stays out of the indexes.
      if (error instanceof Error && error.name === 'ValidationException' && /Type mismatch for Index Key/i.test(error.message)) return 'refused';
      throw error;
    }
  }

  async describe(name: string): Promise<TableDescription | undefined> {
    try {
      const { Table } = await this.dynamo.client.send(new DescribeTableCommand({ TableName: name }));
      return Table ? toDescription(name, Table) : undefined;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw serviceError(error, this.dynamo.location);
    }
  }

  async timeToLive(name: string): Promise<TimeToLiveDescription> {
    try {
      const { TimeToLiveDescription: described } = await this.dynamo.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
      return { status: described?.TimeToLiveStatus ?? 'DISABLED', attribute: described?.AttributeName ?? null };
    } catch (error) {
      if (isUnknownOperation(error)) return { status: 'UNSUPPORTED', attribute: null };
      throw serviceError(error, this.dynamo.location, name);
    }
  }

  async enableTimeToLive(name: string, attribute: string): Promise<'started' | 'unsupported' | 'refused'> {
    try {
      await this.dynamo.client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } }));
      return 'started';
    } catch (error) {
      // dynalite answers DescribeTimeToLive (always DISABLED) but has no UpdateTimeToLive.
      if (isUnknownOperation(error)) return 'unsupported';
      // Already on (another client just turned it on), on another attribute, or being changed: the caller describes it again.
      if (error instanceof Error && error.name === 'ValidationException' && /time ?to ?live/i.test(error.message)) return 'refused';
      throw serviceError(error, this.dynamo.location, name);
    }
  }

  async create(name: string, hashKey: string, billing: Billing, indexes: readonly IndexDefinition[], streamViewType?: string): Promise<boolean> {
    const throughput = billing.mode === 'on-demand' ? null : { readCapacity: billing.readCapacity, writeCapacity: billing.writeCapacity };
    try {
      await this.dynamo.client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
          AttributeDefinitions: [hashKey, ...indexKeyAttributes(indexes)].map((attribute) => ({ AttributeName: attribute, AttributeType: 'S' })),
          ...(indexes.length === 0 ? {} : { GlobalSecondaryIndexes: indexes.map((index) => toIndex(index, throughput)) }),
          ...(streamViewType === undefined ? {} : { StreamSpecification: { StreamEnabled: true, StreamViewType: streamViewType as StreamViewType } }),
          ...(throughput === null
            ? { BillingMode: 'PAY_PER_REQUEST' }
            : {
                BillingMode: 'PROVISIONED',
                ProvisionedThroughput: { ReadCapacityUnits: throughput.readCapacity, WriteCapacityUnits: throughput.writeCapacity },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ResourceInUseException) return false;
      throw serviceError(error, this.dynamo.location);
    }
  }

  async addIndex(name: string, index: IndexDefinition, throughput: TableDescription['throughput']): Promise<'started' | 'busy'> {
    try {
      await this.dynamo.client.send(
        new UpdateTableCommand({
          TableName: name,
          AttributeDefinitions: indexKeyAttributes([index]).map((attribute) => ({ AttributeName: attribute, AttributeType: 'S' })),
          GlobalSecondaryIndexUpdates: [{ Create: toIndex(index, throughput) }],
        }),
      );
      return 'started';
    } catch (error) {
      // Another index is being added (ResourceInUse), or the one-at-a-time limit (LimitExceeded): wait and try again.
      if (error instanceof ResourceInUseException || error instanceof LimitExceededException) return 'busy';
      throw serviceError(error, this.dynamo.location, name);
    }
  }

  async enableStream(name: string, viewType: string): Promise<'started' | 'busy' | 'unsupported' | 'refused'> {
    try {
      await this.dynamo.client.send(new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: viewType as StreamViewType } }));
      return 'started';
    } catch (error) {
      // Being updated (an index being added, or another change): wait and try again.
      if (error instanceof ResourceInUseException || error instanceof LimitExceededException) return 'busy';
      if (isUnknownOperation(error)) return 'unsupported';
      if (error instanceof Error && error.name === 'ValidationException') {
        // Another client enabled one meanwhile: DynamoDB (and DynamoDB Local) say "Table already has an enabled stream".
        if (/already has an enabled stream/i.test(error.message)) return 'refused';
        // dynalite 4 knows no StreamSpecification in UpdateTable: "At least one of ProvisionedThroughput, BillingMode,
        // UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required".
        if (/at least one of .* is required/i.test(error.message)) return 'unsupported';
      }
      throw serviceError(error, this.dynamo.location, name);
    }
  }

  async delete(name: string): Promise<'deleted' | 'absent' | 'busy'> {
    try {
      await this.dynamo.client.send(new DeleteTableCommand({ TableName: name }));
      return 'deleted';
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return 'absent';
      // CREATING or UPDATING (or already DELETING): the service tells by this exception only.
      if (error instanceof ResourceInUseException) return 'busy';
      throw serviceError(error, this.dynamo.location);
    }
  }
}

function isUnknownOperation(error: unknown): boolean {
  return error instanceof Error && error.name === 'UnknownOperationException';
}

function toDescription(name: string, table: AwsTableDescription): TableDescription {
  const types = new Map((table.AttributeDefinitions ?? []).map((definition) => [definition.AttributeName, definition.AttributeType]));
  return {
    name,
    status: table.TableStatus ?? 'UNKNOWN',
    keys: (table.KeySchema ?? []).map((key) => [key.AttributeName ?? '', types.get(key.AttributeName) ?? '?', key.KeyType ?? '?']),
    billing: table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'on-demand' : 'provisioned',
    itemCount: table.ItemCount ?? null,
    throughput:
      table.ProvisionedThroughput?.ReadCapacityUnits && table.ProvisionedThroughput.WriteCapacityUnits
        ? { readCapacity: table.ProvisionedThroughput.ReadCapacityUnits, writeCapacity: table.ProvisionedThroughput.WriteCapacityUnits }
        : null,
    attributeTypes: Object.fromEntries([...types].flatMap(([attribute, type]) => (attribute === undefined || type === undefined ? [] : [[attribute, String(type)]]))),
    indexes: (table.GlobalSecondaryIndexes ?? []).map(
      (index): IndexDescription => ({
        name: index.IndexName ?? '',
        hashKey: index.KeySchema?.find((key) => key.KeyType === 'HASH')?.AttributeName,
        rangeKey: index.KeySchema?.find((key) => key.KeyType === 'RANGE')?.AttributeName,
        projection: projectionOf(index.Projection),
        status: index.IndexStatus ?? 'UNKNOWN',
        backfilling: index.Backfilling === true,
      }),
    ),
    stream: streamOf(table),
  };
}

/**
 * The stream as DescribeTable tells it: a stream turned off drops its
 * StreamSpecification (or shows it with StreamEnabled false) but keeps its
 * LatestStreamArn.
 */
function streamOf(table: AwsTableDescription): StreamDescription {
  const enabled = table.StreamSpecification?.StreamEnabled === true;
  return { enabled, viewType: enabled ? (table.StreamSpecification?.StreamViewType ?? null) : null, latestArn: table.LatestStreamArn ?? null };
}

function projectionOf(projection: Projection | undefined): IndexDescription['projection'] {
  if (projection?.ProjectionType === 'INCLUDE') return [...(projection.NonKeyAttributes ?? [])];
  return projection?.ProjectionType === 'ALL' ? 'ALL' : 'KEYS_ONLY';
}

function toIndex(index: IndexDefinition, throughput: TableDescription['throughput']): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [{ AttributeName: index.hashKey, KeyType: 'HASH' }, ...(index.rangeKey === undefined ? [] : [{ AttributeName: index.rangeKey, KeyType: 'RANGE' as const }])],
    Projection: index.projection === 'ALL' ? { ProjectionType: 'ALL' } : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
    // Provisioned billing: each index gets the table's capacity (an index with less would throttle the table's writes).
    ...(throughput === null ? {} : { ProvisionedThroughput: { ReadCapacityUnits: throughput.readCapacity, WriteCapacityUnits: throughput.writeCapacity } }),
  };
}
