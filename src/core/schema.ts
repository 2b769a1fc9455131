import { CART_ENTITY, CART_STATUSES, LINE_ENTITY, ORDER_ENTITY, type EntitySpec, type FieldKind } from './entities.js';
import { ORDER_STATUSES } from './status.js';
import { MAX_KEY_BYTES, MAX_NAME_LENGTH, MAX_QUANTITY } from './validate.js';

/*
 * The JSON Schema (2020-12, as OpenAPI 3.1 uses it) of the JSON contract,
 * derived from the entity definitions (entities.ts): the shapes `get --json`
 * prints and the HTTP API answers. Every field is present; a field is null
 * when the stored attribute does not hold what shopdb would write there
 * (model.ts), and such a value is kept in `extra` as DynamoDB JSON.
 *
 * Also the pieces a request schema is built from (requestField), so that the
 * HTTP API refuses the wrong JSON type before the core checks the value
 * itself (and names the field when it does).
 */

export type JsonSchema = Record<string, unknown>;

/** DynamoDB JSON of one attribute value: exactly one of the type keys. */
export const ATTRIBUTE_SCHEMA: JsonSchema = {
  $id: 'AttributeValue',
  description: 'One DynamoDB attribute value in DynamoDB JSON, digits and types exactly as stored (binary as base64)',
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: {
    S: { type: 'string' },
    N: { type: 'string' },
    B: { type: 'string' },
    BOOL: { type: 'boolean' },
    NULL: { const: true },
    SS: { type: 'array', items: { type: 'string' } },
    NS: { type: 'array', items: { type: 'string' } },
    BS: { type: 'array', items: { type: 'string' } },
    L: { type: 'array', items: { $ref: 'AttributeValue#' } },
    M: { type: 'object', additionalProperties: { $ref: 'AttributeValue#' } },
  },
};

const EXTRA_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Attributes shopdb does not read (unknown names, or known names holding another type); absent when there are none',
  additionalProperties: { $ref: 'AttributeValue#' },
};

/** The schema of a value of this kind as the contract prints it (nullable except the key). */
function fieldSchema(kind: FieldKind, lineRef: string): JsonSchema {
  switch (kind) {
    case 'key':
      return { type: 'string' };
    case 'id':
    case 'name':
    case 'timestamp':
      return { type: ['string', 'null'] };
    case 'amount':
      return { type: ['string', 'null'], pattern: '^\\d+\\.\\d{2}$', examples: ['12.34'] };
    case 'orderStatus':
      return { type: ['string', 'null'], enum: [...ORDER_STATUSES, null] };
    case 'cartStatus':
      return { type: ['string', 'null'], enum: [...CART_STATUSES, null] };
    case 'positive':
      return { type: ['integer', 'null'], minimum: 1 };
    case 'lines':
      return { type: ['array', 'null'], items: { $ref: `${lineRef}#` } };
  }
}

function entitySchema(entity: EntitySpec, id: string, lineRef: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const field of entity.fields) properties[field.name] = { ...fieldSchema(field.kind, lineRef), description: field.description };
  properties.extra = EXTRA_SCHEMA;
  return {
    $id: id,
    type: 'object',
    required: entity.fields.map((field) => field.name),
    additionalProperties: false,
    properties,
  };
}

export const LINE_SCHEMA = entitySchema(LINE_ENTITY, 'ProductLine', 'ProductLine');
export const ORDER_SCHEMA = entitySchema(ORDER_ENTITY, 'Order', 'ProductLine');
export const CART_SCHEMA = entitySchema(CART_ENTITY, 'Cart', 'ProductLine');

/** Every shared schema, in the order they may be registered ($ref targets first). */
export const CONTRACT_SCHEMAS: readonly JsonSchema[] = [ATTRIBUTE_SCHEMA, LINE_SCHEMA, ORDER_SCHEMA, CART_SCHEMA];

/**
 * A request field of this kind, as JSON: the type (and the plain bounds) only.
 * The core validates the value and names the field when it refuses it.
 */
export function requestField(kind: FieldKind | 'quantity' | 'quantityOrZero' | 'boolean', description: string): JsonSchema {
  switch (kind) {
    case 'key':
    case 'id':
      // Characters, not bytes: the core counts bytes; this only keeps absurd bodies away from it.
      return { type: 'string', maxLength: MAX_KEY_BYTES, description };
    case 'name':
      return { type: 'string', maxLength: MAX_NAME_LENGTH, description };
    case 'amount':
      return { type: 'string', maxLength: 40, description: `${description}: a decimal string such as "12.34" (a JSON number could lose cents)`, examples: ['12.34'] };
    case 'orderStatus':
      return { type: 'string', maxLength: 40, description: `${description}: ${ORDER_STATUSES.join(', ')}`, examples: ['PAID'] };
    case 'quantity':
      return { type: 'integer', minimum: 1, maximum: MAX_QUANTITY, description };
    case 'quantityOrZero':
      return { type: 'integer', minimum: 0, maximum: MAX_QUANTITY, description };
    case 'boolean':
      return { type: 'boolean', description };
    default:
      return { type: 'string', maxLength: 100, description };
  }
}
