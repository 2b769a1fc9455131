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

/**
 * One spelling per endpoint: lower-case scheme and host, no default port, no
 * trailing slash, and every name of this machine's loopback (localhost,
 * 127.0.0.0/8, ::1, ::ffff:127.x.x.x) as one host: they reach the same local
 * server, and two spellings would be two scopes, each blind to the other's
 * writes.
 */
export function normalise(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    const host = isLoopbackHost(url.hostname) ? `loopback${url.port === '' ? '' : `:${url.port}`}` : url.host;
    return `${url.protocol}//${host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}

/** `hostname` as URL gives it: lower case, IPv4 in dotted decimal, IPv6 compressed in brackets. */
function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === 'localhost.' || hostname === '[::1]') return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(hostname)) return true;
  // IPv4-mapped 127.x.x.x, which URL writes in hex: [::ffff:7f00:1].
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(hostname);
}
