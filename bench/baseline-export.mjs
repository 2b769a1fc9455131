// The baseline for `shopdb order export`: a minimal raw-SDK parallel Scan printing NDJSON.
// usage: node bench/baseline-export.mjs <endpoint> <table> <segments>
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';

const [endpoint, table, segmentsText] = process.argv.slice(2);
const segments = Number(segmentsText);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
  { unmarshallOptions: { wrapNumbers: true } },
);
const numbers = (key, value) => (value && typeof value === 'object' && 'value' in value && Object.keys(value).length === 1 ? value.value : value);

await Promise.all(
  Array.from({ length: segments }, async (_, segment) => {
    let ExclusiveStartKey;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, ExclusiveStartKey }));
      const text = (page.Items ?? []).map((item) => JSON.stringify(item, numbers)).join('\n');
      if (text && !process.stdout.write(`${text}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }),
);
client.destroy();
