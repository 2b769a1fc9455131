import type { FastifyInstance } from 'fastify';
import type { Shop } from '../app/shop.js';
import { cartNotFound } from '../core/carts.js';
import { requestField } from '../core/schema.js';
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

const CART_ID = idParam('cartId', 'the cart id');
const LINE = {
  type: 'object',
  required: ['cartId', 'productId'],
  additionalProperties: false,
  properties: { cartId: { type: 'string', description: 'the cart id' }, productId: { type: 'string', description: 'the product id' } },
};
const FIELDS = { user: 'userId' };
const CART_WRITE = responses({ 200: { description: 'The cart after the change (or `unchanged`)', schema: writeAnswer('cart', 'Cart', ['updated', 'unchanged']) } });

type CartParams = { Params: { cartId: string } };
type LineParams = { Params: { cartId: string; productId: string } };

export function cartRoutes(api: FastifyInstance, shop: Shop, metrics: MetricsSink | undefined): void {
  api.get<CartParams & { Querystring: { consistent?: string } }>(
    '/carts/:cartId',
    {
      schema: {
        summary: 'Read a cart',
        description: 'Eventually consistent and answered from the cache by default; X-Cache says what the cache did.',
        tags: ['carts'],
        params: CART_ID,
        querystring: READ_QUERY,
        headers: READ_HEADERS,
        response: responses({ 200: { description: 'The cart', ref: 'Cart' }, 304: { description: 'Not modified (If-None-Match)' } }),
      },
    },
    async (request, reply) => {
      const { cart, cache } = await shop.carts.find(request.params.cartId, readMode(request));
      return answerRead(request, reply, cart, cache, metrics, () => cartNotFound(request.params.cartId));
    },
  );

  api.post<{ Body: { cartId?: string; userId: string } }>(
    '/carts',
    {
      schema: {
        summary: 'Create an empty cart',
        description: 'A repeat for the same user answers 200 `unchanged`; another user under the same id 409.',
        tags: ['carts'],
        headers: CREATE_HEADERS,
        body: strictBody({ cartId: requestField('key', 'the cart id (a new one is made when absent)'), userId: requestField('id', 'the user who owns the cart') }, ['userId']),
        response: responses({
          200: { description: 'Already there for this user', schema: writeAnswer('cart', 'Cart', ['unchanged']) },
          201: { description: 'Created', schema: writeAnswer('cart', 'Cart', ['created']) },
        }),
      },
    },
    async (request, reply) => {
      const onlyIfAbsent = createOnlyIfAbsent(request);
      const { result, cart } = await shop.carts.create({ cartId: addressable(request.body.cartId, 'cartId'), userId: request.body.userId });
      refuseExisting(onlyIfAbsent, result, 'cart', cart.cartId);
      return answerWrite(reply, { result, cart }, cart, itemPath('carts', cart.cartId));
    },
  );

  api.post<CartParams & { Body: { productId: string; price: string; quantity?: number; name?: string } }>(
    '/carts/:cartId/products',
    {
      schema: {
        summary: 'Add a product to a cart',
        description:
          'Adds `quantity` (default 1) at `price`; a product already in the cart gets its quantity raised (its price never changes). Retries: send an Idempotency-Key, or every retry adds again.',
        tags: ['carts'],
        params: CART_ID,
        headers: headers(IF_MATCH_HEADERS, IDEMPOTENT_HEADERS),
        body: strictBody(
          {
            productId: requestField('id', 'the product id'),
            price: requestField('amount', 'the price of one'),
            quantity: requestField('quantity', 'how many to add (default 1)'),
            name: requestField('name', "the product's name (kept from the first add)"),
          },
          ['productId', 'price'],
        ),
        response: CART_WRITE,
      },
    },
    async (request, reply) => {
      const { productId, price, quantity, name } = request.body;
      const { result, cart } = await shop.carts.addProduct({
        cartId: request.params.cartId,
        productId: addressable(productId, 'productId'),
        price,
        quantity: quantity === undefined ? undefined : String(quantity),
        name,
        ifVersion: ifMatch(request),
      });
      return answerWrite(reply, { result, cart }, cart);
    },
  );

  api.put<LineParams & { Body: { quantity: number } }>(
    '/carts/:cartId/products/:productId',
    {
      schema: {
        summary: "Set a product's quantity",
        description: '0 removes the line. Setting the quantity it already has answers `unchanged`.',
        tags: ['carts'],
        params: LINE,
        headers: IF_MATCH_HEADERS,
        body: strictBody({ quantity: requestField('quantityOrZero', 'the new quantity (0 removes the line)') }, ['quantity']),
        response: CART_WRITE,
      },
    },
    async (request, reply) => {
      const { cartId, productId } = request.params;
      const { result, cart } = await shop.carts.setQuantity({ cartId, productId, quantity: String(request.body.quantity), ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, cart }, cart);
    },
  );

  api.delete<LineParams>(
    '/carts/:cartId/products/:productId',
    {
      schema: {
        summary: 'Remove a product from a cart',
        tags: ['carts'],
        params: LINE,
        headers: IF_MATCH_HEADERS,
        response: CART_WRITE,
      },
    },
    async (request, reply) => {
      const { cartId, productId } = request.params;
      const { result, cart } = await shop.carts.removeProduct({ cartId, productId, ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, cart }, cart);
    },
  );

  api.delete<CartParams & { Querystring: { force?: string } }>(
    '/carts/:cartId',
    {
      config: { force: 'force=true in the query' },
      schema: {
        summary: 'Delete a cart',
        description: "A checked-out cart is kept until its order is COMPLETED or CANCELLED, unless force=true. Answers the cart as it was.",
        tags: ['carts'],
        params: CART_ID,
        headers: IF_MATCH_HEADERS,
        querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'string', enum: ['true', 'false'], description: 'delete even if its order is not final' } } },
        response: responses({ 200: { description: 'Deleted', schema: writeAnswer('cart', 'Cart', ['deleted']) } }),
      },
    },
    async (request, reply) => {
      const { result, cart } = await shop.carts.delete({ cartId: request.params.cartId, force: request.query.force === 'true', ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, cart }, undefined);
    },
  );

  api.post<CartParams & { Body: { orderId?: string } | undefined }>(
    '/carts/:cartId/checkout',
    {
      schema: {
        summary: 'Check a cart out as an order',
        description:
          'Creates the order (PENDING, the cart\'s user, lines and total) and marks the cart CHECKED_OUT, in one transaction. A cart already checked out answers its order, `unchanged`. The body may be omitted.',
        tags: ['carts'],
        params: CART_ID,
        headers: headers(IF_MATCH_HEADERS, IDEMPOTENT_HEADERS),
        body: strictBody({ orderId: requestField('key', 'the new order id (a new one is made when absent)') }, []),
        response: responses({
          200: { description: 'Already checked out: its order', schema: writeAnswer('order', 'Order', ['unchanged']) },
          201: { description: 'The order created', schema: writeAnswer('order', 'Order', ['created']) },
        }),
      },
      // A checkout needs no body: an absent one is an empty object.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const { result, order } = await shop.carts.checkout({ cartId: request.params.cartId, orderId: addressable(request.body?.orderId, 'orderId'), ifVersion: ifMatch(request) });
      return answerWrite(reply, { result, order }, undefined, itemPath('orders', order.orderId));
    },
  );

  api.get<{ Querystring: { userId?: string; limit?: string; cursor?: string } }>(
    '/carts',
    {
      schema: {
        summary: "List a user's carts",
        description: 'Newest first. Pass `nextCursor` back as `cursor` for the next page.',
        tags: ['carts'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['userId'],
          properties: {
            userId: { type: 'string', description: "the user's carts" },
            limit: { type: 'string', maxLength: 20, description: 'items per page (1-1000, default 50)' },
            cursor: { type: 'string', description: 'nextCursor of the previous page' },
          },
        },
        response: responses({
          200: {
            description: 'A page',
            schema: { type: 'object', required: ['carts', 'nextCursor'], properties: { carts: { type: 'array', items: { $ref: 'Cart#' } }, nextCursor: { type: ['string', 'null'] } } },
          },
        }),
      },
    },
    async (request, reply) => {
      const { userId, limit, cursor } = request.query;
      const page = await withFields(FIELDS, () => shop.listing.carts.page({ user: userId, limit, cursor }));
      return answerPage(reply, '/v1/carts', request.query, 'carts', page);
    },
  );
}
