import type { FastifyInstance } from 'fastify';
import type { Shop } from '../app/shop.js';
import { notFound as orderNotFound } from '../core/orders.js';
import { requestField } from '../core/schema.js';
import { ORDER_STATUSES } from '../core/status.js';
import type { MetricsSink } from './app.js';
import {
  addressable,
  answerPage,
  answerRead,
  answerWrite,
  CREATE_HEADERS,
  createOnlyIfAbsent,
  headers,
  IDEMPOTENT_HEADERS,
  idParam,
  IF_MATCH_HEADERS,
  ifMatch,
  itemPath,
  READ_HEADERS,
  READ_QUERY,
  readMode,
  refuseExisting,
  responses,
  strictBody,
  withFields,
  writeAnswer,
} from './http.js';

const ORDER_ID = idParam('orderId', 'the order id');
/** The core's names for what this API calls otherwise. */
const FIELDS = { amount: 'totalAmount', user: 'userId', 'updated-before': 'updatedBefore' };

export function orderRoutes(api: FastifyInstance, shop: Shop, metrics: MetricsSink | undefined): void {
  api.get<{ Params: { orderId: string }; Querystring: { consistent?: string } }>(
    '/orders/:orderId',
    {
      schema: {
        summary: 'Read an order',
        description: 'Eventually consistent and answered from the cache by default; X-Cache says what the cache did.',
        tags: ['orders'],
        params: ORDER_ID,
        querystring: READ_QUERY,
        headers: READ_HEADERS,
        response: responses({ 200: { description: 'The order', ref: 'Order' }, 304: { description: 'Not modified (If-None-Match)' } }),
      },
    },
    async (request, reply) => {
      const { order, cache } = await shop.orders.find(request.params.orderId, readMode(request));
      return answerRead(request, reply, order, cache, metrics, () => orderNotFound(request.params.orderId));
    },
  );

  api.post<{ Body: { orderId?: string; userId: string; totalAmount: string } }>(
    '/orders',
    {
      schema: {
        summary: 'Create an order (PENDING)',
        description: 'A repeat with the same contents answers 200 `unchanged`; other contents under the same id 409.',
        tags: ['orders'],
        headers: CREATE_HEADERS,
        body: strictBody(
          {
            orderId: requestField('key', 'the order id (a new one is made when absent)'),
            userId: requestField('id', 'the user who placed the order'),
            totalAmount: requestField('amount', 'the total'),
          },
          ['userId', 'totalAmount'],
        ),
        response: responses({
          200: { description: 'Already there with these contents', schema: writeAnswer('order', 'Order', ['unchanged']) },
          201: { description: 'Created', schema: writeAnswer('order', 'Order', ['created']) },
        }),
      },
    },
    async (request, reply) => {
      const { orderId, userId, totalAmount } = request.body;
      const onlyIfAbsent = createOnlyIfAbsent(request);
      const { result, order } = await withFields(FIELDS, () => shop.orders.create({ orderId: addressable(orderId, 'orderId'), userId, amount: totalAmount }));
      refuseExisting(onlyIfAbsent, result, 'order', order.orderId);
      return answerWrite(reply, { result, order }, order, itemPath('orders', order.orderId));
    },
  );

  api.post<{ Params: { orderId: string }; Body: { status: string; expect?: string; force?: boolean } }>(
    '/orders/:orderId/status',
    {
      schema: {
        summary: "Move an order's status",
        description:
          'Moves go PENDING → PAID → SHIPPED → COMPLETED, CANCELLED only from PENDING or PAID; `force` allows any move. `expect` requires the current status; If-Match the current version.',
        tags: ['orders'],
        params: ORDER_ID,
        headers: headers(IF_MATCH_HEADERS, IDEMPOTENT_HEADERS),
        body: strictBody(
          {
            status: requestField('orderStatus', 'the new status'),
            expect: requestField('orderStatus', 'the status the order must hold now'),
            force: requestField('boolean', 'allow a move the rules refuse'),
          },
          ['status'],
        ),
        response: responses({ 200: { description: 'Updated, or already in that status', schema: writeAnswer('order', 'Order', ['updated', 'unchanged']) } }),
      },
    },
    async (request, reply) => {
      const { status, expect, force } = request.body;
      const { result, order } = await shop.orders.setStatus({ orderId: request.params.orderId, status, expect, force: force === true, ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, order }, order);
    },
  );

  api.delete<{ Params: { orderId: string }; Querystring: { expect?: string; force?: string } }>(
    '/orders/:orderId',
    {
      config: { force: 'force=true in the query' },
      schema: {
        summary: 'Delete an order',
        description: 'Only CANCELLED or COMPLETED orders, unless force=true. Answers the order as it was.',
        tags: ['orders'],
        params: ORDER_ID,
        headers: IF_MATCH_HEADERS,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            expect: { type: 'string', enum: [...ORDER_STATUSES], description: 'the status the order must hold' },
            force: { type: 'string', enum: ['true', 'false'], description: 'delete whatever its status' },
          },
        },
        response: responses({ 200: { description: 'Deleted', schema: writeAnswer('order', 'Order', ['deleted']) } }),
      },
    },
    async (request, reply) => {
      const { expect, force } = request.query;
      const { result, order } = await shop.orders.delete({ orderId: request.params.orderId, expect, force: force === 'true', ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, order }, undefined);
    },
  );

  api.get<{ Querystring: { userId?: string; status?: string; updatedBefore?: string; limit?: string; cursor?: string } }>(
    '/orders',
    {
      schema: {
        summary: 'List orders',
        description: "By user (newest first), by status (most recently updated first, optionally before a time), or both. Pass `nextCursor` back as `cursor` for the next page.",
        tags: ['orders'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            userId: { type: 'string', description: "the user's orders" },
            status: { type: 'string', description: 'orders in this status' },
            updatedBefore: { type: 'string', description: 'with status: updated before this ISO 8601 instant' },
            limit: { type: 'string', maxLength: 20, description: 'items per page (1-1000, default 50)' },
            cursor: { type: 'string', description: 'nextCursor of the previous page' },
          },
        },
        response: responses({
          200: {
            description: 'A page',
            schema: { type: 'object', required: ['orders', 'nextCursor'], properties: { orders: { type: 'array', items: { $ref: 'Order#' } }, nextCursor: { type: ['string', 'null'] } } },
          },
        }),
      },
    },
    async (request, reply) => {
      const { userId, status, updatedBefore, limit, cursor } = request.query;
      const page = await withFields(FIELDS, () => shop.listing.orders.page({ user: userId, status, updatedBefore, limit, cursor }));
      return answerPage(reply, '/v1/orders', request.query, 'orders', page);
    },
  );
}
