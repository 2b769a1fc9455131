import { execa } from 'execa';
import { dynamoEndpoint } from './endpoint.js';

/*
 * The original design's own client: boto3, from Debian's python3-boto3
 * (/usr/bin/python3; .ci/run installs it). Fixtures are written with the
 * seed's calls (create_table, put_item with str(total_amount), update_item of
 * status) and with hand-written items, so the legacy suite reads exactly what
 * that client stores. Missing boto3 fails the suite loudly; it never skips.
 */

export const PYTHON = '/usr/bin/python3';

/** DynamoDB JSON, as the low-level API and shopdb's `extra` carry it (binary as base64). */
export type DynamoJson = Record<string, unknown>;

const SCRIPT = String.raw`
import base64, json, sys
from decimal import Decimal
import boto3
from boto3.dynamodb.types import TypeDeserializer, Binary

request = json.load(sys.stdin)
endpoint = request['endpoint']
session = boto3.session.Session(aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')
dynamodb = session.resource('dynamodb', endpoint_url=endpoint)
client = session.client('dynamodb', endpoint_url=endpoint)
deserializer = TypeDeserializer()

def from_json(value):
    # DynamoDB JSON (binary as base64) to the Python values boto3's resource API takes.
    kind, inner = next(iter(value.items()))
    if kind == 'B':
        return Binary(base64.b64decode(inner))
    if kind == 'BS':
        return set(Binary(base64.b64decode(b)) for b in inner)
    if kind == 'L':
        return [from_json(v) for v in inner]
    if kind == 'M':
        return {k: from_json(v) for k, v in inner.items()}
    return deserializer.deserialize(value)

def to_json(value):
    kind, inner = next(iter(value.items()))
    if kind == 'B':
        return {'B': base64.b64encode(inner).decode()}
    if kind == 'BS':
        return {'BS': [base64.b64encode(b).decode() for b in inner]}
    if kind == 'L':
        return {'L': [to_json(v) for v in inner]}
    if kind == 'M':
        return {'M': {k: to_json(v) for k, v in inner.items()}}
    return value

# The seed's create_tables(), for a table prefix.
def create_tables(prefix):
    orders_table = dynamodb.create_table(
        TableName=prefix + 'EcommerceOrders',
        KeySchema=[{'AttributeName': 'orderId', 'KeyType': 'HASH'}],
        AttributeDefinitions=[{'AttributeName': 'orderId', 'AttributeType': 'S'}],
        ProvisionedThroughput={'ReadCapacityUnits': 5, 'WriteCapacityUnits': 5}
    )
    orders_table.wait_until_exists()
    carts_table = dynamodb.create_table(
        TableName=prefix + 'EcommerceCarts',
        KeySchema=[{'AttributeName': 'cartId', 'KeyType': 'HASH'}],
        AttributeDefinitions=[{'AttributeName': 'cartId', 'AttributeType': 'S'}],
        ProvisionedThroughput={'ReadCapacityUnits': 5, 'WriteCapacityUnits': 5}
    )
    carts_table.wait_until_exists()

# The seed's create_order().
def create_order(table_name, order_id, user_id, total_amount):
    table = dynamodb.Table(table_name)
    table.put_item(
        Item={
            'orderId': order_id,
            'userId': user_id,
            'totalAmount': str(total_amount),
            'status': 'PENDING'
        }
    )

# The seed's update_order_status().
def update_order_status(table_name, order_id, status):
    table = dynamodb.Table(table_name)
    table.update_item(
        Key={'orderId': order_id},
        UpdateExpression="SET #s = :status",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":status": status}
    )

results = []
for op in request['ops']:
    name = op['op']
    if name == 'create_tables':
        create_tables(op['prefix'])
        results.append(None)
    elif name == 'create_order':
        create_order(op['table'], op['orderId'], op['userId'], Decimal(op['totalAmount']))
        results.append(None)
    elif name == 'update_order_status':
        update_order_status(op['table'], op['orderId'], op['status'])
        results.append(None)
    elif name == 'put_item':
        dynamodb.Table(op['table']).put_item(Item={k: from_json(v) for k, v in op['item'].items()})
        results.append(None)
    elif name == 'get_item':
        item = client.get_item(TableName=op['table'], Key=op['key'], ConsistentRead=True).get('Item')
        results.append(None if item is None else {k: to_json(v) for k, v in item.items()})
    else:
        raise SystemExit('unknown op ' + name)
json.dump(results, sys.stdout)
`;

export type Boto3Op =
  | { op: 'create_tables'; prefix: string }
  | { op: 'create_order'; table: string; orderId: string; userId: string; totalAmount: string }
  | { op: 'update_order_status'; table: string; orderId: string; status: string }
  | { op: 'put_item'; table: string; item: DynamoJson }
  | { op: 'get_item'; table: string; key: DynamoJson };

/** Runs the operations in one Python process; resolves with one result per operation (get_item: the item in DynamoDB JSON, or null). */
export async function boto3(ops: Boto3Op[]): Promise<unknown[]> {
  const run = await execa(PYTHON, ['-c', SCRIPT], {
    input: JSON.stringify({ endpoint: dynamoEndpoint(), ops }),
    reject: false,
    timeout: 120_000,
    env: { AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
  });
  if (run.exitCode !== 0) {
    const hint = /No module named 'boto3'/.test(String(run.stderr)) ? ' (install Debian\'s python3-boto3: apt-get install python3-boto3)' : '';
    throw new Error(`boto3 helper failed (${run.exitCode})${hint}: ${String(run.stderr).slice(-2000)}`);
  }
  return JSON.parse(String(run.stdout)) as unknown[];
}

export async function boto3Get(table: string, key: DynamoJson): Promise<DynamoJson | null> {
  const [item] = await boto3([{ op: 'get_item', table, key }]);
  return (item ?? null) as DynamoJson | null;
}
