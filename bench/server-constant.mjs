// The baseline for `shopdb serve`'s cached reads: a minimal fastify app whose one route answers a constant JSON
// order (the shape and size of serve's answer), with nothing behind it. `node bench/server-constant.mjs PORT`
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const ORDER = {
  orderId: 'bench-order',
  userId: 'u1',
  totalAmount: '19.99',
  status: 'PENDING',
  createdAt: '2026-11-28T10:00:00.000Z',
  updatedAt: '2026-11-28T10:00:00.000Z',
  version: 1,
};
const app = Fastify({ logger: false });
app.get('/v1/orders/:orderId', async () => ORDER);
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${app.server.address().port}` })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
