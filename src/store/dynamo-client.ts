import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
}

export interface Dynamo {
  client: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  location: string;
}

/** Attempts per call; the SDK's own default, kept explicit because the per-attempt timeout depends on it. */
const MAX_ATTEMPTS = 3;

export function connectDynamo(settings: DynamoSettings): Dynamo {
  // A socket that accepts and never answers would otherwise hold a command forever.
  const attemptMs = Math.max(250, Math.floor(settings.timeoutMs / MAX_ATTEMPTS));
  const client = new DynamoDBClient({
    endpoint: settings.endpoint,
    region: settings.region,
    credentials: settings.staticCredentials,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: attemptMs, requestTimeout: attemptMs, throwOnRequestTimeout: true },
  });
  const documents = DynamoDBDocumentClient.from(client, {
    // Plain JS numbers would round long decimals and throw on 99999999999999999.99.
    unmarshallOptions: { wrapNumbers: true },
    marshallOptions: { removeUndefinedValues: true },
  });
  return { client, documents, location: settings.location };
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
  if (name === 'ResourceNotFoundException' && table) {
    return new ShopError('TABLE_NOT_FOUND', `table ${table} not found at ${location}; run: shopdb tables create`, { cause: error });
  }
  if (THROTTLED.has(name)) {
    return new ShopError('THROTTLED', `DynamoDB at ${location} is throttling requests (${name}) and the retries ran out; try again later or raise the table's capacity`, { cause: error });
  }
  if (DENIED.has(name)) {
    return new ShopError('ACCESS_DENIED', `DynamoDB at ${location} refused the credentials (${name}: ${oneLine(message)}); check AWS_PROFILE or AWS_ACCESS_KEY_ID`, { cause: error });
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout' || /timed? ?out/i.test(message)) {
    return new ShopError('TIMEOUT', `no answer from DynamoDB at ${location} in time; check the endpoint, or raise --timeout`, { cause: error });
  }
  if ((code && UNREACHABLE.has(code)) || name === 'Error' && /socket hang up/.test(message)) {
    return new ShopError('UNAVAILABLE', `cannot reach DynamoDB at ${location} (${code ?? 'connection closed'}); is it running? (shopdb local start)`, { cause: error });
  }
  if (name === 'InternalServerError' || name === 'ServiceUnavailable' || (status !== undefined && status >= 500)) {
    return new ShopError('UNAVAILABLE', `DynamoDB at ${location} failed on its side (${name}) and the retries ran out; try again`, { cause: error });
  }
  if (/Region is missing/i.test(message)) {
    return new ShopError('BAD_INPUT', 'region: no AWS region is configured; pass --region or set SHOPDB_REGION or AWS_REGION', { cause: error });
  }
  if (name === 'ValidationException') {
    return new ShopError('BAD_INPUT', `DynamoDB at ${location} rejected the request: ${oneLine(message)}`, { cause: error });
  }
  return new ShopError('INTERNAL', `DynamoDB at ${location} failed: ${name}: ${oneLine(message)}`, { cause: error });
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

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
