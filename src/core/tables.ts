import { badInput, ShopError } from './errors.js';
import { parsePositiveInteger } from './validate.js';

/** The tables and keys of the original design; `--table-prefix` only prepends to the names. */
export const TABLES = [
  { kind: 'orders', baseName: 'EcommerceOrders', hashKey: 'orderId' },
  { kind: 'carts', baseName: 'EcommerceCarts', hashKey: 'cartId' },
] as const;

export type TableKind = (typeof TABLES)[number]['kind'];
export type TableNames = Record<TableKind, string>;

export function tableNames(prefix: string): TableNames {
  if (!/^[A-Za-z0-9_.-]*$/.test(prefix) || prefix.length > 200) {
    throw badInput('table-prefix', 'use at most 200 of the characters A-Z a-z 0-9 _ . -');
  }
  return { orders: `${prefix}EcommerceOrders`, carts: `${prefix}EcommerceCarts` };
}

export type Billing = { mode: 'provisioned'; readCapacity: number; writeCapacity: number } | { mode: 'on-demand' };

const MAX_CAPACITY = 40_000;

export function parseBilling(options: { billing?: string | undefined; rcu?: string | undefined; wcu?: string | undefined }): Billing {
  const mode = options.billing ?? 'provisioned';
  if (mode === 'on-demand') {
    if (options.rcu !== undefined || options.wcu !== undefined) {
      throw badInput('billing', '--rcu and --wcu apply only to provisioned billing, not on-demand');
    }
    return { mode };
  }
  if (mode !== 'provisioned') throw badInput('billing', 'use provisioned or on-demand');
  return {
    mode,
    readCapacity: options.rcu === undefined ? 5 : parsePositiveInteger(options.rcu, 'rcu', MAX_CAPACITY),
    writeCapacity: options.wcu === undefined ? 5 : parsePositiveInteger(options.wcu, 'wcu', MAX_CAPACITY),
  };
}

export interface TableDescription {
  name: string;
  status: string;
  /** Key attributes as [name, type, role], e.g. ['orderId', 'S', 'HASH']. */
  keys: Array<[string, string, string]>;
  billing: 'provisioned' | 'on-demand';
  itemCount: number | null;
}

export interface TableAdmin {
  describe(name: string): Promise<TableDescription | undefined>;
  /** Resolves false when a table of that name exists, in whatever state (DynamoDB answers the same for one still DELETING). */
  create(name: string, hashKey: string, billing: Billing): Promise<boolean>;
  /** `busy`: the table is CREATING or UPDATING and cannot be deleted yet. */
  delete(name: string): Promise<'deleted' | 'absent' | 'busy'>;
}

export interface TableReport {
  kind: TableKind;
  name: string;
  result: 'created' | 'exists' | 'deleted' | 'absent' | 'present';
  status: string;
  billing: 'provisioned' | 'on-demand' | null;
  itemCount: number | null;
}

/** What a table is waited for; front ends show it as progress. */
export interface TableWait {
  table: string;
  /** The state it is in now: DELETING, CREATING, UPDATING. */
  status: string;
  /** What comes once it has left that state. */
  then: 'create' | 'delete' | 'use';
}

export interface WaitOptions {
  /** The bound on all waiting of one call, for every table together. */
  waitMs: number;
  onWait?: (wait: TableWait) => void;
}

/** States a table leaves by itself; DynamoDB refuses creating or deleting it meanwhile. */
const TRANSIENT = new Set(['CREATING', 'UPDATING', 'DELETING']);
/** Tables in these states refuse reads and writes. */
export const NOT_READY = new Set(['CREATING', 'DELETING']);

const POLL_MS = 200;

export class TableService {
  constructor(
    private readonly admin: TableAdmin,
    private readonly names: TableNames,
    private readonly pollMs = POLL_MS,
  ) {}

  /**
   * Creates what is missing, checks what exists, and waits until both are
   * ACTIVE. A table still DELETING (a `tables delete` moments ago; on AWS that
   * takes seconds to minutes) is waited out first, then created.
   */
  async create(billing: Billing, options: WaitOptions): Promise<TableReport[]> {
    const deadline = Date.now() + options.waitMs;
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      let created = false;
      for (;;) {
        const current = await this.admin.describe(name);
        if (current?.status === 'DELETING') {
          await this.pause(name, current.status, 'create', deadline, options.onWait);
          continue;
        }
        if (current) break;
        created = await this.admin.create(name, table.hashKey, billing);
        // Refused: another client created it, or it was deleting after all; look again.
        if (created) break;
        await this.pause(name, 'DELETING', 'create', deadline, options.onWait);
      }
      const description = await this.waitUntilActive(name, table.hashKey, deadline, options.onWait);
      reports.push(report(table.kind, name, created ? 'created' : 'exists', description));
    }
    return reports;
  }

  async status(): Promise<TableReport[]> {
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      const description = await this.admin.describe(name);
      if (description) checkKeys(description, table.hashKey);
      reports.push(report(table.kind, name, description ? 'present' : 'absent', description));
    }
    return reports;
  }

  /** Deletes both tables; one still CREATING or UPDATING is waited for (DynamoDB refuses to delete it until ACTIVE). */
  async delete(options: WaitOptions): Promise<TableReport[]> {
    const deadline = Date.now() + options.waitMs;
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      for (;;) {
        const outcome = await this.admin.delete(name);
        if (outcome !== 'busy') {
          reports.push(report(table.kind, name, outcome, undefined));
          break;
        }
        const current = await this.admin.describe(name);
        if (!current) continue;
        if (current.status === 'DELETING') {
          // Someone else's deletion is under way: the outcome asked for.
          reports.push(report(table.kind, name, 'deleted', current));
          break;
        }
        await this.pause(name, TRANSIENT.has(current.status) ? current.status : 'CREATING', 'delete', deadline, options.onWait);
      }
    }
    return reports;
  }

  private async waitUntilActive(name: string, hashKey: string, deadline: number, onWait?: (wait: TableWait) => void): Promise<TableDescription> {
    for (;;) {
      const description = await this.admin.describe(name);
      if (description) {
        checkKeys(description, hashKey);
        if (description.status === 'ACTIVE') return description;
      }
      await this.pause(name, description?.status ?? 'MISSING', 'use', deadline, onWait);
    }
  }

  private async pause(table: string, status: string, then: TableWait['then'], deadline: number, onWait?: (wait: TableWait) => void): Promise<void> {
    if (Date.now() > deadline) {
      throw new ShopError('TIMEOUT', `table ${table} is still ${status} after the wait allowed; nothing more was done`, { hint: { kind: 'table-status' } });
    }
    onWait?.({ table, status, then });
    await new Promise((resolve) => setTimeout(resolve, this.pollMs));
  }
}

function checkKeys(description: TableDescription, hashKey: string): void {
  const [only, ...rest] = description.keys;
  if (!only || rest.length > 0 || only[0] !== hashKey || only[1] !== 'S' || only[2] !== 'HASH') {
    const found = description.keys.map(([key, type, role]) => `${key} (${type}, ${role})`).join(', ');
    throw new ShopError('SCHEMA_MISMATCH', `table ${description.name} exists with key ${found}, not ${hashKey} (S, HASH)`, { hint: { kind: 'other-prefix' } });
  }
}

function report(kind: TableKind, name: string, result: TableReport['result'], description: TableDescription | undefined): TableReport {
  return {
    kind,
    name,
    result,
    status: description?.status ?? (result === 'deleted' ? 'DELETING' : 'MISSING'),
    billing: description?.billing ?? null,
    itemCount: description?.itemCount ?? null,
  };
}
