// The baseline for `shopdb order get`: the least a Node script needs to read one item with the SDK.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';

const [endpoint, table, orderId] = process.argv.slice(2);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
);
const { Item } = await client.send(new GetCommand({ TableName: table, Key: { orderId } }));
process.stdout.write(`${JSON.stringify(Item)}\n`);
client.destroy();
