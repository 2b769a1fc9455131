// The baseline for `shopdb serve`'s uncached reads: a minimal fastify app whose one route does one raw SDK
// GetItem of the order named in the path and answers it. `node bench/server-raw-get.mjs PORT ENDPOINT TABLE`
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import Fastify from 'fastify';

const [portText, endpoint, table] = process.argv.slice(2);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
);
const app = Fastify({ logger: false });
app.get('/v1/orders/:orderId', async (request, reply) => {
  const { Item } = await client.send(new GetCommand({ TableName: table, Key: { orderId: request.params.orderId } }));
  if (Item === undefined) return reply.code(404).send({ error: 'not found' });
  return Item;
});
await app.listen({ host: '127.0.0.1', port: Number(portText ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${app.server.address().port}` })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => { client.destroy(); process.exit(0); }));
