import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { CartEdit, LineEdit } from '../../src/core/carts.js';
import type { Cart, Order } from '../../src/core/model.js';
import { OrderService } from '../../src/core/orders.js';
import { CartTable } from '../../src/store/cart-table.js';
import { CapacityMeter, type Dynamo } from '../../src/store/dynamo-client.js';
import { OrderTable } from '../../src/store/order-table.js';

/*
 * Expression strings never contain user text, only placeholders: whatever an
 * id, product id or name holds, the requests the store classes build have the
 * same expressions, placeholder names and attribute names as for a plain id,
 * and the user's text travels only as a value (Key, Item,
 * ExpressionAttributeValues). `documents.send` is a recording spy answering
 * with canned responses: it checks what we send, not how DynamoDB behaves.
 */

interface Sent {
  command: string;
  input: Record<string, unknown>;
}

function spyDynamo(): { dynamo: Dynamo; sent: Sent[] } {
  const sent: Sent[] = [];
  const documents = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ command: command.constructor.name, input: command.input });
      const key = command.input.Key as Record<string, unknown> | undefined;
      // Just enough for the callers to carry on: a written order for an update, nothing found for a read.
      if (command.constructor.name === 'UpdateCommand') return { Attributes: { ...key, status: 'PAID', version: 2 } };
      return {};
    },
  };
  return { dynamo: { client: {} as DynamoDBClient, documents: documents as unknown as DynamoDBDocumentClient, location: 'spy', capacity: new CapacityMeter() }, sent };
}

const AT = '2026-01-01T00:00:00.000Z';
const PLAIN = 'plain-1';
const HOSTILE = [
  'x = :a OR #b',
  ') OR attribute_exists(y',
  'products[0]',
  'products[0].quantity',
  ':to',
  ':from0',
  '#status',
  'orderId',
  'cartId',
  'attribute_not_exists(orderId) OR size(products) = :count',
  'SET version = :one REMOVE status',
  "'; DROP TABLE EcommerceOrders; --",
  '${injected}',
  'a.b.c',
  '"quoted" `ticks`',
  'ünïcødé 😀 名前',
];

const EXPRESSION_FIELDS = ['UpdateExpression', 'ConditionExpression', 'KeyConditionExpression', 'FilterExpression', 'ProjectionExpression'] as const;
const VALUE_FIELDS = new Set(['Key', 'Item', 'ExpressionAttributeValues']);

/** The parts of one request (a TransactWrite's items unwrapped) that must not depend on user text. */
function shapes(sent: Sent): Array<Record<string, unknown>> {
  const requests =
    sent.command === 'TransactWriteCommand'
      ? (sent.input.TransactItems as Array<Record<string, Record<string, unknown>>>).flatMap((item) => Object.values(item))
      : [sent.input];
  return requests.map((request) => ({
    command: sent.command,
    TableName: request.TableName,
    ...Object.fromEntries(EXPRESSION_FIELDS.filter((field) => field in request).map((field) => [field, request[field]])),
    ExpressionAttributeNames: request.ExpressionAttributeNames,
    placeholders: Object.keys((request.ExpressionAttributeValues as Record<string, unknown> | undefined) ?? {}).sort(),
    keyAttributes: Object.keys((request.Key as Record<string, unknown> | undefined) ?? {}),
  }));
}

/** Every string in the request with its path, except the expressions themselves (compared whole above). */
function strings(value: unknown, path: string[] = []): Array<{ path: string[]; text: string }> {
  if (typeof value === 'string') return [{ path, text: value }];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    (EXPRESSION_FIELDS as readonly string[]).includes(key) || key === 'ExpressionAttributeNames' ? [] : strings(inner, [...path, key]),
  );
}

/** Runs `call` with a plain text and with `text`, and checks the requests differ only in values. */
async function expectOnlyValues(text: string, call: (dynamo: Dynamo, text: string) => Promise<unknown>): Promise<Sent[]> {
  const plain = spyDynamo();
  await call(plain.dynamo, PLAIN);
  const hostile = spyDynamo();
  await call(hostile.dynamo, text);

  expect(hostile.sent.length).toBeGreaterThan(0);
  expect(hostile.sent.map(shapes)).toEqual(plain.sent.map(shapes));
  for (const sent of hostile.sent) {
    for (const shape of shapes(sent)) {
      for (const field of EXPRESSION_FIELDS) {
        const expression = shape[field];
        if (typeof expression !== 'string') continue;
        // Text that happens to be part of the fixed vocabulary (":to", "orderId") is covered by the equality above.
        if (!plainExpressions(plain.sent).includes(text)) expect(expression).not.toContain(text);
      }
      for (const name of Object.values((shape.ExpressionAttributeNames as Record<string, string> | undefined) ?? {})) expect(name).not.toBe(text);
    }
    const carriers = strings(sent.input).filter(({ text: found }) => found.includes(text));
    for (const { path } of carriers) expect(path.some((segment) => VALUE_FIELDS.has(segment)), path.join('.')).toBe(true);
  }
  expect(hostile.sent.flatMap((sent) => strings(sent.input)).some(({ text: found }) => found === text)).toBe(true);
  return hostile.sent;
}

function plainExpressions(sent: Sent[]): string {
  return sent.flatMap((one) => shapes(one).flatMap((shape) => EXPRESSION_FIELDS.map((field) => shape[field]).filter((value) => typeof value === 'string'))).join('\n');
}

function edit(text: string, lineEdit: LineEdit, version: number | null = 3): CartEdit {
  return { cartId: text, version, totalBefore: '19.99', totalAfter: '59.97', edit: lineEdit, at: AT };
}

function cart(text: string): Cart {
  return {
    cartId: text,
    userId: text,
    products: [{ productId: text, name: text, quantity: 2, unitPrice: '19.99' }],
    totalAmount: '39.98',
    createdAt: AT,
    updatedAt: AT,
    version: 4,
    status: null,
    orderId: null,
  };
}

function order(text: string): Order {
  return { orderId: text, userId: text, totalAmount: '39.98', status: 'PENDING', createdAt: AT, updatedAt: AT, version: 1, cartId: text, products: cart(text).products };
}

describe('expression strings never contain user text (only placeholders)', () => {
  describe.each(HOSTILE.map((text) => [text]))('%j', (text) => {
    it('OrderTable.insert: id and user only in Item', async () => {
      const [put] = await expectOnlyValues(text, (dynamo, value) =>
        new OrderTable(dynamo, 'Orders').insert({ orderId: value, userId: value, totalAmount: '59.97', createdAt: AT }),
      );
      expect(put?.input.Item).toMatchObject({ orderId: text, userId: text });
      expect(put?.input.ConditionExpression).toBe('attribute_not_exists(orderId)');
    });

    it('OrderTable.get: the id only in Key', async () => {
      const [get] = await expectOnlyValues(text, (dynamo, value) => new OrderTable(dynamo, 'Orders').get(value, true));
      expect(get?.input.Key).toEqual({ orderId: text });
    });

    it('OrderTable.moveStatus: the id only in Key, with and without source statuses', async () => {
      for (const from of [['PENDING', 'PAID'] as const, 'any' as const]) {
        const [update] = await expectOnlyValues(text, (dynamo, value) =>
          new OrderTable(dynamo, 'Orders').moveStatus({ orderId: value, to: 'SHIPPED', from, at: AT }),
        );
        expect(update?.input.Key).toEqual({ orderId: text });
      }
    });

    it('OrderService.setStatus --expect: through the service to the same placeholders', async () => {
      const [update] = await expectOnlyValues(text, (dynamo, value) =>
        new OrderService(new OrderTable(dynamo, 'Orders')).setStatus({ orderId: value, status: 'PAID', expect: 'PENDING' }),
      );
      expect(update?.input.ExpressionAttributeValues).toMatchObject({ ':to': 'PAID', ':from0': 'PENDING' });
    });

    it('CartTable.insert and get: id and user only in Item and Key', async () => {
      const [put] = await expectOnlyValues(text, (dynamo, value) => new CartTable(dynamo, 'Carts', 'Orders').insert({ cartId: value, userId: value, createdAt: AT }));
      expect(put?.input.Item).toMatchObject({ cartId: text, userId: text });
      const [get] = await expectOnlyValues(text, (dynamo, value) => new CartTable(dynamo, 'Carts', 'Orders').get(value, false));
      expect(get?.input.Key).toEqual({ cartId: text });
    });

    it('CartTable.edit appending a line: cart id, product id and name only as values', async () => {
      for (const count of [0, 3]) {
        for (const version of [3, null]) {
          const [write] = await expectOnlyValues(text, (dynamo, value) =>
            new CartTable(dynamo, 'Carts', 'Orders').edit(edit(value, { op: 'append', count, line: { productId: value, name: value, quantity: 2, unitPrice: '19.99' } }, version)),
          );
          const update = (write?.input.TransactItems as Array<{ Update: Record<string, unknown> }>)[0]?.Update;
          expect(update?.Key).toEqual({ cartId: text });
          expect((update?.ExpressionAttributeValues as Record<string, unknown>)[':line']).toMatchObject([{ productId: text, name: text, quantity: { value: '2' } }]);
        }
      }
    });

    it('CartTable.edit setting or removing a line: the product id only as :productId', async () => {
      for (const index of [0, 7]) {
        for (const lineEdit of [{ op: 'set', index, productId: text, quantity: 5 }, { op: 'remove', index, productId: text }] as LineEdit[]) {
          const [write] = await expectOnlyValues(text, (dynamo, value) => new CartTable(dynamo, 'Carts', 'Orders').edit(edit(value, { ...lineEdit, productId: value } as LineEdit)));
          const update = (write?.input.TransactItems as Array<{ Update: Record<string, unknown> }>)[0]?.Update;
          expect(update?.Key).toEqual({ cartId: text });
          expect(update?.ExpressionAttributeValues).toMatchObject({ ':productId': text, ':version': { value: '3' } });
          // The line index is ours (a number from the cart we read), never text from the user.
          expect(update?.UpdateExpression).toContain(`products[${index}]`);
        }
      }
    });

    it('CartTable.remove and checkout, OrderTable.remove: ids only as values', async () => {
      const [removal] = await expectOnlyValues(text, (dynamo, value) =>
        new CartTable(dynamo, 'Carts', 'Orders').remove({ cartId: value, version: 2, order: { orderId: value, finalStatuses: ['COMPLETED', 'CANCELLED'] } }),
      );
      const [deleteCart, check] = removal?.input.TransactItems as Array<Record<string, Record<string, unknown>>>;
      expect(deleteCart?.Delete?.Key).toEqual({ cartId: text });
      expect(check?.ConditionCheck?.Key).toEqual({ orderId: text });
      const [checkout] = await expectOnlyValues(text, (dynamo, value) => new CartTable(dynamo, 'Carts', 'Orders').checkout({ cart: cart(value), order: order(value), at: AT }));
      const [put, update] = checkout?.input.TransactItems as Array<Record<string, Record<string, unknown>>>;
      expect(put?.Put?.Item).toMatchObject({ orderId: text, cartId: text });
      expect(update?.Update?.ExpressionAttributeValues).toMatchObject({ ':orderId': text });
      for (const statuses of [['CANCELLED', 'COMPLETED'] as const, 'any' as const]) {
        const [write] = await expectOnlyValues(text, (dynamo, value) => new OrderTable(dynamo, 'Orders').remove({ orderId: value, version: 7, statuses }));
        const item = (write?.input.TransactItems as Array<Record<string, Record<string, unknown>>>)[0];
        expect(item?.Delete?.Key).toEqual({ orderId: text });
      }
    });
  });
});
