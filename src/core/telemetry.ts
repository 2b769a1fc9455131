/*
 * What the store tells a front end about its DynamoDB calls, for metrics:
 * one definition for the store (which reports them), the shared wiring
 * (which passes them on) and the HTTP server (which counts them).
 */

/** Capacity units one call consumed on one table (its indexes included). */
export interface CapacityUse {
  table: string;
  read: number;
  write: number;
}

/** One DynamoDB call as it ended, for metrics. */
export interface DynamoCall {
  /** The API operation, e.g. "GetItem", "TransactWriteItems". */
  operation: string;
  /** The table it named; several (a transaction, a batch) sorted and joined with "+"; undefined when none (ListTables). */
  table: string | undefined;
  /** `throttled`: DynamoDB throttled it until the retries ran out. `conditional`: DynamoDB refused a condition (another writer came first, or a rule held): the normal answer of a race, not a failure. */
  outcome: 'ok' | 'throttled' | 'conditional' | 'error';
  /** Capacity units DynamoDB reported for the call, all tables together (0 when it failed). */
  readUnits: number;
  writeUnits: number;
  /** The same units per table (its indexes included): a call over several tables splits them here; absent: all to `table`. */
  capacity?: CapacityUse[];
  /** Attempts DynamoDB answered with a throttling error, those the SDK retried successfully included; absent: 1 when throttled, else 0. */
  throttledAttempts?: number;
}
