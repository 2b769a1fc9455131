import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
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

/** An item as DynamoDB sent it, read without the document client: the fast path for export. */
export function attributeValuesToOrder(item: Record<string, AttributeValue>): Order {
  return attributes.toOrder(attributeValuesToJson(item));
}

export function attributeValuesToCart(item: Record<string, AttributeValue>): Cart {
  return attributes.toCart(attributeValuesToJson(item));
}

/** Attribute values (the low-level client's form) as DynamoDB JSON; own keys only, every name kept. */
export function attributeValuesToJson(item: Record<string, AttributeValue>): Record<string, AttributeJson> {
  const json: Record<string, AttributeJson> = {};
  for (const name of Object.keys(item)) {
    const value = item[name];
    if (value !== undefined) attributes.define(json, name, attributeValueToJson(value));
  }
  return json;
}

/** DynamoDB JSON as attribute values (the low-level client's form); own keys only, every name kept. */
export function jsonToAttributeValues(item: Record<string, AttributeJson>): Record<string, AttributeValue> {
  const values: Record<string, AttributeValue> = {};
  for (const name of Object.keys(item)) attributes.define(values, name, jsonToAttributeValue(item[name] as AttributeJson));
  return values;
}

function jsonToAttributeValue(value: AttributeJson): AttributeValue {
  if ('B' in value) return { B: Buffer.from(value.B, 'base64') };
  if ('BS' in value) return { BS: value.BS.map((element) => Buffer.from(element, 'base64')) };
  if ('L' in value) return { L: value.L.map(jsonToAttributeValue) };
  if ('M' in value) return { M: jsonToAttributeValues(value.M) };
  return value as AttributeValue;
}

function attributeValueToJson(value: AttributeValue): AttributeJson {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.M !== undefined) return { M: attributeValuesToJson(value.M) };
  if (value.L !== undefined) return { L: value.L.map(attributeValueToJson) };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map((element) => Buffer.from(element).toString('base64')) };
  throw new Error(`unsupported attribute value: ${Object.keys(value).join(', ')}`);
}

export function toOrder(item: RawItem): Order {
  return attributes.toOrder(toJson(item));
}

export function toCart(item: RawItem): Cart {
  return attributes.toCart(toJson(item));
}

/*
 * Both directions are written here rather than with util-dynamodb's
 * convertToAttr/unmarshall: those look at `value.constructor` (a map holding
 * an attribute named `constructor` fails to convert) and build maps by
 * assignment. Nested maps go to the document client as Map instances, which
 * it converts by their entries.
 */

/** An unmarshalled item as DynamoDB JSON. */
export function toJson(item: RawItem): Record<string, AttributeJson> {
  const json: Record<string, AttributeJson> = {};
  for (const name of Object.keys(item)) {
    const value = item[name];
    if (value !== undefined) attributes.define(json, name, nativeToJson(value));
  }
  return json;
}

function nativeToJson(value: unknown): AttributeJson {
  if (typeof value === 'string') return { S: value };
  if (value instanceof NumberValue) return { N: value.toString() };
  if (typeof value === 'number' || typeof value === 'bigint') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value === null) return { NULL: true };
  if (value instanceof Uint8Array) return { B: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return { L: value.map(nativeToJson) };
  if (value instanceof Set) {
    const elements = [...(value as Set<unknown>)];
    const [first] = elements;
    if (typeof first === 'string') return { SS: elements as string[] };
    if (first instanceof Uint8Array) return { BS: elements.map((element) => Buffer.from(element as Uint8Array).toString('base64')) };
    return { NS: elements.map((element) => String(element)) };
  }
  if (value instanceof Map) {
    const map: Record<string, AttributeJson> = {};
    for (const [name, element] of value as Map<string, unknown>) attributes.define(map, name, nativeToJson(element));
    return { M: map };
  }
  if (typeof value === 'object') return { M: toJson(value as RawItem) };
  throw new Error(`unsupported attribute value: ${typeof value}`);
}

/** DynamoDB JSON as the document client's input: numbers wrapped, binary as bytes, sets as Sets, maps as Maps. */
export function toDocument(item: Record<string, AttributeJson>): RawItem {
  const document: RawItem = {};
  for (const name of Object.keys(item)) attributes.define(document, name, jsonToNative(item[name] as AttributeJson));
  return document;
}

function jsonToNative(value: AttributeJson): unknown {
  if ('S' in value) return value.S;
  if ('N' in value) return NumberValue.from(value.N);
  if ('B' in value) return Buffer.from(value.B, 'base64');
  if ('BOOL' in value) return value.BOOL;
  if ('NULL' in value) return null;
  if ('SS' in value) return new Set(value.SS);
  if ('NS' in value) return new Set(value.NS.map((element) => NumberValue.from(element)));
  if ('BS' in value) return new Set(value.BS.map((element) => Buffer.from(element, 'base64')));
  if ('L' in value) return value.L.map(jsonToNative);
  return new Map(Object.keys(value.M).map((name) => [name, jsonToNative(value.M[name] as AttributeJson)]));
}
