import { badInput, ShopError } from './errors.js';
import { indexesOf, indexKeyAttributes, statusShard, type IndexDefinition } from './indexes.js';
import { ORDER_STATUSES } from './status.js';
import { isTimestamp } from './attributes.js';

/** The index `order list --status` reads (indexes.ts). */
const STATUS_INDEX = 'statusShard-updatedAt';
import { parsePositiveInteger } from './validate.js';

/** The attribute DynamoDB's Time to Live deletes idempotency records by (epoch seconds). */
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The DynamoDB stream view type shopdb's tables get: every change carries the
 * item before and after it, so the cache follower can refresh an entry (new
 * image) and tell what changed (old image).
 */
export const STREAM_VIEW_TYPE = 'NEW_AND_OLD_IMAGES';

/**
 * The tables and keys of the original design, and the idempotency keys of
 * `shopdb serve` (core/idempotency.ts), whose records expire by Time to Live;
 * `--table-prefix` only prepends to the names. `stream`: the table's changes
 * are followed into the cache, so it needs a stream (the idempotency keys are
 * never cached).
 */
export const TABLES = [
  { kind: 'orders', baseName: 'EcommerceOrders', hashKey: 'orderId', timeToLive: undefined, stream: true },
  { kind: 'carts', baseName: 'EcommerceCarts', hashKey: 'cartId', timeToLive: undefined, stream: true },
  { kind: 'idempotency', baseName: 'EcommerceIdempotencyKeys', hashKey: 'idempotencyKey', timeToLive: IDEMPOTENCY_TTL_ATTRIBUTE, stream: false },
] as const;

export type TableKind = (typeof TABLES)[number]['kind'];
export type TableNames = Record<TableKind, string>;

export function tableNames(prefix: string): TableNames {
  if (!/^[A-Za-z0-9_.-]*$/.test(prefix) || prefix.length > 200) {
    throw badInput('table-prefix', 'use at most 200 of the characters A-Z a-z 0-9 _ . -');
  }
  return { orders: `${prefix}EcommerceOrders`, carts: `${prefix}EcommerceCarts`, idempotency: `${prefix}EcommerceIdempotencyKeys` };
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
  /** The table's provisioned capacity (null on demand): what a new index mirrors. */
  throughput: { readCapacity: number; writeCapacity: number } | null;
  /** Types of the attributes defined (keys of the table and its indexes), by name. */
  attributeTypes: Record<string, string>;
  indexes: IndexDescription[];
  stream: StreamDescription;
}

/**
 * A table's DynamoDB stream as DescribeTable tells it. A stream turned off
 * keeps its ARN (its records stay readable for 24 hours): `enabled` false with
 * a `latestArn` is a disabled stream, without one the table never had a stream.
 */
export interface StreamDescription {
  enabled: boolean;
  /** NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE or KEYS_ONLY while enabled; null otherwise. */
  viewType: string | null;
  /** The ARN of the table's latest stream (enabled or not); null when it never had one. */
  latestArn: string | null;
}

/**
 * Whether a stream of this view type carries the item after each change, so
 * a follower can put the new item in the cache; with KEYS_ONLY or OLD_IMAGE
 * it can only drop the cached entry.
 */
export function streamRefreshes(viewType: string | null): boolean {
  return viewType === 'NEW_AND_OLD_IMAGES' || viewType === 'NEW_IMAGE';
}

/** A global secondary index as the service describes it. */
export interface IndexDescription {
  name: string;
  hashKey: string | undefined;
  rangeKey: string | undefined;
  /** ALL, KEYS_ONLY, or the INCLUDEd non-key attributes. */
  projection: 'ALL' | 'KEYS_ONLY' | string[];
  /** CREATING, ACTIVE, UPDATING, DELETING. */
  status: string;
  /** True while an index added to a table with items is being filled. */
  backfilling: boolean;
}

/** A table's Time to Live as the service describes it. */
export interface TimeToLiveDescription {
  /** ENABLED, ENABLING, DISABLED, DISABLING; UNSUPPORTED when the service cannot tell (it has no DescribeTimeToLive). */
  status: string;
  /** The attribute it deletes items by; null when none is set. */
  attribute: string | null;
}

export interface TableAdmin {
  describe(name: string): Promise<TableDescription | undefined>;
  timeToLive(name: string): Promise<TimeToLiveDescription>;
  /**
   * Turns Time to Live on, on `attribute`. `unsupported`: the service has no
   * UpdateTimeToLive (dynalite); `refused`: it declined (being changed, or set
   * on another attribute): describe it to know which.
   */
  enableTimeToLive(name: string, attribute: string): Promise<'started' | 'unsupported' | 'refused'>;
  /**
   * Resolves false when a table of that name exists, in whatever state
   * (DynamoDB answers the same for one still DELETING). `streamViewType`:
   * created with a stream of that view type (a service without streams may
   * ignore it: describe the table to know).
   */
  create(name: string, hashKey: string, billing: Billing, indexes: readonly IndexDefinition[], streamViewType?: string): Promise<boolean>;
  /**
   * Turns the table's stream on, with `viewType` (a new stream, when one was
   * turned off). `busy`: the table is being updated, try again once ACTIVE;
   * `unsupported`: the service has no streams (dynalite); `refused`: it has
   * one enabled already (another client just turned it on): describe it.
   */
  enableStream(name: string, viewType: string): Promise<'started' | 'busy' | 'unsupported' | 'refused'>;
  /**
   * Adds one index to an existing table (DynamoDB creates one per UpdateTable).
   * `busy`: the table is being updated (another index being added) and refused.
   */
  addIndex(name: string, index: IndexDefinition, throughput: TableDescription['throughput']): Promise<'started' | 'busy'>;
  /** `busy`: the table is CREATING or UPDATING and cannot be deleted yet. */
  delete(name: string): Promise<'deleted' | 'absent' | 'busy'>;
  /**
   * Writes the status index's key (indexes.ts) on every order that has a
   * status and an updatedAt but no key yet (orders written before the index
   * existed), conditioned on the status read; nothing else changes. Resolves
   * how many orders were given one.
   */
  backfillStatusShards(name: string, shardOf: (orderId: string, status: string, updatedAt: string) => string | undefined): Promise<{ written: number; refused: string[] }>;
}

export interface TableReport {
  kind: TableKind;
  name: string;
  /** `updated`: the table existed and the indexes it lacked were added. */
  result: 'created' | 'exists' | 'updated' | 'deleted' | 'absent' | 'present';
  status: string;
  billing: 'provisioned' | 'on-demand' | null;
  itemCount: number | null;
  /** shopdb's indexes on this table: MISSING when absent, MISMATCH when one of the name has other keys or projection. */
  indexes: IndexReport[];
  /** Orders given the status index's key when that index was just added (present only then). */
  backfilled?: number;
  /**
   * Tables whose records expire (the idempotency keys'), in create and status
   * only: Time to Live on shopdb's attribute and its state (ENABLED, ENABLING,
   * DISABLED, DISABLING; MISMATCH: on another attribute; UNSUPPORTED: the
   * service has none; MISSING: no table).
   */
  timeToLive?: { attribute: string; status: string };
  /** Tables whose changes the cache follows (orders, carts), in create and status only. */
  stream?: StreamReport;
}

/** A table's stream, said of what shopdb needs. */
export interface StreamReport {
  /**
   * ENABLED; DISABLED: it had one, turned off; NONE: it never had one;
   * UNSUPPORTED: the service has no streams (learnt by tables create);
   * MISSING: no table.
   */
  status: 'ENABLED' | 'DISABLED' | 'NONE' | 'UNSUPPORTED' | 'MISSING';
  /** While ENABLED: NEW_AND_OLD_IMAGES (shopdb's), or another one left as found. */
  viewType: string | null;
  /** The ARN of the latest stream, enabled or not (a disabled one stays readable 24 hours). */
  latestArn: string | null;
  /** Set by tables create when it turned the stream on: `enabled` (none before) or `re-enabled` (it had been turned off). */
  change?: 'enabled' | 're-enabled';
}

export interface IndexReport {
  name: string;
  status: string;
  backfilling: boolean;
}

/** What a table is waited for; front ends show it as progress. */
export interface TableWait {
  table: string;
  /** The state it is in now: DELETING, CREATING, UPDATING. */
  status: string;
  /** What comes once it has left that state. */
  then: 'create' | 'delete' | 'use';
  /** Set when it is one of the table's indexes that is waited for (CREATING, or backfilling). */
  index?: string;
}

export interface WaitOptions {
  /** The bound on all waiting of one call, for every table together. */
  waitMs: number;
  onWait?: (wait: TableWait) => void;
  /** Something the person should know that does not stop the command (items left out of an index). */
  onNotice?: (message: string) => void;
  /**
   * false: create new tables without a stream and leave existing tables'
   * streams as they are (for a DynamoDB Local that no follower reads: its
   * streams slow every later write down; see the README). Default: streams.
   */
  streams?: boolean;
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
   * Creates what is missing, checks what exists, and waits until all are
   * ACTIVE. A table still DELETING (a `tables delete` moments ago; on AWS that
   * takes seconds to minutes) is waited out first, then created. A table that
   * exists without shopdb's indexes gets them, one UpdateTable each (DynamoDB
   * adds one index at a time), each waited for until ACTIVE and filled. Every
   * existing table is checked first: a conflict changes nothing. Time to Live
   * is turned on where a table needs it (the idempotency keys').
   */
  async create(billing: Billing, options: WaitOptions): Promise<TableReport[]> {
    const deadline = Date.now() + options.waitMs;
    /** Tables left without a stream because the service has none (told once, after all tables). */
    const streamsUnsupported: string[] = [];
    for (const table of TABLES) {
      const current = await this.admin.describe(this.names[table.kind]);
      if (current && current.status !== 'DELETING') {
        checkKeys(current, table.hashKey);
        checkIndexes(current, indexesOf(table.kind));
      }
    }
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      const wanted = indexesOf(table.kind);
      let created = false;
      for (;;) {
        const current = await this.admin.describe(name);
        if (current?.status === 'DELETING') {
          await this.pause(name, current.status, 'create', deadline, options.onWait);
          continue;
        }
        if (current) break;
        created = await this.admin.create(name, table.hashKey, billing, wanted, table.stream && options.streams !== false ? STREAM_VIEW_TYPE : undefined);
        // Refused: another client created it, or it was deleting after all; look again.
        if (created) break;
        await this.pause(name, 'DELETING', 'create', deadline, options.onWait);
      }
      const indexed = await this.ensureIndexes(name, table.hashKey, wanted, deadline, options.onWait);
      let description = indexed.description;
      let stream: StreamReport | undefined;
      if (table.stream && options.streams === false) {
        stream = streamState(description.stream);
      } else if (table.stream) {
        const ensured = await this.ensureStream(name, table.hashKey, description, streamsUnsupported.length > 0, deadline, options);
        ({ description, stream } = ensured);
        if (stream.status === 'UNSUPPORTED') streamsUnsupported.push(name);
      }
      const updated = indexed.added.length > 0 || stream?.change !== undefined;
      const entry = report(table.kind, name, created ? 'created' : updated ? 'updated' : 'exists', description);
      if (stream) entry.stream = stream;
      // Orders shopdb wrote before the status index existed lack its key: without it they would never be listed by status.
      // Looked for on every run over an existing orders table, so an interrupted fill is completed by the next one.
      if (table.timeToLive !== undefined) {
        const { state, changed } = await this.ensureTimeToLive(name, table.timeToLive, options.onNotice);
        entry.timeToLive = state;
        if (changed && entry.result === 'exists') entry.result = 'updated';
      }
      if (table.kind === 'orders' && !created) {
        options.onWait?.({ table: name, status: 'BACKFILLING', then: 'use', index: STATUS_INDEX });
        const filled = await this.admin.backfillStatusShards(name, (orderId, status, updatedAt) => {
          const known = ORDER_STATUSES.find((candidate) => candidate === status);
          return known === undefined || !isTimestamp(updatedAt) ? undefined : statusShard(orderId, known);
        });
        if (filled.written > 0 || indexed.added.includes(STATUS_INDEX)) entry.backfilled = filled.written;
        if (filled.refused.length > 0) {
          options.onNotice?.(
            `${filled.refused.length === 1 ? '1 order' : `${filled.refused.length} orders`} in ${name} (${filled.refused.slice(0, 5).join(', ')}${filled.refused.length > 5 ? ', …' : ''}) ${filled.refused.length === 1 ? 'holds' : 'hold'} a value other than a string in an attribute the indexes key on (userId or createdAt); DynamoDB refuses to index ${filled.refused.length === 1 ? 'it' : 'them'}, so ${filled.refused.length === 1 ? 'it is' : 'they are'} not listed by status until that attribute is corrected`,
          );
        }
      }
      reports.push(entry);
    }
    if (streamsUnsupported.length > 0) {
      options.onNotice?.(
        `this DynamoDB does not support streams: ${streamsUnsupported.join(' and ')} ${streamsUnsupported.length === 1 ? 'has' : 'have'} none, so the cache follower cannot run on ${streamsUnsupported.length === 1 ? 'it' : 'them'}; everything else works`,
      );
    }
    return reports;
  }

  /**
   * Turns the table's stream on where it has none, or had one turned off (a
   * table made before shopdb followed changes, or by the original design's
   * script; a new table got one when created, unless the service ignored it).
   * A stream enabled with another view type is left as it is: changing it
   * means turning it off first, which loses its records. `knownUnsupported`:
   * another table already showed the service has no streams; not asked again.
   */
  private async ensureStream(
    name: string,
    hashKey: string,
    found: TableDescription,
    knownUnsupported: boolean,
    deadline: number,
    options: WaitOptions,
  ): Promise<{ description: TableDescription; stream: StreamReport }> {
    let description = found;
    let change: StreamReport['change'];
    const unsupported = () => ({ description, stream: { status: 'UNSUPPORTED' as const, viewType: null, latestArn: description.stream.latestArn } });
    const turnedOff = description.stream.latestArn;
    while (!description.stream.enabled) {
      if (knownUnsupported) return unsupported();
      const outcome = await this.admin.enableStream(name, STREAM_VIEW_TYPE);
      if (outcome === 'unsupported') return unsupported();
      // busy: being updated (on AWS, an index still being added): DynamoDB takes one change at a time.
      // refused: another client enabled one meanwhile; a look again shows it.
      if (outcome !== 'started') await this.pause(name, 'UPDATING', 'use', deadline, options.onWait);
      else change = turnedOff === null ? 'enabled' : 're-enabled';
      // Enabling a stream makes the table UPDATING for a moment on AWS.
      description = await this.waitUntilActive(name, hashKey, deadline, options.onWait);
      // Accepted, yet no stream: a service that ignores the request.
      if (outcome === 'started' && !description.stream.enabled) return unsupported();
    }
    if (change === 're-enabled') {
      options.onNotice?.(
        `table ${name}: its stream had been turned off; a new one is enabled (${description.stream.viewType ?? STREAM_VIEW_TYPE}), as the cache follower needs; the records of the old one (${turnedOff ?? '?'}) stay readable up to 24 hours after they were written`,
      );
    }
    const stream: StreamReport = { ...streamState(description.stream), ...(change === undefined ? {} : { change }) };
    if (!streamRefreshes(description.stream.viewType)) {
      options.onNotice?.(
        `table ${name}: its stream's view type is ${description.stream.viewType ?? '?'}, not ${STREAM_VIEW_TYPE}; left as it is (changing it means turning the stream off, which loses its records), so the cache follower can only drop cached entries on a change, not refresh them`,
      );
    }
    return { description, stream };
  }

  /**
   * Turns Time to Live on where it is off (a new table, or one made before
   * shopdb kept idempotency keys). Records past their expiry count as absent
   * whatever the service does, so a service without Time to Live (dynalite),
   * or one set on another attribute, is a notice, not a failure: only the
   * deletion of old records is missing.
   */
  private async ensureTimeToLive(name: string, attribute: string, onNotice?: (message: string) => void): Promise<{ state: { attribute: string; status: string }; changed: boolean }> {
    let current = await this.admin.timeToLive(name);
    let changed = false;
    if (current.status === 'DISABLED') {
      const outcome = await this.admin.enableTimeToLive(name, attribute);
      if (outcome === 'unsupported') {
        onNotice?.(`table ${name}: the service cannot turn on Time to Live, so it never deletes expired idempotency keys; shopdb ignores them once expired, but they stay stored until deleted by other means`);
        return { state: { attribute, status: 'UNSUPPORTED' }, changed };
      }
      changed = outcome === 'started';
      current = await this.admin.timeToLive(name);
    }
    const state = timeToLiveState(current, attribute);
    if (state.status === 'MISMATCH') {
      onNotice?.(`table ${name}: Time to Live is set on attribute ${current.attribute ?? '?'}, not ${attribute}, so expired idempotency keys are never deleted; shopdb ignores them once expired; set it on ${attribute} to have them deleted`);
    } else if (state.status === 'DISABLING') {
      onNotice?.(`table ${name}: Time to Live is being turned off, and DynamoDB turns it on again only once that is done (up to an hour); create the tables again then, or expired idempotency keys stay stored (shopdb ignores them)`);
    } else if (state.status === 'DISABLED') {
      onNotice?.(`table ${name}: the service did not turn on Time to Live; expired idempotency keys stay stored (shopdb ignores them)`);
    }
    return { state, changed };
  }

  /** Waits for the table and its indexes; adds the missing ones one at a time. */
  private async ensureIndexes(
    name: string,
    hashKey: string,
    wanted: readonly IndexDefinition[],
    deadline: number,
    onWait?: (wait: TableWait) => void,
  ): Promise<{ description: TableDescription; added: string[] }> {
    const added: string[] = [];
    for (;;) {
      const description = await this.waitUntilActive(name, hashKey, deadline, onWait);
      checkIndexes(description, wanted);
      const pending = description.indexes.find((index) => wanted.some((want) => want.name === index.name) && (index.status !== 'ACTIVE' || index.backfilling));
      if (pending) {
        await this.pause(name, pending.status === 'ACTIVE' ? 'BACKFILLING' : pending.status, 'use', deadline, onWait, pending.name);
        continue;
      }
      const missing = wanted.find((want) => !description.indexes.some((index) => index.name === want.name));
      if (!missing) return { description, added };
      const outcome = await this.admin.addIndex(name, missing, description.billing === 'provisioned' ? description.throughput : null);
      if (outcome === 'busy') {
        await this.pause(name, 'UPDATING', 'use', deadline, onWait);
        continue;
      }
      added.push(missing.name);
      const after = await this.admin.describe(name);
      if (after && !after.indexes.some((index) => index.name === missing.name)) {
        // dynalite, for one, answers UpdateTable without adding the index.
        throw new ShopError(
          'UNAVAILABLE',
          `table ${name}: the service accepted adding index ${missing.name} but does not list it; it cannot add indexes to an existing table (recreate the table, or use Amazon DynamoDB or DynamoDB Local)`,
        );
      }
    }
  }

  async status(): Promise<TableReport[]> {
    const reports: TableReport[] = [];
    for (const table of TABLES) {
      const name = this.names[table.kind];
      const description = await this.admin.describe(name);
      if (description) checkKeys(description, table.hashKey);
      const entry = report(table.kind, name, description ? 'present' : 'absent', description, description && description.status !== 'DELETING' ? indexesOf(table.kind) : []);
      if (table.timeToLive !== undefined) {
        const described = description && description.status !== 'DELETING' ? await this.admin.timeToLive(name) : undefined;
        entry.timeToLive = described ? timeToLiveState(described, table.timeToLive) : { attribute: table.timeToLive, status: 'MISSING' };
      }
      if (table.stream) {
        entry.stream = description && description.status !== 'DELETING' ? streamState(description.stream) : { status: 'MISSING', viewType: null, latestArn: null };
      }
      reports.push(entry);
    }
    return reports;
  }

  /** Deletes the tables; one still CREATING or UPDATING is waited for (DynamoDB refuses to delete it until ACTIVE). */
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

  private async pause(table: string, status: string, then: TableWait['then'], deadline: number, onWait?: (wait: TableWait) => void, index?: string): Promise<void> {
    if (Date.now() > deadline) {
      const what = index === undefined ? `table ${table}` : `index ${index} of table ${table}`;
      throw new ShopError('TIMEOUT', `${what} is still ${status} after the wait allowed; nothing more was done`, { hint: { kind: 'table-status' } });
    }
    onWait?.(index === undefined ? { table, status, then } : { table, status, then, index });
    await new Promise((resolve) => setTimeout(resolve, this.pollMs));
  }
}

/** A stream as described: ENABLED (any view type), DISABLED (turned off, its ARN kept) or NONE. */
function streamState(described: StreamDescription): StreamReport {
  if (described.enabled) return { status: 'ENABLED', viewType: described.viewType, latestArn: described.latestArn };
  return { status: described.latestArn === null ? 'NONE' : 'DISABLED', viewType: null, latestArn: described.latestArn };
}

/** Time to Live as described, said of shopdb's attribute: MISMATCH when set on another one. */
function timeToLiveState(described: TimeToLiveDescription, attribute: string): { attribute: string; status: string } {
  const other = described.attribute !== null && described.attribute !== attribute && described.status !== 'DISABLED';
  return { attribute, status: other ? 'MISMATCH' : described.status };
}

function checkKeys(description: TableDescription, hashKey: string): void {
  const [only, ...rest] = description.keys;
  if (!only || rest.length > 0 || only[0] !== hashKey || only[1] !== 'S' || only[2] !== 'HASH') {
    const found = description.keys.map(([key, type, role]) => `${key} (${type}, ${role})`).join(', ');
    throw new ShopError('SCHEMA_MISMATCH', `table ${description.name} exists with key ${found}, not ${hashKey} (S, HASH)`, { hint: { kind: 'other-prefix' } });
  }
}

function report(
  kind: TableKind,
  name: string,
  result: TableReport['result'],
  description: TableDescription | undefined,
  wanted: readonly IndexDefinition[] = description ? indexesOf(kind) : [],
): TableReport {
  return {
    kind,
    name,
    result,
    status: description?.status ?? (result === 'deleted' ? 'DELETING' : 'MISSING'),
    billing: description?.billing ?? null,
    itemCount: description?.itemCount ?? null,
    indexes: wanted.map((want) => {
      const found = description?.indexes.find((index) => index.name === want.name);
      if (!found) return { name: want.name, status: 'MISSING', backfilling: false };
      return { name: want.name, status: indexDifference(found, want) === undefined ? found.status : 'MISMATCH', backfilling: found.backfilling };
    }),
  };
}

/** What differs between an index found and the one shopdb needs; undefined when they agree. */
export function indexDifference(found: IndexDescription, want: IndexDefinition): string | undefined {
  const differences: string[] = [];
  const keys = (hash: string | undefined, range: string | undefined) => `${hash ?? '?'} (HASH)${range === undefined ? '' : `, ${range} (RANGE)`}`;
  if (found.hashKey !== want.hashKey || found.rangeKey !== want.rangeKey) {
    differences.push(`key ${keys(found.hashKey, found.rangeKey)}, not ${keys(want.hashKey, want.rangeKey)}`);
  }
  const projection = (value: IndexDescription['projection'] | IndexDefinition['projection']) => (typeof value === 'string' ? value : `INCLUDE ${[...value].sort().join(', ')}`);
  if (projection(found.projection) !== projection(want.projection)) {
    differences.push(`projection ${projection(found.projection)}, not ${projection(want.projection)}`);
  }
  return differences.length === 0 ? undefined : differences.join('; ');
}

/** An index of one of shopdb's names that is not shopdb's, or a key attribute of another type: SCHEMA_MISMATCH, naming what differs. */
function checkIndexes(description: TableDescription, wanted: readonly IndexDefinition[]): void {
  const problems: string[] = [];
  for (const want of wanted) {
    const found = description.indexes.find((index) => index.name === want.name);
    const difference = found && indexDifference(found, want);
    if (difference) problems.push(`index ${want.name} has ${difference}`);
  }
  for (const attribute of indexKeyAttributes(wanted)) {
    const type = description.attributeTypes[attribute];
    if (type !== undefined && type !== 'S') problems.push(`attribute ${attribute} is defined as type ${type}, not S`);
  }
  if (problems.length > 0) {
    throw new ShopError('SCHEMA_MISMATCH', `table ${description.name}: ${problems.join('; ')}; nothing was changed`, { hint: { kind: 'other-prefix' } });
  }
}
