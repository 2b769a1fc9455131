import { CreateTableCommand, DescribeTableCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as RawRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { DeleteCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { noStream, SHARD_END, TRIM_HORIZON, type LeaseStore, type ShardLease, type StreamPage, type StreamReader, type StreamRecord, type StreamShard, type TableStream } from '../core/follower.js';
import { ShopError } from '../core/errors.js';
import { clientOptions, connectDynamo, refuseProtoItem, serviceError, type Dynamo, type DynamoSettings } from './dynamo-client.js';
import { attributeValuesToCart, attributeValuesToOrder } from './items.js';

/*
 * What the cache follower (core/follower.ts) reads and keeps in DynamoDB:
 * the tables' streams (DynamoDB Streams, a client of its own on the same
 * endpoint, region and credentials) and the lease table.
 */

export interface FollowedTableNames {
  /** Table name → its key attribute and how an image becomes an item of the contract. */
  tables: Record<string, { key: string; kind: 'order' | 'cart' }>;
  leases: string;
}


export function openStreamStore(settings: DynamoSettings, names: FollowedTableNames) {
  const dynamo = connectDynamo(settings);
  const streams = new DynamoDBStreamsClient(clientOptions(settings));
  return {
    reader: new DynamoStreamReader(dynamo, streams, names),
    leases: new DynamoLeaseStore(dynamo, names.leases),
    close: () => {
      streams.destroy();
      dynamo.client.destroy();
    },
  };
}

class DynamoStreamReader implements StreamReader {
  constructor(
    private readonly dynamo: Dynamo,
    private readonly client: DynamoDBStreamsClient,
    private readonly names: FollowedTableNames,
  ) {}

  async stream(table: string): Promise<TableStream> {
    let description;
    try {
      ({ Table: description } = await this.dynamo.client.send(new DescribeTableCommand({ TableName: table })));
    } catch (error) {
      throw serviceError(error, this.dynamo.location, table);
    }
    const spec = description?.StreamSpecification;
    const arn = description?.LatestStreamArn;
    if (!spec?.StreamEnabled || arn === undefined) {
      throw noStream(table, spec?.StreamEnabled === false ? 'has its stream disabled' : 'has no stream', this.dynamo.location);
    }
    return { table, arn, viewType: spec.StreamViewType ?? 'unknown' };
  }

  async shards(stream: TableStream): Promise<StreamShard[]> {
    const shards: StreamShard[] = [];
    let start: string | undefined;
    do {
      const answer = await this.call(stream, () => this.client.send(new DescribeStreamCommand({ StreamArn: stream.arn, ExclusiveStartShardId: start })));
      for (const shard of answer.StreamDescription?.Shards ?? []) {
        if (shard.ShardId !== undefined) shards.push({ id: shard.ShardId, parentId: shard.ParentShardId || undefined });
      }
      start = answer.StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
    return shards;
  }

  async iterator(stream: TableStream, shard: string, after: string | undefined): Promise<string> {
    const answer = await this.call(stream, () =>
      this.client.send(
        new GetShardIteratorCommand({
          StreamArn: stream.arn,
          ShardId: shard,
          ShardIteratorType: after === undefined ? 'TRIM_HORIZON' : 'AFTER_SEQUENCE_NUMBER',
          SequenceNumber: after,
        }),
      ),
    );
    if (answer.ShardIterator === undefined) throw new ShopError('NOT_FOUND', `${stream.table}: no iterator for shard ${shard}`);
    return answer.ShardIterator;
  }

  async read(stream: TableStream, iterator: string, limit: number): Promise<StreamPage> {
    const answer = await this.call(stream, () => this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit })));
    const followed = this.names.tables[stream.table];
    const records = (answer.Records ?? []).map((record) => toRecord(record, stream.table, followed));
    return { records, next: answer.NextShardIterator ?? undefined };
  }

  private async call<R>(stream: TableStream, send: () => Promise<R>): Promise<R> {
    try {
      return await send();
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === 'TrimmedDataAccessException') throw new ShopError('NOT_FOUND', `${stream.table}'s stream no longer holds the records asked for (past its 24 h retention)`, { cause: error });
      if (name === 'ExpiredIteratorException') throw new ShopError('TIMEOUT', `${stream.table}'s stream iterator expired`, { cause: error });
      // TABLE_NOT_FOUND tells the follower the shard can never be read again (core/follower.ts).
      if (name === 'ResourceNotFoundException') throw new ShopError('TABLE_NOT_FOUND', `${stream.table}'s stream ${stream.arn} or its shard is gone`, { cause: error });
      throw serviceError(error, this.dynamo.location);
    }
  }
}

function toRecord(raw: RawRecord, table: string, followed: { key: string; kind: 'order' | 'cart' } | undefined): StreamRecord {
  const data = raw.dynamodb ?? {};
  const created = data.ApproximateCreationDateTime;
  const key = followed ? data.Keys?.[followed.key] : undefined;
  const record: StreamRecord = {
    event: raw.eventName === 'INSERT' || raw.eventName === 'MODIFY' ? raw.eventName : 'REMOVE',
    sequence: data.SequenceNumber ?? '',
    writtenAtMs: created instanceof Date ? created.getTime() : Date.now(),
    id: key !== undefined && 'S' in key && typeof key.S === 'string' ? key.S : undefined,
    image: undefined,
  };
  const toItem = (image: Record<string, AttributeValue>, table: string) => {
    // The conversion would drop an attribute named __proto__ without a word: refuse such an image instead.
    refuseProtoItem(image, table);
    return followed?.kind === 'order' ? attributeValuesToOrder(image) : attributeValuesToCart(image);
  };
  if (raw.eventName !== 'REMOVE' && data.NewImage !== undefined && followed !== undefined) {
    try {
      record.image = toItem(data.NewImage as Record<string, AttributeValue>, table);
    } catch (error) {
      record.imageProblem = `its new image cannot be read (${error instanceof Error ? error.message : String(error)})`;
    }
  }
  if (raw.eventName === 'REMOVE' && data.OldImage !== undefined && followed !== undefined) {
    try {
      const removed = toItem(data.OldImage as Record<string, AttributeValue>, table);
      record.removedVersion = removed.version ?? 0;
    } catch {
      // Without the old version the removal is still applied (the entry dropped); only the write guard misses it.
    }
  }
  return record;
}

/** How long the lease table may take to become ACTIVE (AWS takes seconds). */
const CREATE_WAIT_MS = 120_000;

class DynamoLeaseStore implements LeaseStore {
  constructor(
    private readonly dynamo: Dynamo,
    private readonly table: string,
  ) {}

  async prepare(): Promise<void> {
    let status = await this.status();
    if (status === undefined) {
      try {
        await this.dynamo.client.send(
          new CreateTableCommand({
            TableName: this.table,
            AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      } catch (error) {
        // Another follower created it meanwhile.
        if ((error as { name?: unknown }).name !== 'ResourceInUseException') throw serviceError(error, this.dynamo.location, this.table);
      }
      status = await this.status();
    }
    const deadline = Date.now() + CREATE_WAIT_MS;
    while (status !== 'ACTIVE') {
      if (Date.now() > deadline) throw new ShopError('TIMEOUT', `the lease table ${this.table} at ${this.dynamo.location} did not become ACTIVE in time (${status ?? 'missing'})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await this.status();
    }
  }

  private async status(): Promise<string | undefined> {
    try {
      const { Table } = await this.dynamo.client.send(new DescribeTableCommand({ TableName: this.table }));
      return Table?.TableStatus ?? 'unknown';
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ResourceNotFoundException') return undefined;
      throw serviceError(error, this.dynamo.location, this.table);
    }
  }

  async list(): Promise<ShardLease[]> {
    const leases: ShardLease[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.dynamo.documents.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }));
        for (const item of page.Items ?? []) {
          const lease = toLease(item);
          if (lease === undefined) continue;
          if (lease.repaired !== undefined) await this.repair(lease);
          leases.push(lease);
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.table);
    }
    return leases;
  }

  /** A row damaged by hand (a field of another type, a checkpoint that is no sequence number): written anew, free, from the trim horizon. */
  private async repair(lease: ShardLease): Promise<void> {
    try {
      await this.dynamo.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { leaseKey: lease.key, tableName: lease.table, streamArn: lease.stream, shardId: lease.shard, parentShardIds: lease.parents, counter: lease.counter, checkpoint: lease.checkpoint, updatedAt: new Date().toISOString() },
        }),
      );
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.table);
    }
  }

  async create(lease: ShardLease): Promise<void> {
    await this.conditional(
      new PutCommand({
        TableName: this.table,
        Item: {
          leaseKey: lease.key,
          tableName: lease.table,
          streamArn: lease.stream,
          shardId: lease.shard,
          parentShardIds: lease.parents,
          counter: 0,
          checkpoint: lease.checkpoint,
          updatedAt: new Date().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(leaseKey)',
      }),
    );
  }

  renew(lease: ShardLease, owner: string): Promise<boolean> {
    return this.update(lease, 'SET #counter = #counter + :one, updatedAt = :now', '#owner = :me', { ':me': owner });
  }

  take(lease: ShardLease, owner: string): Promise<boolean> {
    return this.update(lease, 'SET #owner = :me, #counter = #counter + :one, updatedAt = :now', '#counter = :seen', { ':me': owner, ':seen': lease.counter });
  }

  checkpoint(lease: ShardLease, owner: string, checkpoint: string): Promise<boolean> {
    return this.update(lease, 'SET #checkpoint = :checkpoint, updatedAt = :now', '#owner = :me', { ':me': owner, ':checkpoint': checkpoint });
  }

  async release(lease: ShardLease, owner: string): Promise<void> {
    await this.update(lease, 'REMOVE #owner SET #counter = #counter + :one, updatedAt = :now', '#owner = :me', { ':me': owner });
  }

  async remove(lease: ShardLease): Promise<void> {
    await this.conditional(new DeleteCommand({ TableName: this.table, Key: { leaseKey: lease.key } }));
  }

  private update(lease: ShardLease, expression: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    const names: Record<string, string> = {};
    for (const name of ['owner', 'counter', 'checkpoint']) if (expression.includes(`#${name}`) || condition.includes(`#${name}`)) names[`#${name}`] = name;
    const all: Record<string, unknown> = { ...values };
    if (expression.includes(':one')) all[':one'] = 1;
    if (expression.includes(':now')) all[':now'] = new Date().toISOString();
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { leaseKey: lease.key },
        UpdateExpression: expression,
        ConditionExpression: `attribute_exists(leaseKey) AND ${condition}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: all,
      }),
    );
  }

  /** True when written; false when the condition failed. */
  private async conditional(command: PutCommand | UpdateCommand | DeleteCommand): Promise<boolean> {
    try {
      await this.dynamo.documents.send(command as never);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown }).name === 'ConditionalCheckFailedException') return false;
      throw serviceError(error, this.dynamo.location, this.table);
    }
  }
}

function toLease(item: Record<string, unknown>): ShardLease | undefined {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const key = text(item.leaseKey);
  // The key names the stream and the shard (`<stream ARN>|<shard id>`); a row whose key does not is none of ours.
  const split = key?.lastIndexOf('|') ?? -1;
  if (key === undefined || split <= 0) return undefined;
  const stream = key.slice(0, split);
  const shard = key.slice(split + 1);
  const table = /:table\/([^/]+)\/stream\//.exec(stream)?.[1] ?? text(item.tableName);
  if (table === undefined || shard === '') return undefined;
  const problems: string[] = [];
  const counter = typeof item.counter === 'object' && item.counter !== null || typeof item.counter === 'number' ? Number(String(item.counter)) : Number.NaN;
  if (!Number.isSafeInteger(counter) || counter < 0) problems.push('counter');
  const checkpoint = text(item.checkpoint);
  if (checkpoint === undefined || !(checkpoint === TRIM_HORIZON || checkpoint === SHARD_END || /^\d{1,64}$/.test(checkpoint))) problems.push('checkpoint');
  const owner = item.owner;
  if (owner !== undefined && (typeof owner !== 'string' || owner === '')) problems.push('owner');
  const parents = Array.isArray(item.parentShardIds) ? item.parentShardIds.filter((parent): parent is string => typeof parent === 'string') : [];
  if (item.parentShardIds !== undefined && !Array.isArray(item.parentShardIds)) problems.push('parentShardIds');
  if (text(item.tableName) !== table || text(item.streamArn) !== stream || text(item.shardId) !== shard) problems.push('names');
  if (problems.length > 0) {
    // Free, from the trim horizon: re-reading is harmless (the cache ignores records already applied, and those past the horizon).
    return { key, table, stream, shard, parents, owner: undefined, counter: Number.isSafeInteger(counter) && counter >= 0 ? counter + 1 : 0, checkpoint: TRIM_HORIZON, repaired: problems.join(', ') };
  }
  return { key, table, stream, shard, parents, owner: text(owner), counter, checkpoint: checkpoint as string };
}
