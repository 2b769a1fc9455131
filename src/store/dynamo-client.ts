import type { CapacityUse, DynamoCall } from '../core/telemetry.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isLoopbackHost } from '../core/endpoints.js';
import { ShopError } from '../core/errors.js';

export interface DynamoSettings {
  /** Absent: the SDK's own resolution (AWS_ENDPOINT_URL_DYNAMODB, profiles, the regional endpoint). */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Fixed keys for DynamoDB Local, which checks only that keys look alphanumeric. */
  staticCredentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** The longest any one call may take, retries included. */
  timeoutMs: number;
  /** Where the service is, for messages: the endpoint URL or "DynamoDB in <region>". */
  location: string;
  /** Told about every call once it has ended (retries included); a listener that throws is ignored. */
  onCall?: ((call: DynamoCall) => void) | undefined;
}

export interface Dynamo {
  client: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  location: string;
  /** The capacity every call of this client consumed, by table. */
  capacity: CapacityMeter;
}

const READ_OPERATIONS = new Set(['GetItem', 'Get', 'Query', 'Scan', 'BatchGetItem', 'BatchGet', 'TransactGetItems', 'TransactGet']);
const WRITE_OPERATIONS = new Set(['PutItem', 'Put', 'UpdateItem', 'Update', 'DeleteItem', 'Delete', 'BatchWriteItem', 'BatchWrite', 'TransactWriteItems', 'TransactWrite']);

/**
 * Adds up ConsumedCapacity from every answer. connectDynamo asks for it
 * (ReturnConsumedCapacity TOTAL) on every item operation that did not ask
 * itself, so writes, lists, export and import are counted as well as reads.
 */
export class CapacityMeter {
  private readonly totals = new Map<string, CapacityUse>();

  /** Adds one answer's ConsumedCapacity; returns that answer's units by table. */
  record(kind: 'read' | 'write', consumed: unknown): CapacityUse[] {
    const uses: CapacityUse[] = [];
    for (const entry of Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]) {
      const { TableName, CapacityUnits } = (entry ?? {}) as { TableName?: unknown; CapacityUnits?: unknown };
      if (typeof TableName !== 'string' || typeof CapacityUnits !== 'number') continue;
      const use = this.totals.get(TableName) ?? { table: TableName, read: 0, write: 0 };
      use[kind] += CapacityUnits;
      this.totals.set(TableName, use);
      uses.push({ table: TableName, read: kind === 'read' ? CapacityUnits : 0, write: kind === 'write' ? CapacityUnits : 0 });
    }
    return uses;
  }

  report(): CapacityUse[] {
    return [...this.totals.values()];
  }
}

/**
 * Reads a response body into bytes. The SDK's own collector first asks whether the body is a web
 * ReadableStream or a Blob, and on Node 20 merely naming the global `ReadableStream` loads Node's web
 * streams: a few milliseconds of every command's start. The node:http handler's bodies are Node streams;
 * anything async-iterable (web streams too) is read the same way.
 */
async function collectBody(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(bytes);
    length += bytes.byteLength;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Where connectDynamo's middleware leaves the name of the operation that failed (e.g. "TransactWriteItems"). */
const OPERATION = Symbol('shopdb.operation');

/** Attempts per call; the SDK's own default, kept explicit because the per-attempt timeout depends on it. */
const MAX_ATTEMPTS = 3;

/** The settings every DynamoDB client of shopdb's is made with (this one, and the follower's DynamoDB Streams client). */
export function clientOptions(settings: DynamoSettings) {
  // A socket that accepts and never answers would otherwise hold a command forever.
  const attemptMs = Math.max(250, Math.floor(settings.timeoutMs / MAX_ATTEMPTS));
  return {
    endpoint: settings.endpoint,
    region: settings.region,
    credentials: settings.staticCredentials,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: attemptMs, requestTimeout: attemptMs, throwOnRequestTimeout: true },
    streamCollector: collectBody,
  };
}

export function connectDynamo(settings: DynamoSettings): Dynamo {
  const client = new DynamoDBClient(clientOptions(settings));
  // Errors do not say which operation failed; messages about a missing operation must.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (typeof error === 'object' && error !== null && context.commandName) {
          Object.defineProperty(error, OPERATION, { value: context.commandName.replace(/Command$/, ''), configurable: true });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'shopdbOperationName' },
  );
  const capacity = new CapacityMeter();
  const onCall = settings.onCall;
  /** Throttled attempts so far, per call (the context object is the call's own, shared by its attempts). */
  const throttled = new WeakMap<object, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? '').replace(/Command$/, '');
      const kind = READ_OPERATIONS.has(operation) ? 'read' : WRITE_OPERATIONS.has(operation) ? 'write' : undefined;
      const input = args.input as Record<string, unknown>;
      const asked = kind !== undefined && input.ReturnConsumedCapacity === undefined ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args;
      let result;
      try {
        result = await next(asked);
      } catch (error) {
        const outcome = callOutcome(error);
        tell(onCall, { operation: apiName(operation), table: tablesNamed(input), outcome, readUnits: 0, writeUnits: 0, capacity: [], throttledAttempts: throttled.get(context) ?? 0 });
        throw error;
      }
      const uses = kind === undefined ? [] : capacity.record(kind, (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
      if (onCall !== undefined) {
        const total = (side: 'read' | 'write') => uses.reduce((sum, use) => sum + use[side], 0);
        tell(onCall, { operation: apiName(operation), table: tablesNamed(input), outcome: 'ok', readUnits: total('read'), writeUnits: total('write'), capacity: uses, throttledAttempts: throttled.get(context) ?? 0 });
      }
      return result;
    },
    { step: 'initialize', name: 'shopdbCapacity' },
  );
  if (onCall !== undefined) {
    // Inside the SDK's retries (finalizeRequest, low priority): sees every attempt, not only the last.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (THROTTLED.has((error as { name?: unknown } | undefined)?.name as string)) throttled.set(context, (throttled.get(context) ?? 0) + 1);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'shopdbThrottledAttempts' },
    );
  }
  const documents = DynamoDBDocumentClient.from(client, {
    // Plain JS numbers would round long decimals and throw on 99999999999999999.99.
    unmarshallOptions: { wrapNumbers: true },
    marshallOptions: { removeUndefinedValues: true },
  });
  return { client, documents, location: settings.location, capacity };
}

/** Metrics must never fail a call. */
function tell(onCall: ((call: DynamoCall) => void) | undefined, call: DynamoCall): void {
  try {
    onCall?.(call);
  } catch {
    // A listener's own failure is its business.
  }
}

/** The document client's commands (Get, Put, TransactWrite) by the API operation they send (GetItem, PutItem, TransactWriteItems). */
const API_NAMES: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

function apiName(operation: string): string {
  return API_NAMES[operation] ?? operation;
}

/** The table(s) a request names: TableName, or the tables of a batch's RequestItems or a transaction's TransactItems. */
function tablesNamed(input: Record<string, unknown>): string | undefined {
  if (typeof input.TableName === 'string') return input.TableName;
  const names = new Set<string>();
  if (typeof input.RequestItems === 'object' && input.RequestItems !== null) for (const name of Object.keys(input.RequestItems)) names.add(name);
  if (Array.isArray(input.TransactItems)) {
    for (const item of input.TransactItems as unknown[]) {
      for (const action of Object.values((item ?? {}) as Record<string, unknown>)) {
        const name = (action as { TableName?: unknown } | undefined)?.TableName;
        if (typeof name === 'string') names.add(name);
      }
    }
  }
  return names.size === 0 ? undefined : [...names].sort().join('+');
}

/**
 * A document command whose answer is checked, before the SDK's conversion,
 * for attributes named `__proto__`: that conversion (util-dynamodb) assigns
 * map members, so such an attribute would vanish from the item without a word.
 * The item is refused instead, naming the attribute.
 */
export function refusingProtoNames<C extends { middlewareStack: { addRelativeTo: (...args: never[]) => void } }>(command: C, tableName: string): C {
  const stack = command.middlewareStack as unknown as {
    addRelativeTo(middleware: unknown, options: { relation: 'after'; toMiddleware: string; name: string; override: boolean }): void;
  };
  stack.addRelativeTo(
    (next: (args: unknown) => Promise<{ output: Record<string, unknown> }>) => async (args: unknown) => {
      const result = await next(args);
      const { Item, Items, Attributes } = result.output as { Item?: unknown; Items?: unknown[]; Attributes?: unknown };
      for (const item of [Item, Attributes, ...(Items ?? [])]) refuseProtoItem(item, tableName);
      return result;
    },
    { relation: 'after', toMiddleware: 'DocumentUnmarshall', name: 'shopdbRefuseProtoNames', override: true },
  );
  return command;
}

/**
 * A document command whose answer is also kept as DynamoDB sent it (attribute
 * values), before the SDK's conversion: for a write that has committed, the
 * item is then read with shopdb's own mapping, which keeps every name, rather
 * than refused after the fact.
 */
export function keepingRawAnswer<C extends { middlewareStack: { addRelativeTo: (...args: never[]) => void } }>(command: C, holder: { output?: Record<string, unknown> }): C {
  const stack = command.middlewareStack as unknown as {
    addRelativeTo(middleware: unknown, options: { relation: 'after'; toMiddleware: string; name: string; override: boolean }): void;
  };
  stack.addRelativeTo(
    (next: (args: unknown) => Promise<{ output: Record<string, unknown> }>) => async (args: unknown) => {
      const result = await next(args);
      holder.output = result.output;
      return result;
    },
    { relation: 'after', toMiddleware: 'DocumentUnmarshall', name: 'shopdbKeepRawAnswer', override: true },
  );
  return command;
}

export function refuseProtoItem(item: unknown, tableName: string): void {
  const path = protoPath(item, '');
  if (path !== undefined) {
    throw new ShopError('CONFLICT', `an item in table ${tableName}${keyText(item)} holds an attribute named "__proto__" (at ${path}), which shopdb cannot read or write: the AWS SDK's conversion drops it; rename it with another client`);
  }
}

/** Where an attribute named `__proto__` sits in an item in attribute-value form, at any depth, if anywhere. */
function protoPath(value: unknown, at: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const map = at === '' ? value : (value as { M?: unknown }).M;
  if (typeof map === 'object' && map !== null) {
    for (const name of Object.keys(map)) {
      const path = at === '' ? name : `${at}.${name}`;
      if (name === '__proto__') return path;
      const inner = protoPath((map as Record<string, unknown>)[name], path);
      if (inner !== undefined) return inner;
    }
  }
  const list = at === '' ? undefined : (value as { L?: unknown }).L;
  if (Array.isArray(list)) {
    for (const [index, element] of list.entries()) {
      const inner = protoPath(element, `${at}[${index}]`);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

function keyText(item: unknown): string {
  for (const key of ['orderId', 'cartId']) {
    const value = (item as Record<string, { S?: unknown } | undefined>)[key]?.S;
    if (typeof value === 'string') return ` (${key} ${JSON.stringify(value)})`;
  }
  return '';
}

const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);
const DENIED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'AccessDeniedException',
  'ExpiredTokenException',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
  'IncompleteSignatureException',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN']);

/** Turns what the SDK throws into a ShopError a person can act on; `table` names the table involved, if any. */
export function serviceError(error: unknown, location: string, table?: string): ShopError {
  if (error instanceof ShopError) return error;
  const { name, message, code } = describe(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const operation = (error as { [OPERATION]?: string } | undefined)?.[OPERATION];
  if (name === 'ResourceNotFoundException' && table) {
    return new ShopError('TABLE_NOT_FOUND', `table ${table} not found at ${location}`, { cause: error, hint: { kind: 'create-tables' } });
  }
  if (name === 'UnknownOperationException') {
    // dynalite, for one, has no transactions.
    const what = operation === undefined ? 'an operation shopdb needs' : `the ${operation} operation`;
    return new ShopError('UNAVAILABLE', `DynamoDB at ${location} does not support ${what}; this command needs a service that does (Amazon DynamoDB, DynamoDB Local)`, { cause: error });
  }
  if (THROTTLED.has(name)) {
    return new ShopError('THROTTLED', `DynamoDB at ${location} is throttling requests (${name}) and the retries ran out`, { cause: error, hint: { kind: 'raise-capacity' } });
  }
  if (name === 'CredentialsProviderError') {
    // Nothing was sent: the SDK found no credentials to sign with (a profile that does not exist, no keys at all).
    return new ShopError('ACCESS_DENIED', `no AWS credentials could be loaded for DynamoDB at ${location}, so nothing was sent (${oneLine(message)})`, { cause: error, hint: { kind: 'check-credentials' } });
  }
  if (DENIED.has(name)) {
    return new ShopError('ACCESS_DENIED', `DynamoDB at ${location} refused the credentials (${name}: ${oneLine(message)})`, { cause: error, hint: { kind: 'check-credentials' } });
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long|ssl3_get_record/i.test(message)) {
    // A TLS hello sent to a plain-HTTP port comes back as garbage the TLS layer cannot read.
    const plain = location.startsWith('https://') ? `http://${location.slice('https://'.length)}` : undefined;
    return new ShopError('UNAVAILABLE', `${location} did not answer TLS: the port speaks plain HTTP?`, {
      cause: error,
      ...(plain === undefined ? {} : { hint: { kind: 'use-http', endpoint: plain } }),
    });
  }
  if ((code !== undefined && code.startsWith('HPE_')) || /^Parse Error/.test(message)) {
    return new ShopError('UNAVAILABLE', `${location} does not speak HTTP (${oneLine(message)}); is this the DynamoDB endpoint?`, { cause: error });
  }
  if (name === 'SyntaxError' || /Deserialization error/.test(message) || (status !== undefined && status < 500 && !/Exception$|Error$/.test(name))) {
    const type = (error as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['content-type'];
    const answered = [status === undefined ? undefined : `HTTP ${status}`, type].filter(Boolean).join(', ');
    return new ShopError('UNAVAILABLE', `${location} does not answer like DynamoDB${answered ? ` (${answered})` : ''}; is this the DynamoDB endpoint?`, { cause: error });
  }
  if (code === 'ECONNRESET' || /socket hang up/.test(message)) {
    // Redis, for one, drops an HTTP request without a word (the SDK calls that a TimeoutError).
    return new ShopError('UNAVAILABLE', `${location} closed the connection without an HTTP answer (${code ?? 'socket hang up'}): it does not speak HTTP, or it stopped mid-request; is this the DynamoDB endpoint?`, { cause: error });
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout' || /timed? ?out/i.test(message)) {
    return new ShopError('TIMEOUT', `no answer from DynamoDB at ${location} in time`, { cause: error, hint: { kind: 'raise-timeout' } });
  }
  if ((code && UNREACHABLE.has(code)) || name === 'Error' && /socket hang up/.test(message)) {
    return new ShopError('UNAVAILABLE', `cannot reach DynamoDB at ${location} (${code ?? 'connection closed'})`, {
      cause: error,
      ...(localPort(location) === undefined ? {} : { hint: { kind: 'start-local', port: localPort(location) } }),
    });
  }
  if (name === 'InternalServerError' || name === 'ServiceUnavailable' || (status !== undefined && status >= 500)) {
    return new ShopError('UNAVAILABLE', `DynamoDB at ${location} failed on its side (${name}) and the retries ran out; try again`, { cause: error });
  }
  if (/Region is missing/i.test(message)) {
    return new ShopError('BAD_INPUT', 'region: no AWS region is configured', { cause: error, hint: { kind: 'set-region' } });
  }
  if (name === 'ValidationException') return validationError(error, message, location, table, operation);
  return new ShopError('INTERNAL', `DynamoDB at ${location} failed: ${name}: ${oneLine(message)}`, { cause: error });
}

/**
 * shopdb validates input before it reaches DynamoDB, so a ValidationException
 * means the stored item or the service disagrees with what shopdb sent: say
 * which attribute DynamoDB names, and never blame the user's input.
 */
function validationError(error: unknown, message: string, location: string, table: string | undefined, operation: string | undefined): ShopError {
  const text = oneLine(message);
  const attribute = attributeNamed(text);
  if (table !== undefined && /key element does not match the schema|required keys was not given a value|Missing the key|Type mismatch for key/i.test(text)) {
    // A table made by something else under shopdb's name: its key is not the one shopdb writes.
    const named = attribute === undefined ? '' : ` (${attribute})`;
    return new ShopError('SCHEMA_MISMATCH', `table ${table} at ${location} has another key${named} than shopdb's; DynamoDB says: ${text}`, { cause: error, hint: { kind: 'table-status' } });
  }
  const where = [operation, table === undefined ? undefined : `on ${table}`].filter(Boolean).join(' ');
  if (/Type mismatch for Index Key/i.test(text)) {
    // The item holds a number (or other non-string) where a secondary index keys (userId, createdAt, updatedAt):
    // DynamoDB refuses every write to it until that attribute is corrected.
    return new ShopError(
      'CONFLICT',
      `DynamoDB refused ${where || 'the write'}: the item holds a value other than a string in an attribute the table's secondary indexes key on (userId, createdAt, updatedAt, statusShard); correct that attribute with another client; nothing was changed`,
      { cause: error },
    );
  }
  const subject = attribute === undefined ? '' : ` about attribute ${attribute}`;
  return new ShopError('INTERNAL', `DynamoDB at ${location} refused ${where || 'a request'}${subject}: ${text}`, { cause: error });
}

/**
 * DynamoDB names attributes in a few set phrasings ("Missing the key orderId",
 * "Key: cartId", "path one: [products, [0], quantity]", "attribute name: x");
 * placeholders (":amount", "#status") are shopdb's own and name nothing.
 */
function attributeNamed(message: string): string | undefined {
  const path = /path one: \[([^\]]*)\]/.exec(message)?.[1];
  if (path) return path.split(',')[0]?.trim();
  for (const pattern of [/Missing the key ([A-Za-z_][\w.-]*)/i, /for key ([A-Za-z_][\w.-]*)/i, /\bKey: ([A-Za-z_][\w.-]*)/, /\battribute name:? ([A-Za-z_][\w.-]*)/i]) {
    const found = pattern.exec(message)?.[1];
    if (found) return found;
  }
  return undefined;
}

function describe(error: unknown): { name: string; message: string; code: string | undefined } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), code: undefined };
  const code = (error as { code?: unknown }).code;
  const causeCode = (error.cause as { code?: unknown } | undefined)?.code;
  const networkCode = typeof code === 'string' ? code : typeof causeCode === 'string' ? causeCode : undefined;
  // Connection failures sometimes arrive as AggregateError (one per address tried).
  const inner = (error as { errors?: unknown[] }).errors?.[0] as { code?: unknown } | undefined;
  return { name: error.name, message: error.message, code: networkCode ?? (typeof inner?.code === 'string' ? inner.code : undefined) };
}

/** The port of a loopback http:// endpoint, where the bundled engine could run; undefined otherwise. */
function localPort(location: string): number | undefined {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return undefined;
  }
  return isLoopbackHost(url.hostname) && url.protocol === 'http:' ? Number(url.port || 80) : undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** How a failed call counts in metrics: throttled, a refused condition (a race lost, a rule that held), or an error. */
function callOutcome(error: unknown): 'throttled' | 'conditional' | 'error' {
  const name = (error as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string' && THROTTLED.has(name)) return 'throttled';
  if (name === 'ConditionalCheckFailedException') return 'conditional';
  if (name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
    if (reasons.length > 0 && reasons.every((reason) => reason.Code === 'None' || reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict')) return 'conditional';
  }
  return 'error';
}
