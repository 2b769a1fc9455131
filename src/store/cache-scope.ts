import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Names the DynamoDB a cache entry comes from: the endpoint the SDK will call
 * and the region it signs for (DynamoDB Local keeps one database per region).
 * With no endpoint configured this is the SDK's own choice for the region
 * (the AWS config file's endpoint_url, FIPS and dual-stack settings
 * included), resolved locally: no network call. Undefined when no region is
 * configured at all; DynamoDB calls then fail and say so.
 */
export async function dynamoIdentity(settings: { endpoint: string | undefined; region: string | undefined }): Promise<string | undefined> {
  let client: DynamoDBClient;
  try {
    client = new DynamoDBClient({ region: settings.region, endpoint: settings.endpoint });
  } catch {
    return undefined;
  }
  try {
    const { config } = client;
    const region = await config.region();
    const endpoint = settings.endpoint ?? (await configuredEndpoint(config)) ?? config.endpointProvider({
      Region: region,
      UseFIPS: await config.useFipsEndpoint(),
      UseDualStack: await config.useDualstackEndpoint(),
    }).url.href;
    return `${normalise(endpoint)} ${region}`;
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}

async function configuredEndpoint(config: DynamoDBClient['config']): Promise<string | undefined> {
  if (config.ignoreConfiguredEndpointUrls) return undefined;
  return (await config.serviceConfiguredEndpoint?.()) ?? undefined;
}

/** One spelling per endpoint: lower-case scheme and host, no default port, no trailing slash. */
export function normalise(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}
