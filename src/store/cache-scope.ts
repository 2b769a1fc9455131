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
 * One spelling per address, and no more: two environments sharing one Redis
 * must never meet, so only what is provably the same address is merged.
 * URL already lower-cases the scheme and host names, writes every IPv4 form
 * (127.1, 0x7f000001, 2130706433) in dotted decimal, compresses IPv6 and drops
 * the scheme's default port; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * the IPv4 address itself. Everything else stays apart: 127.0.0.1, 127.0.0.2,
 * [::1] and localhost (a name, which may resolve to either loopback address)
 * can be four different servers on one port. The path stays too (a proxy may
 * route by it), less one trailing slash, which the SDK drops when it joins
 * the endpoint's path to the request's.
 */
export function normalise(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    const host = `${mappedIpv4(url.hostname) ?? url.hostname}${url.port === '' ? '' : `:${url.port}`}`;
    return `${url.protocol}//${host}${url.pathname.replace(/\/$/, '')}${url.search}`;
  } catch {
    return endpoint;
  }
}

/** a.b.c.d for `hostname` [::ffff:xxxx:yyyy] (URL writes a mapped address in hex), else undefined. */
function mappedIpv4(hostname: string): string | undefined {
  const match = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(hostname);
  if (!match) return undefined;
  const [high, low] = [parseInt(match[1]!, 16), parseInt(match[2]!, 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
