import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { badInput, ShopError } from '../core/errors.js';
import { answerNotKept, type IdempotencyClaim, type IdempotencyStore, type RecordedAnswer } from '../core/idempotency.js';
import { IDEMPOTENCY_TTL_ATTRIBUTE } from '../core/tables.js';
import type { Dynamo } from './dynamo-client.js';
import { serviceError } from './dynamo-client.js';

const compress = promisify(gzip);
const decompress = promisify(gunzip);

/*
 * One item per key:
 *   idempotencyKey  S  the hash key (opaque: the server's hash of the caller's scope and the header)
 *   fingerprint     S  the hash of the request the key was first used with
 *   state           S  RUNNING while the first request runs, DONE once its answer is recorded
 *   token           S  who holds the claim (a random UUID per claim): complete and release need it
 *   leaseUntil      N  epoch ms: a RUNNING record past this may be taken over (its replica died)
 *   expiresAt       N  epoch SECONDS: the table's TTL attribute; from then on the record counts as absent
 *   answer          B  DONE: the answer (status, headers, body) as gzip-compressed JSON
 *   answerStatus    N  DONE: the answer's HTTP status
 *   answerBytes     N  DONE: the answer's size before compression
 *   answerLocation  S  DONE without `answer` (too large to keep): the answer's Location header, if any
 * No request body is ever stored: only the fingerprint and the answer.
 *
 * DynamoDB's TTL deletes lazily (up to days late), so every condition treats
 * a record at or past expiresAt as absent; every decision is in a condition
 * (or read from the item that failed one), never read-then-write.
 */

const KEY = 'idempotencyKey';
const RUNNING = 'RUNNING';
const DONE = 'DONE';

/** DynamoDB's item limit (400 KB), less room for the attributes beside the answer, which are counted too. */
const ITEM_LIMIT_BYTES = 400 * 1024;
const MARGIN_BYTES = 512;
/** The longest key taken: DynamoDB allows 2048 bytes in a hash key; the server sends a hash. */
const MAX_KEY_BYTES = 1024;
/** The longest fingerprint taken (the server sends a hash); bounded so the room left for an answer is known. */
const MAX_FINGERPRINT_BYTES = 1024;
/** Claims lost to a record that changed between the failed condition and the read after it, before answering `running`. */
const CLAIM_ATTEMPTS = 5;

export class IdempotencyTable implements IdempotencyStore {
  constructor(
    private readonly dynamo: Dynamo,
    readonly tableName: string,
    /** Epoch ms; tests move it to see records expire without waiting. */
    private readonly clock: () => number = Date.now,
  ) {}

  async claim(key: string, fingerprint: string, options: { leaseMs: number; keepSeconds: number }): Promise<IdempotencyClaim> {
    checkKey(key);
    if (Buffer.byteLength(fingerprint) > MAX_FINGERPRINT_BYTES) throw badInput('fingerprint', `use at most ${MAX_FINGERPRINT_BYTES} bytes`);
    if (!Number.isSafeInteger(options.leaseMs) || options.leaseMs < 1) throw badInput('leaseMs', 'use a whole number of milliseconds, at least 1');
    if (!Number.isSafeInteger(options.keepSeconds) || options.keepSeconds < 1) throw badInput('keepSeconds', 'use a whole number of seconds, at least 1');
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      const token = randomUUID();
      try {
        await this.dynamo.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              [KEY]: { S: key },
              fingerprint: { S: fingerprint },
              state: { S: RUNNING },
              token: { S: token },
              leaseUntil: { N: String(now + options.leaseMs) },
              // Kept at least keepSeconds after the claim (rounded up to the second TTL counts in).
              [IDEMPOTENCY_TTL_ATTRIBUTE]: { N: String(Math.ceil(now / 1000) + options.keepSeconds) },
            },
            // Absent; or present but expired (TTL not yet caught up); or RUNNING for this same request by a holder whose lease ran out.
            ConditionExpression: `attribute_not_exists(${KEY}) OR #expiresAt <= :nowSeconds OR (#state = :running AND leaseUntil < :nowMs AND fingerprint = :fingerprint)`,
            ExpressionAttributeNames: { '#expiresAt': IDEMPOTENCY_TTL_ATTRIBUTE, '#state': 'state' },
            ExpressionAttributeValues: {
              ':nowSeconds': { N: String(Math.floor(now / 1000)) },
              ':nowMs': { N: String(now) },
              ':running': { S: RUNNING },
              ':fingerprint': { S: fingerprint },
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { kind: 'claimed', token };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw serviceError(error, this.dynamo.location, this.tableName);
        // The record that failed the condition, as DynamoDB sent it; services that do not send it (dynalite): a strong read.
        const found = error.Item ?? (await this.read(key));
        const outcome = found === undefined ? undefined : await this.decide(found, fingerprint, this.clock());
        if (outcome) return outcome;
        // Released, expired or its lease ran out in between: claim again; someone churning the key that fast is as good as running.
        if (attempt >= CLAIM_ATTEMPTS) return { kind: 'running' };
      }
    }
  }

  async complete(key: string, token: string, answer: RecordedAnswer): Promise<void> {
    checkKey(key);
    checkAnswer(answer);
    const json = JSON.stringify({ status: answer.status, headers: answer.headers, body: answer.body });
    const bytes = Buffer.byteLength(json);
    const packed = await compress(json);
    const location = Object.entries(answer.headers).find(([name]) => name.toLowerCase() === 'location')?.[1];
    const fits = packed.length + otherAttributesBytes(key, location) <= ITEM_LIMIT_BYTES - MARGIN_BYTES;
    try {
      await this.finish(key, token, answer.status, bytes, fits ? packed : undefined, location);
    } catch (error) {
      // The estimate is conservative; should the service count otherwise, keep the record without the answer.
      if (fits && error instanceof Error && error.name === 'ValidationException' && /item size/i.test(error.message)) {
        await this.finish(key, token, answer.status, bytes, undefined, location);
        return;
      }
      throw error;
    }
  }

  async release(key: string, token: string): Promise<void> {
    checkKey(key);
    try {
      await this.dynamo.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [KEY]: { S: key } },
          ConditionExpression: '#token = :token AND #state = :running',
          ExpressionAttributeNames: { '#token': 'token', '#state': 'state' },
          ExpressionAttributeValues: { ':token': { S: token }, ':running': { S: RUNNING } },
        }),
      );
    } catch (error) {
      // Another claim holds the key now (this one's lease ran out), or it was completed: nothing to give up.
      if (error instanceof ConditionalCheckFailedException) return;
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  /** DONE with the answer, or with only its status and size when it is too large to keep; nothing when `token` no longer holds the key. */
  private async finish(key: string, token: string, status: number, bytes: number, packed: Uint8Array | undefined, location: string | undefined): Promise<void> {
    const sets = ['#state = :done', 'answerStatus = :status', 'answerBytes = :bytes'];
    const values: Record<string, AttributeValue> = {
      ':done': { S: DONE },
      ':status': { N: String(status) },
      ':bytes': { N: String(bytes) },
      ':token': { S: token },
      ':running': { S: RUNNING },
    };
    if (packed) {
      sets.push('answer = :answer');
      values[':answer'] = { B: packed };
    } else if (location !== undefined) {
      sets.push('answerLocation = :location');
      values[':location'] = { S: location };
    }
    try {
      await this.dynamo.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [KEY]: { S: key } },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#token = :token AND #state = :running',
          ExpressionAttributeNames: { '#token': 'token', '#state': 'state' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      // Taken over after this claim's lease ran out, released, or already completed: the answer is not this claim's to record.
      if (error instanceof ConditionalCheckFailedException) return;
      if (error instanceof Error && error.name === 'ValidationException' && /item size/i.test(error.message)) throw error;
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  private async read(key: string): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const { Item } = await this.dynamo.client.send(new GetItemCommand({ TableName: this.tableName, Key: { [KEY]: { S: key } }, ConsistentRead: true }));
      return Item;
    } catch (error) {
      throw serviceError(error, this.dynamo.location, this.tableName);
    }
  }

  /** What a record that refused a claim means for it; undefined when it would not refuse one now (expired, lease out). */
  private async decide(found: Record<string, AttributeValue>, fingerprint: string, now: number): Promise<IdempotencyClaim | undefined> {
    const expiresAt = numberOf(found[IDEMPOTENCY_TTL_ATTRIBUTE]);
    if (expiresAt !== undefined && expiresAt <= Math.floor(now / 1000)) return undefined;
    // Another request under the same key is refused whatever the first one's state: retrying it can never succeed.
    if (found.fingerprint?.S !== fingerprint) return { kind: 'mismatch' };
    const state = found.state?.S;
    if (state === DONE) return { kind: 'replay', answer: await this.answerOf(found) };
    if (state === RUNNING) {
      const leaseUntil = numberOf(found.leaseUntil);
      return leaseUntil !== undefined && leaseUntil < now ? undefined : { kind: 'running' };
    }
    throw new ShopError('CONFLICT', `table ${this.tableName}: the record of an idempotency key is in state ${JSON.stringify(state ?? null)}, neither ${RUNNING} nor ${DONE}; it was written by something other than shopdb`);
  }

  private async answerOf(found: Record<string, AttributeValue>): Promise<RecordedAnswer> {
    const packed = found.answer?.B;
    if (packed === undefined) {
      return answerNotKept({ status: numberOf(found.answerStatus) ?? 0, bytes: numberOf(found.answerBytes) ?? 0, location: found.answerLocation?.S });
    }
    let answer: unknown;
    try {
      answer = JSON.parse((await decompress(packed)).toString('utf8'));
    } catch (error) {
      throw new ShopError('CONFLICT', `table ${this.tableName}: the recorded answer of an idempotency key cannot be read (not gzip-compressed JSON); it was written by something other than shopdb`, { cause: error });
    }
    checkAnswer(answer as RecordedAnswer, this.tableName);
    return answer as RecordedAnswer;
  }
}

function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key);
  if (bytes < 1 || bytes > MAX_KEY_BYTES) throw badInput('idempotency key', `use 1 to ${MAX_KEY_BYTES} bytes, not ${bytes}`);
}

/** An answer is a status, string headers and a string body; `table` set: checking one read back. */
function checkAnswer(answer: RecordedAnswer, table?: string): void {
  const valid =
    typeof answer === 'object' &&
    answer !== null &&
    Number.isInteger(answer.status) &&
    answer.status >= 100 &&
    answer.status <= 599 &&
    typeof answer.body === 'string' &&
    typeof answer.headers === 'object' &&
    answer.headers !== null &&
    !Array.isArray(answer.headers) &&
    Object.values(answer.headers).every((value) => typeof value === 'string');
  if (valid) return;
  if (table !== undefined) throw new ShopError('CONFLICT', `table ${table}: the recorded answer of an idempotency key is not a status, headers and body; it was written by something other than shopdb`);
  throw badInput('answer', 'use an HTTP status (100 to 599), string headers and a string body');
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  const number = value?.N === undefined ? Number.NaN : Number(value.N);
  return Number.isFinite(number) ? number : undefined;
}

/**
 * The bytes DynamoDB counts for every attribute of a DONE record but the
 * answer: names and values (strings in UTF-8, numbers at most 21 bytes).
 */
function otherAttributesBytes(key: string, location: string | undefined): number {
  const names = [KEY, 'fingerprint', 'state', 'token', 'leaseUntil', IDEMPOTENCY_TTL_ATTRIBUTE, 'answer', 'answerStatus', 'answerBytes', 'answerLocation'];
  return names.reduce((sum, name) => sum + name.length, 0) + Buffer.byteLength(key) + MAX_FINGERPRINT_BYTES + 36 + RUNNING.length + 4 * 21 + Buffer.byteLength(location ?? '');
}
