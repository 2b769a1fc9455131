// The baseline for `shopdb order import --overwrite`: a minimal raw-SDK BatchWriteItem writer.
// With `transact`, the ceiling of the default (never overwrite) mode's mechanism instead:
// TransactWriteItems of 100 puts, each conditioned on the id being free.
// usage: node bench/baseline-import.mjs <endpoint> <table> <file.ndjson> <concurrency> [transact]
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, NumberValue, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [endpoint, table, file, concurrencyText, mode] = process.argv.slice(2);
const transact = mode === 'transact';
const batchSize = transact ? 100 : 25;
const concurrency = Number(concurrencyText);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
);
const inFlight = new Set();
let batch = [];

async function write(items) {
  if (transact) {
    const TransactItems = items.map((Item) => ({ Put: { TableName: table, Item, ConditionExpression: 'attribute_not_exists(orderId)' } }));
    await client.send(new TransactWriteCommand({ TransactItems }));
    return;
  }
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  while (requests.length > 0) {
    const answer = await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
    requests = answer.UnprocessedItems?.[table] ?? [];
  }
}

for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (!line) continue;
  const order = JSON.parse(line);
  // The item shopdb stores: with its status index key (README "Secondary indexes"), so both writers
  // make DynamoDB maintain the same index entries.
  const statusShard = order.status && order.updatedAt ? `${order.status}#${createHash('sha256').update(order.orderId).digest()[0] % 8}` : undefined;
  batch.push({ ...order, totalAmount: NumberValue.from(order.totalAmount), ...(statusShard ? { statusShard } : {}) });
  if (batch.length === batchSize) {
    const task = write(batch).finally(() => inFlight.delete(task));
    inFlight.add(task);
    batch = [];
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
}
if (batch.length > 0) await write(batch);
await Promise.all(inFlight);
client.destroy();
