import { DynamoDBClient, PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ShopSettings } from '../../src/app/shop.js';
import { dynamoEndpoint } from './endpoint.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Direct access to the test DynamoDB Local, to check what shopdb really wrote (or did not). */
export function rawClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: dynamoEndpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

/** Settings for openShop on the test DynamoDB Local under `prefix`, without a cache unless overridden. */
export function shopSettings(prefix: string, overrides: Partial<ShopSettings> = {}): ShopSettings {
  return {
    endpoint: dynamoEndpoint(),
    region: 'us-east-1',
    staticCredentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    timeoutMs: 10_000,
    location: dynamoEndpoint(),
    tablePrefix: prefix,
    cache: undefined,
    ...overrides,
  };
}

export async function scanAll(client: DynamoDBClient, table: string): Promise<Array<Record<string, AttributeValue>>> {
  const items: Array<Record<string, AttributeValue>> = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

export async function putRaw(client: DynamoDBClient, table: string, item: Record<string, AttributeValue>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: table, Item: item }));
}
