import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription as AwsTableDescription,
} from '@aws-sdk/client-dynamodb';
import type { Billing, TableAdmin, TableDescription } from '../core/tables.js';
import type { Dynamo } from './dynamo-client.js';
import { serviceError } from './dynamo-client.js';

export class DynamoTableAdmin implements TableAdmin {
  constructor(private readonly dynamo: Dynamo) {}

  async describe(name: string): Promise<TableDescription | undefined> {
    try {
      const { Table } = await this.dynamo.client.send(new DescribeTableCommand({ TableName: name }));
      return Table ? toDescription(name, Table) : undefined;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw serviceError(error, this.dynamo.location);
    }
  }

  async create(name: string, hashKey: string, billing: Billing): Promise<boolean> {
    try {
      await this.dynamo.client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: hashKey, AttributeType: 'S' }],
          ...(billing.mode === 'on-demand'
            ? { BillingMode: 'PAY_PER_REQUEST' }
            : {
                BillingMode: 'PROVISIONED',
                ProvisionedThroughput: { ReadCapacityUnits: billing.readCapacity, WriteCapacityUnits: billing.writeCapacity },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ResourceInUseException) return false;
      throw serviceError(error, this.dynamo.location);
    }
  }

  async delete(name: string): Promise<'deleted' | 'absent' | 'busy'> {
    try {
      await this.dynamo.client.send(new DeleteTableCommand({ TableName: name }));
      return 'deleted';
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return 'absent';
      // CREATING or UPDATING (or already DELETING): the service tells by this exception only.
      if (error instanceof ResourceInUseException) return 'busy';
      throw serviceError(error, this.dynamo.location);
    }
  }
}

function toDescription(name: string, table: AwsTableDescription): TableDescription {
  const types = new Map((table.AttributeDefinitions ?? []).map((definition) => [definition.AttributeName, definition.AttributeType]));
  return {
    name,
    status: table.TableStatus ?? 'UNKNOWN',
    keys: (table.KeySchema ?? []).map((key) => [key.AttributeName ?? '', types.get(key.AttributeName) ?? '?', key.KeyType ?? '?']),
    billing: table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'on-demand' : 'provisioned',
    itemCount: table.ItemCount ?? null,
  };
}
