import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Order } from '../core/model.js';
import type { StatusMove } from '../core/orders.js';
import type { Dynamo } from './dynamo-client.js';
import { refuseProtoItem, refusingProtoNames, serviceError } from './dynamo-client.js';
import { fromAttributeValues } from './items.js';

type RawItem = Record<string, unknown>;

/**
 * The item as it stands after a write's condition failed. DynamoDB sends it
 * with the failure (ReturnValuesOnConditionCheckFailure: ALL_OLD); services
 * that ignore the option (dynalite) send nothing, and then only a strong read
 * tells whether the item exists: "no item came back" never means "not found".
 */
export async function itemAfterFailedCondition(
  dynamo: Dynamo,
  tableName: string,
  key: Record<string, string>,
  returned: Record<string, AttributeValue> | undefined,
): Promise<RawItem | undefined> {
  if (returned) {
    refuseProtoItem(returned, tableName);
    return fromAttributeValues(returned);
  }
  try {
    const { Item } = await dynamo.documents.send(refusingProtoNames(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }), tableName));
    return Item;
  } catch (error) {
    throw serviceError(error, dynamo.location, tableName);
  }
}

/**
 * Whether `move`'s condition holds for `order` (OrderTable.moveStatus's
 * ConditionExpression, in code). An item read after the failure that passes it
 * was changed by another writer in between: the move is tried again, not refused.
 */
export function moveWouldApply(order: Order, move: StatusMove): boolean {
  const stored = order.extra?.version;
  const versionPasses = order.version !== null || stored === undefined || ('N' in stored && Number(stored.N) >= 1);
  const versionMatches = move.version === undefined || (order.version !== null && BigInt(order.version) === BigInt(move.version));
  return versionPasses && versionMatches && order.status !== move.to && (move.from === 'any' || move.from.some((status) => status === order.status));
}

/** Another writer would have to win this many races in a row. */
export const FALLBACK_ATTEMPTS = 5;
