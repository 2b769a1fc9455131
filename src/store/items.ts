import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { convertToAttr, unmarshall } from '@aws-sdk/util-dynamodb';
import * as attributes from '../core/attributes.js';
import type { AttributeJson, Cart, Order, ProductLine } from '../core/model.js';

/*
 * The document client hands items over unmarshalled, numbers wrapped
 * (NumberValue), so nothing is rounded on the way in. These functions turn
 * them into DynamoDB JSON and back, and core/attributes.ts maps that to the
 * JSON contract: every type (sets, binary, nested maps) and every digit
 * round-trips exactly.
 */

type RawItem = Record<string, unknown>;

/** Failed-condition errors carry the item in attribute-value form, which the document client leaves alone. */
export function fromAttributeValues(item: Record<string, AttributeValue>): RawItem {
  return unmarshall(item, { wrapNumbers: true });
}

export function orderToItem(order: Order): RawItem {
  return toDocument(attributes.fromOrder(order));
}

export function cartToItem(cart: Cart): RawItem {
  return toDocument(attributes.fromCart(cart));
}

export function lineToItem(line: ProductLine): RawItem {
  return toDocument(attributes.fromLine(line));
}

export function toOrder(item: RawItem): Order {
  return attributes.toOrder(toJson(item));
}

export function toCart(item: RawItem): Cart {
  return attributes.toCart(toJson(item));
}

/** An unmarshalled item as DynamoDB JSON. */
export function toJson(item: RawItem): Record<string, AttributeJson> {
  const json: Record<string, AttributeJson> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    json[name] = valueToJson(convertToAttr(value, { convertClassInstanceToMap: false }));
  }
  return json;
}

function valueToJson(value: AttributeValue): AttributeJson {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map((element) => Buffer.from(element).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(valueToJson) };
  if (value.M !== undefined) return { M: Object.fromEntries(Object.entries(value.M).map(([name, element]) => [name, valueToJson(element)])) };
  throw new Error(`unsupported attribute value: ${Object.keys(value).join(', ')}`);
}

/** DynamoDB JSON as the document client's input: numbers wrapped, binary as bytes, sets as Sets. */
export function toDocument(item: Record<string, AttributeJson>): RawItem {
  const values: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(item)) values[name] = jsonToValue(value);
  return unmarshall(values, { wrapNumbers: true });
}

function jsonToValue(value: AttributeJson): AttributeValue {
  if ('B' in value) return { B: Buffer.from(value.B, 'base64') };
  if ('BS' in value) return { BS: value.BS.map((element) => Buffer.from(element, 'base64')) };
  if ('L' in value) return { L: value.L.map(jsonToValue) };
  if ('M' in value) return { M: Object.fromEntries(Object.entries(value.M).map(([name, element]) => [name, jsonToValue(element)])) };
  return value as AttributeValue;
}
