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
  /** Resolves false when a table of that name already exists. */
  create(name: string, hashKey: string, billing: Billing): Promise<boolean>;
  /** Resolves false when there was no such table. */
  delete(name: string): Promise<boolean>;
}

export interface TableReport {
  kind: TableKind;
  name: string;
  result: 'created' | 'exists' | 'deleted' | 'absent' | 'present';
  status: string;
  billing: 'provisioned' | 'on-demand' | null;
  itemCount: number | null;
}

const POLL_MS = 200;

export class TableService {
  constructor(
    private readonly admin: TableAdmin,
    private readonly names: TableNames,
  ) {}

  /** Creates what is missing, checks what exists, and waits until both are ACTIVE. */
  async create(billing: Billing, options: { waitMs: number; onWait?: (table: string) => void }): Promise<TableReport[]> {
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      const created = await this.admin.create(name, table.hashKey, billing);
      const description = await this.waitUntilActive(name, table.hashKey, Date.now() + options.waitMs, options.onWait);
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

  async delete(): Promise<TableReport[]> {
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      const deleted = await this.admin.delete(name);
      reports.push(report(table.kind, name, deleted ? 'deleted' : 'absent', undefined));
    }
    return reports;
  }

  private async waitUntilActive(name: string, hashKey: string, deadline: number, onWait?: (table: string) => void): Promise<TableDescription> {
    for (;;) {
      const description = await this.admin.describe(name);
      if (description) {
        checkKeys(description, hashKey);
        if (description.status === 'ACTIVE') return description;
      }
      if (Date.now() > deadline) {
        throw new ShopError('TIMEOUT', `table ${name} is still ${description?.status ?? 'missing'}; check again with: shopdb tables status`);
      }
      onWait?.(name);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

function checkKeys(description: TableDescription, hashKey: string): void {
  const [only, ...rest] = description.keys;
  if (!only || rest.length > 0 || only[0] !== hashKey || only[1] !== 'S' || only[2] !== 'HASH') {
    const found = description.keys.map(([key, type, role]) => `${key} (${type}, ${role})`).join(', ');
    throw new ShopError('SCHEMA_MISMATCH', `table ${description.name} exists with key ${found}, not ${hashKey} (S, HASH); use another --table-prefix or remove it`);
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
