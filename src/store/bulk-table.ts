import { ScanCommand, TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, NumberValue, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchError, type BulkWriter } from '../core/bulk.js';
import { ShopError } from '../core/errors.js';
import { define } from '../core/attributes.js';
import { MAX_SIGNIFICANT_DIGITS, PROTO_NAME, significantDigits } from '../core/limits.js';
import type { AttributeJson } from '../core/model.js';
import type { Dynamo } from './dynamo-client.js';
import { serviceError } from './dynamo-client.js';
import { jsonToAttributeValues } from './items.js';

type RawItem = Record<string, unknown>;

export interface ItemCodec<T> {
  key: string;
  idOf(item: T): string;
  toItem(item: T): RawItem;
  fromItem(item: RawItem): T;
  /** From the item as DynamoDB sent it (attribute values): export reads these without the document client's round trip. */
  fromAttributeValues(item: Record<string, AttributeValue>): T;
}

type Versioned = { version: number | bigint | null };

/** DynamoDB's limits: 100 items per transaction, 25 per BatchWriteItem, 100 keys per BatchGetItem. */
const TRANSACTION_ITEMS = 100;
const BATCH_WRITE_ITEMS = 25;
const BATCH_GET_KEYS = 100;
const MAX_RETRIES = 10;

/**
 * Bulk writes. Without --overwrite each item must not exist yet: conditions
 * need TransactWriteItems (100 conditional puts per request, at twice the
 * write capacity), which measured 2.3× faster than one conditional PutItem
 * per item here. With --overwrite, BatchWriteItem (no conditions, 25 per
 * request) is the fastest; a BatchGetItem of the replaced items' versions
 * first keeps every version above the one it replaces, so caches stay coherent.
 */
export class BulkTable<T extends Versioned> implements BulkWriter<T> {
  // One BatchGetItem of the replaced versions serves a whole replace batch.
  readonly batchSize = { insert: TRANSACTION_ITEMS, replace: BATCH_GET_KEYS };

  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
    private readonly codec: ItemCodec<T>,
  ) {}

  /** What the items are called in messages: order, cart. */
  private get kind(): string {
    return this.codec.key.replace(/Id$/, '');
  }

  async insertNew(items: T[], onSent?: (count: number) => void): Promise<{ written: T[]; conflicts: string[] }> {
    // One transaction carries the whole batch: from here on every item may be written.
    onSent?.(items.length);
    const conflicts: string[] = [];
    // An item imported without a version keeps none: nothing is invented (the original design's items have none).
    let pending = items;
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        await this.dynamo.documents.send(
          new TransactWriteCommand({
            ClientRequestToken: randomUUID(),
            TransactItems: pending.map((item) => ({
              Put: { TableName: this.tableName, Item: this.codec.toItem(item), ConditionExpression: `attribute_not_exists(${this.codec.key})` },
            })),
          }),
        );
        return { written: pending, conflicts };
      } catch (error) {
        // A transaction is all or nothing: none of `pending` was written.
        if (!(error instanceof TransactionCanceledException) || attempt > MAX_RETRIES || refusedItems(error)) throw this.failure(error, [], conflicts);
        // Cancelled: nothing was written. Drop the items that exist and try the rest again.
        const reasons = error.CancellationReasons ?? [];
        const existing = new Set(pending.filter((_, i) => reasons[i]?.Code === 'ConditionalCheckFailed'));
        conflicts.push(...[...existing].map((item) => this.codec.idOf(item)));
        if (existing.size === 0) await backoff(attempt);
        pending = pending.filter((item) => !existing.has(item));
      }
    }
    return { written: [], conflicts };
  }

  async replace(items: T[], onSent?: (count: number) => void): Promise<T[]> {
    const current = await this.currentVersions(items.map((item) => this.codec.idOf(item)));
    const versioned: T[] = [];
    const pastLimit: string[] = [];
    for (const item of items) {
      const id = this.codec.idOf(item);
      const replaced = current.get(id);
      if (replaced === undefined) {
        versioned.push(item);
        continue;
      }
      // Exact past 2^53: a cached copy of the replaced item must always lose to this one, whatever number it holds.
      const own = BigInt(item.version ?? 0);
      const version = own > replaced.floor ? own : replaced.floor + 1n;
      if (significantDigits(String(version)) > MAX_SIGNIFICANT_DIGITS) {
        pastLimit.push(
          `version: replacing ${this.kind} ${id} (version ${replaced.text}) needs version ${version}, past the ${MAX_SIGNIFICANT_DIGITS} significant digits a DynamoDB number holds; nothing was written for this line`,
        );
        continue;
      }
      versioned.push(supersedingExtraVersion({ ...item, version: version <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(version) : version }));
    }
    const written: T[] = [];
    for (let start = 0; start < versioned.length; start += BATCH_WRITE_ITEMS) {
      const chunk = versioned.slice(start, start + BATCH_WRITE_ITEMS);
      try {
        // The requests go one after another: a stop while one is held leaves the later chunks unsent.
        onSent?.(chunk.length);
        await this.batchWrite(chunk);
      } catch (error) {
        const unprocessed = (error as { unprocessed?: Set<string> }).unprocessed;
        // Of the failed request, only the items DynamoDB had already processed were written.
        const done = unprocessed ? chunk.filter((item) => !unprocessed.has(this.codec.idOf(item))) : [];
        throw this.failure((error as { cause?: unknown }).cause ?? error, [...written, ...done], []);
      }
      written.push(...chunk);
    }
    // Decided before sending: the others are written, and these items are refused for what they hold (import tries them one by one and names each line).
    if (pastLimit.length > 0) throw new BatchError(new ShopError('BAD_INPUT', pastLimit.join('; ')), written, [], true);
    return versioned;
  }

  private failure(error: unknown, written: T[], conflicts: string[]): BatchError<T> {
    return new BatchError(error instanceof ShopError ? error : serviceError(error, this.dynamo.location, this.tableName), written, conflicts, refusedItems(error));
  }

  /** Every item in the table, from `segments` parallel scans; pages arrive in no particular order. */
  async *scan(segments: number): AsyncGenerator<T[]> {
    const pages = new Channel<T[]>(segments);
    let running = segments;
    for (let segment = 0; segment < segments; segment++) {
      void this.scanSegment(segment, segments, pages).then(
        () => --running === 0 && pages.close(),
        (error: unknown) => pages.fail(serviceError(error, this.dynamo.location, this.tableName)),
      );
    }
    yield* pages;
  }

  private async scanSegment(segment: number, total: number, pages: Channel<T[]>): Promise<void> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      // The low-level client: its items go straight to DynamoDB JSON, with no unmarshalling and
      // marshalling in between (export's cost), and every attribute name survives, `__proto__` too.
      const command = new ScanCommand({ TableName: this.tableName, Segment: segment, TotalSegments: total, ExclusiveStartKey: startKey });
      const body = keepingBody(command);
      const page = await this.dynamo.client.send(command);
      let wire: Array<Record<string, AttributeJson>> | undefined;
      const items = (page.Items ?? []).map((item, index) => {
        if (!Object.hasOwn(item, PROTO_NAME)) return item;
        // The SDK keeps a top-level `__proto__` as a name without its value: that item is read from the answer as sent.
        wire ??= wireItems(body(), this.tableName);
        const sent = wire[index];
        if (!sent) throw new ShopError('INTERNAL', `the scan of ${this.tableName} answered ${page.Items?.length} items, but its body holds ${wire.length}`);
        return jsonToAttributeValues(sent);
      });
      await pages.put(items.map((item) => this.codec.fromAttributeValues(item)));
      startKey = page.LastEvaluatedKey;
    } while (startKey && !pages.closed);
  }

  /** Versions of the items being replaced; a failure here wrote nothing. */
  private async currentVersions(ids: string[]): Promise<Map<string, ReplacedVersion>> {
    try {
      return await this.readVersions(ids);
    } catch (error) {
      throw this.failure(error, [], []);
    }
  }

  private async readVersions(ids: string[]): Promise<Map<string, ReplacedVersion>> {
    const versions = new Map<string, ReplacedVersion>();
    let keys: RawItem[] = ids.map((id) => ({ [this.codec.key]: id }));
    for (let attempt = 1; keys.length > 0; attempt++) {
      const answer = await this.guard(
        this.dynamo.documents.send(new BatchGetCommand({
          RequestItems: { [this.tableName]: { Keys: keys, ProjectionExpression: '#key, version', ExpressionAttributeNames: { '#key': this.codec.key }, ConsistentRead: true } },
        })),
      );
      for (const item of answer.Responses?.[this.tableName] ?? []) {
        // The number as stored, not only a whole one: a replaced 2.5 needs 3, not 1.
        versions.set(String(item[this.codec.key]), replacedVersion(item.version));
      }
      keys = (answer.UnprocessedKeys?.[this.tableName]?.Keys as RawItem[] | undefined) ?? [];
      if (keys.length > 0) await retryOrGiveUp(attempt, this.tableName);
    }
    return versions;
  }

  /** Writes the items; a failure carries (as `unprocessed`) the ids not written by then, and the raw error as `cause`. */
  private async batchWrite(items: T[]): Promise<void> {
    let requests: Array<{ PutRequest: { Item: RawItem } }> = items.map((item) => ({ PutRequest: { Item: this.codec.toItem(item) } }));
    for (let attempt = 1; requests.length > 0; attempt++) {
      try {
        const answer = await this.dynamo.documents.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        // Throttled items come back as unprocessed: retried with backoff, never dropped.
        requests = (answer.UnprocessedItems?.[this.tableName] as typeof requests | undefined) ?? [];
        if (requests.length > 0) await retryOrGiveUp(attempt, this.tableName);
      } catch (error) {
        const unprocessed = new Set(requests.map((request) => String(request.PutRequest.Item[this.codec.key])));
        throw Object.assign(new Error('batch write failed', { cause: error }), { unprocessed });
      }
    }
  }

  private async guard<R>(request: Promise<R>): Promise<R> {
    try {
      return await request;
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }
}

/**
 * Keeps the body of the command's answer, as DynamoDB sent it, for reading
 * after the SDK's deserializer has run: that deserializer (@smithy/core
 * JsonShapeDeserializer2) redefines an item's own `__proto__` member as
 * undefined before reading its value, so the attribute's value is lost there.
 */
function keepingBody(command: ScanCommand): () => Uint8Array {
  let body: Uint8Array = new Uint8Array();
  const stack = command.middlewareStack as unknown as {
    addRelativeTo(middleware: unknown, options: { relation: 'after'; toMiddleware: string; name: string; override: boolean }): void;
  };
  stack.addRelativeTo(
    (next: (args: unknown) => Promise<{ response: { body?: unknown } }>) => async (args: unknown) => {
      const result = await next(args);
      // Collected here instead of by the deserializer (which accepts bytes as they are): the same work, done once.
      body = await collect(result.response.body);
      result.response.body = body;
      return result;
    },
    { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'shopdbKeepScanBody', override: true },
  );
  return () => body;
}

async function collect(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body === undefined || body === null) return new Uint8Array();
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** A Scan answer's items as sent: DynamoDB JSON, which JSON.parse keeps `__proto__` in as an own member. */
function wireItems(body: Uint8Array, table: string): Array<Record<string, AttributeJson>> {
  const answer = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { Items?: unknown };
  if (!Array.isArray(answer.Items)) throw new ShopError('INTERNAL', `the scan of ${table} answered items its body does not hold`);
  return answer.Items as Array<Record<string, AttributeJson>>;
}

/** What the replaced item's version attribute holds: its text, and the whole number a replacing version must pass. */
interface ReplacedVersion {
  text: string;
  floor: bigint;
}

/** A positive number's whole part; 0 for zero, negatives and anything that is not a number (then any version from 1 is above it). */
function replacedVersion(value: unknown): ReplacedVersion {
  if (!(value instanceof NumberValue)) return { text: 'no number', floor: 0n };
  const text = value.toString();
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match || match[1] === '-') return { text, floor: 0n };
  const whole = match[2] ?? '';
  const digits = `${whole}${match[3] ?? ''}`;
  const point = whole.length + Number(match[4] ?? 0);
  if (point <= 0) return { text, floor: 0n };
  const floor = point >= digits.length ? `${digits}${'0'.repeat(point - digits.length)}` : digits.slice(0, point);
  return { text, floor: BigInt(floor === '' ? '0' : floor) };
}

/**
 * An item whose version shopdb sets carries it in `version` alone: a line's
 * `extra.version` (what it read from a version that was not a whole number)
 * is superseded, never written beside it.
 */
function supersedingExtraVersion<T extends Versioned>(item: T): T {
  const extra = (item as { extra?: Record<string, unknown> }).extra;
  if (!extra || !Object.hasOwn(extra, 'version')) return item;
  const rest: Record<string, unknown> = {};
  for (const name of Object.keys(extra)) if (name !== 'version') define(rest, name, extra[name]);
  const copy: T & { extra?: Record<string, unknown> } = { ...item };
  if (Object.keys(rest).length > 0) copy.extra = rest;
  else delete copy.extra;
  return copy;
}

/** DynamoDB refused the request for what the items hold (not for throttling, capacity or a failed condition). */
function refusedItems(error: unknown): boolean {
  if (error instanceof TransactionCanceledException) return (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ValidationError');
  return error instanceof Error && error.name === 'ValidationException';
}

async function backoff(attempt: number): Promise<void> {
  await sleep(Math.random() * Math.min(2_000, 50 * 2 ** attempt));
}

async function retryOrGiveUp(attempt: number, table: string): Promise<void> {
  if (attempt > MAX_RETRIES) {
    throw new ShopError('THROTTLED', `DynamoDB kept returning unprocessed items for ${table} after ${MAX_RETRIES} retries; try a lower --concurrency`);
  }
  await backoff(attempt);
}

/** A bounded hand-over from the scanning segments to the one consumer: scans pause while it is full. */
class Channel<V> implements AsyncIterable<V> {
  private readonly queue: V[] = [];
  private waiting: Array<() => void> = [];
  private error: unknown;
  closed = false;

  constructor(private readonly capacity: number) {}

  async put(value: V): Promise<void> {
    while (this.queue.length >= this.capacity && !this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.queue.push(value);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.error ??= error;
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<V> {
    try {
      for (;;) {
        if (this.error) throw this.error;
        const next = this.queue.shift();
        if (next !== undefined) {
          this.wake();
          yield next;
        } else if (this.closed) {
          return;
        } else {
          await new Promise<void>((resolve) => this.waiting.push(resolve));
        }
      }
    } finally {
      // The consumer stopped early (or failed): let the scans finish instead of waiting forever.
      this.close();
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach((resolve) => resolve());
  }
}
