// The environment every bench runs shopdb (and its baselines) in: the bench's own DynamoDB Local,
// dummy credentials, and none of the user's AWS profile, Redis or token settings.
export function benchEnv(endpoint, extra = {}) {
  return {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    SHOPDB_ENDPOINT: endpoint,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PROFILE: undefined,
    SHOPDB_REDIS_URL: undefined,
    REDIS_URL: undefined,
    SHOPDB_API_TOKEN: undefined,
    ...extra,
  };
}
