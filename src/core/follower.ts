import type { CacheRef, ChangeOutcome, StreamChange, VersionedCache } from './cache.js';
import { isShopError, ShopError } from './errors.js';

/**
 * The cache follower: reads the tables' DynamoDB streams and applies every
 * change to the cache, whoever made it (shopdb, the original Python code, the
 * AWS CLI), so that cached reads follow every writer within the follower's lag.
 *
 * Ordering. The stream holds the changes of one item in order, within a shard,
 * and a shard's children only after the shard itself; the follower finishes a
 * parent shard before it starts its children. Each change goes to the cache
 * through VersionedCache.applyChange, which keeps the item's last applied
 * (shard, sequence number) and ignores anything not newer: replays after a
 * restart or a lease handed over change nothing. Applying revokes readers'
 * lease tokens, so no fill of a read made before the change can land after it;
 * an image whose version is below a shopdb write's is not stored (the entry is
 * dropped) unless the stream had already shown that version; a shopdb write's
 * refresh at or below a version the stream has shown stores nothing. See
 * docs/RELIABILITY.md, "The stream follower".
 *
 * Horizon. An entry in the cache was stored at most ttl + lease seconds after
 * the read or write it holds. A record older than that (plus two minutes for
 * clocks, and DynamoDB Local's creation times, rounded down to the minute) cannot concern any entry still cached: the follower reads it and
 * skips it. That bounds the work of a first start (which reads from the trim
 * horizon) and of a restart after a long outage; the item's sequence guard in
 * Redis lives as long as the horizon.
 *
 * Shards and leases. Several followers share the shards through leases kept in
 * DynamoDB (one row per shard: owner, a counter the owner bumps on every
 * renewal, the checkpoint), as the Kinesis Client Library does: a lease whose
 * counter has not moved for the lease time (as seen on the observer's own
 * clock: no clocks are compared) is expired and taken; each follower aims at
 * an even share and takes one lease at a time from the busiest owner above it.
 * The checkpoint (the last sequence number applied, or SHARD_END) is written
 * after each batch is in the cache: a crash replays at most one batch.
 */

export interface StreamShard {
  id: string;
  parentId: string | undefined;
}

export interface TableStream {
  table: string;
  arn: string;
  /** NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE or KEYS_ONLY: without new images every change only drops the entry. */
  viewType: string;
}

export interface StreamRecord {
  event: 'INSERT' | 'MODIFY' | 'REMOVE';
  sequence: string;
  /** ApproximateCreationDateTime, ms since the epoch (DynamoDB gives whole seconds). */
  writtenAtMs: number;
  /** The item's key, or undefined when it is not a string. */
  id: string | undefined;
  /** The new image as an item of the contract; undefined for a REMOVE or a stream without new images. */
  image: unknown;
  /** Set when the record had a new image shopdb could not read (it is then dropped from the cache). */
  imageProblem?: string;
  /** For a REMOVE: the version of the item removed, when its old image says (0 when it had none). */
  removedVersion?: number | bigint;
}

export interface StreamPage {
  records: StreamRecord[];
  /** Absent: the shard is closed and fully read. */
  next: string | undefined;
}

/** DynamoDB Streams, as the follower needs it (store/stream-reader.ts). */
export interface StreamReader {
  /** The table's stream; SCHEMA_MISMATCH when the table has none enabled, TABLE_NOT_FOUND when the table is missing. */
  stream(table: string): Promise<TableStream>;
  shards(stream: TableStream): Promise<StreamShard[]>;
  /** An iterator after `after` (a sequence number), or at the trim horizon; EXPIRED_DATA when `after` is past the retention. */
  iterator(stream: TableStream, shard: string, after: string | undefined): Promise<string>;
  read(stream: TableStream, iterator: string, limit: number): Promise<StreamPage>;
}

export const TRIM_HORIZON = 'TRIM_HORIZON';
export const SHARD_END = 'SHARD_END';

export interface ShardLease {
  /** `<stream ARN>|<shard id>`. */
  key: string;
  table: string;
  stream: string;
  shard: string;
  parents: string[];
  owner: string | undefined;
  /** Bumped by every renewal, take and release: a lease whose counter stands still for the lease time is expired. */
  counter: number;
  /** TRIM_HORIZON, SHARD_END, or the sequence number of the last record applied. */
  checkpoint: string;
  /** Set by the lease store when the row was damaged (the fields named) and has been written anew, free, from the trim horizon. */
  repaired?: string;
}

/** The lease table (store/lease-table.ts). Every change is conditional; false: the condition failed (the lease moved on). */
export interface LeaseStore {
  /** Creates the lease table when it does not exist, and waits until it can be used. */
  prepare(): Promise<void>;
  list(): Promise<ShardLease[]>;
  /** Creates the lease unless it exists. */
  create(lease: ShardLease): Promise<void>;
  renew(lease: ShardLease, owner: string): Promise<boolean>;
  take(lease: ShardLease, owner: string): Promise<boolean>;
  checkpoint(lease: ShardLease, owner: string, checkpoint: string): Promise<boolean>;
  release(lease: ShardLease, owner: string): Promise<void>;
  /** Deletes a lease (a shard read to its end and trimmed from the stream). */
  remove(lease: ShardLease): Promise<void>;
}

export interface FollowedTable {
  name: string;
  /** The key attribute: a cached item must carry the id it is cached under. */
  idField: string;
  /** Whether an image is an item of the JSON contract (only such items are cached). */
  isItem: (value: unknown) => boolean;
}

export interface FollowerSettings {
  cache: VersionedCache;
  scope: string;
  ttlSeconds: number;
  /** The readers' lease (CacheSettings.leaseSeconds). */
  cacheLeaseSeconds: number;
  tables: FollowedTable[];
  /** This follower's name in the lease table (unique per process). */
  worker: string;
  /** A lease not renewed for this long is taken over (default 10 s). */
  leaseMs?: number;
  /** How long a shard's reader waits after an empty read (default 250 ms). */
  pollMs?: number;
  /** How often the shards of each stream are listed (default 10 s). */
  discoverMs?: number;
  /** Records per GetRecords (default 1000, DynamoDB's maximum). */
  batch?: number;
  now?: () => number;
}

export interface FollowerEvents {
  /** A line about the follower's work: shards taken, lost, finished. */
  info(message: string): void;
  /** A problem the follower rides out (it retries). */
  warn(message: string): void;
  /** After each batch applied to the cache (metrics). */
  applied?(batch: BatchReport): void;
  /** Each failed operation (metrics); warnings come once per outage. */
  failed?(what: 'stream' | 'cache' | 'leases'): void;
}

export interface BatchReport {
  table: string;
  shard: string;
  outcomes: Record<ChangeOutcome | 'skipped', number>;
  /** ms from the last record's ApproximateCreationDateTime to its application; undefined for an empty batch. */
  lagMs: number | undefined;
  /** ms behind the shard's head: 0 when the read reached it. */
  behindMs: number;
}

export interface ShardState {
  table: string;
  shard: string;
  records: number;
  lagMs: number | undefined;
  behindMs: number;
  waitingForParent: boolean;
}

export interface FollowerStats {
  worker: string;
  shards: ShardState[];
  records: number;
  /** Records read but older than the horizon, not applied. */
  skipped: number;
  errors: number;
}

const DEFAULT_LEASE_MS = 10_000;
const DEFAULT_POLL_MS = 250;
const DEFAULT_DISCOVER_MS = 10_000;
const DEFAULT_BATCH = 1000;
/** For clocks and for DynamoDB Local, which rounds ApproximateCreationDateTime down to the minute. */
const HORIZON_MARGIN_SECONDS = 120;
const MAX_BACKOFF_MS = 5_000;
/** Items of one page applied to the cache at once. */
const IN_FLIGHT = 100;

export class Follower {
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly discoverMs: number;
  private readonly batch: number;
  private readonly now: () => number;
  /** Seconds: records older than this are skipped, and the cache's sequence guard lives this long. */
  readonly horizonSeconds: number;
  private readonly tables = new Map<string, FollowedTable>();
  private streams = new Map<string, TableStream>();
  private leases: ShardLease[] = [];
  /** Per lease key: the counter last seen and when (our clock), to tell an expired lease. */
  private readonly seen = new Map<string, { counter: number; at: number }>();
  private readonly workers = new Map<string, ShardWorker>();
  private lastDiscovery = Number.NEGATIVE_INFINITY;
  private stopping = false;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly warned = new Set<string>();
  private errors = 0;
  private skipped = 0;
  /** Records applied since the start, by every shard worker this follower ran (those of shards since lost included). */
  private applied = 0;

  constructor(
    private readonly settings: FollowerSettings,
    private readonly reader: StreamReader,
    private readonly store: LeaseStore,
    private readonly events: FollowerEvents,
  ) {
    this.leaseMs = settings.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = settings.pollMs ?? DEFAULT_POLL_MS;
    this.discoverMs = settings.discoverMs ?? DEFAULT_DISCOVER_MS;
    this.batch = settings.batch ?? DEFAULT_BATCH;
    this.now = settings.now ?? (() => Date.now());
    this.horizonSeconds = settings.ttlSeconds + settings.cacheLeaseSeconds + HORIZON_MARGIN_SECONDS;
    for (const table of settings.tables) this.tables.set(table.name, table);
  }

  /**
   * Checks that every table has a stream and that the lease table can be used
   * (throws, with nothing started, when not), then runs until stop().
   * Resolves once started; `done` resolves when the follower has stopped.
   */
  async start(): Promise<void> {
    // Every stream first: a table without one stops the start before anything is created.
    for (const table of this.tables.keys()) await this.reader.stream(table);
    await this.store.prepare();
    await this.discover(true);
    await this.coordinate();
    this.loop = this.run();
  }

  /** Resolves when the follower has stopped (after stop(), or a fatal error: rejects then). */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Stops reading, lets each shard finish the batch in hand (its checkpoint written) and releases the leases for another follower. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    this.stopped.abort();
    await this.done.catch(() => undefined);
    await Promise.allSettled([...this.workers.values()].map((worker) => worker.finish()));
    // Every lease held, those of shards read to their end included, so that another follower takes over at once.
    const held = new Map(this.leases.filter((lease) => lease.owner === this.settings.worker).map((lease) => [lease.key, lease]));
    for (const worker of this.workers.values()) held.set(worker.lease.key, worker.lease);
    await Promise.allSettled([...held.values()].map((lease) => this.store.release(lease, this.settings.worker)));
    this.workers.clear();
  }

  stats(): FollowerStats {
    const shards = [...this.workers.values()].map((worker) => worker.state());
    return { worker: this.settings.worker, shards, records: this.applied, skipped: this.skipped, errors: this.errors };
  }

  private async run(): Promise<void> {
    const tick = Math.max(200, Math.floor(this.leaseMs / 3));
    while (!this.stopping) {
      await sleep(tick, this.stopped.signal);
      if (this.stopping) break;
      try {
        await this.coordinate();
        this.recovered('leases');
      } catch (error) {
        this.problem('leases', `the follower's leases could not be kept up to date (${messageOf(error)}); retrying`);
        // The lease table deleted under the follower: make it again (the shards are then read again from the trim horizon, harmlessly).
        if (isShopError(error, 'TABLE_NOT_FOUND')) await this.store.prepare().catch(() => undefined);
      }
    }
  }

  /** One round: renew what we hold, list the shards now and then, take our share, start what we own. */
  private async coordinate(): Promise<void> {
    await this.renew();
    if (this.now() - this.lastDiscovery >= this.discoverMs || [...this.workers.values()].some((worker) => worker.ended)) await this.discover(false);
    this.leases = (await this.store.list()).filter((lease) => this.isCurrent(lease));
    for (const lease of this.leases) {
      if (lease.repaired !== undefined) this.events.warn(`the lease of ${lease.table} shard ${lease.shard} was damaged (${lease.repaired}); written anew, to be read again from the oldest record kept`);
    }
    const now = this.now();
    for (const lease of this.leases) {
      const last = this.seen.get(lease.key);
      if (last === undefined || last.counter !== lease.counter) this.seen.set(lease.key, { counter: lease.counter, at: now });
    }
    for (const [key, worker] of this.workers) {
      if (worker.ended) {
        this.workers.delete(key);
        continue;
      }
      // A worker stops reading when its lease was not renewed in time (renewals failing, the process paused): once the
      // lease is ours again, balance() below starts a new worker from the lease's checkpoint.
      if (worker.exited) {
        this.workers.delete(key);
        this.events.info(
          worker.lostLease
            ? `${worker.lease.table} shard ${worker.lease.shard}: lease lost (taken by another follower)`
            : `${worker.lease.table} shard ${worker.lease.shard}: reading stopped (the lease was not renewed in time); resuming once it is held again`,
        );
        continue;
      }
      const lease = this.leases.find((candidate) => candidate.key === key);
      if (lease === undefined) this.lose(key, 'its row is gone from the lease table');
      else if (lease.owner !== this.settings.worker) this.lose(key, 'taken by another follower');
    }
    await this.balance();
    for (const worker of this.workers.values()) worker.parentsDone = this.parentsDone(worker.lease);
  }

  private async renew(): Promise<void> {
    await Promise.all(
      [...this.workers.values()].map(async (worker) => {
        try {
          if (await this.store.renew(worker.lease, this.settings.worker)) {
            this.recovered('leases');
            worker.lease = { ...worker.lease, counter: worker.lease.counter + 1 };
            worker.heldUntil = this.now() + this.leaseMs;
          } else this.lose(worker.lease.key, 'taken by another follower');
        } catch (error) {
          this.problem('leases', `the lease of ${worker.lease.table} shard ${worker.lease.shard} could not be renewed (${messageOf(error)})`);
          // Past its time another follower may have taken it: stop reading (the worker already stopped applying).
          if (this.now() >= worker.heldUntil) this.lose(worker.lease.key, 'not renewed within the lease time');
        }
      }),
    );
  }

  private lose(key: string, why: string): void {
    const worker = this.workers.get(key);
    if (!worker) return;
    this.workers.delete(key);
    worker.abort();
    this.events.info(`${worker.lease.table} shard ${worker.lease.shard}: lease lost (${why})`);
  }

  /** Lists each table's stream and shards, and creates a lease for every shard that has none. */
  private async discover(first: boolean): Promise<void> {
    const streams = new Map<string, TableStream>();
    for (const table of this.tables.keys()) {
      try {
        streams.set(table, await this.reader.stream(table));
      } catch (error) {
        if (first) throw error;
        this.problem('stream', `${table}: ${messageOf(error)}`);
        const known = this.streams.get(table);
        if (known) streams.set(table, known);
      }
    }
    const known = new Set(this.leases.map((lease) => lease.key));
    const listed = new Set<string>();
    for (const stream of streams.values()) {
      const shards = await this.reader.shards(stream);
      for (const shard of shards) listed.add(`${stream.arn}|${shard.id}`);
      for (const shard of shards) {
        const key = `${stream.arn}|${shard.id}`;
        if (known.has(key)) continue;
        await this.store.create({
          key,
          table: stream.table,
          stream: stream.arn,
          shard: shard.id,
          parents: shard.parentId === undefined ? [] : [shard.parentId],
          owner: undefined,
          counter: 0,
          checkpoint: TRIM_HORIZON,
        });
      }
    }
    // A shard read to its end and gone from the stream (trimmed after 24 h, or a stream disabled since): its lease is of no more use.
    for (const lease of this.leases) {
      if (lease.checkpoint === SHARD_END && !listed.has(lease.key) && !first) await this.store.remove(lease);
    }
    this.streams = streams;
    this.lastDiscovery = this.now();
  }

  /** Leases of the streams followed now (a table's older stream, once disabled, still counts until read to its end). */
  private isCurrent(lease: ShardLease): boolean {
    return this.tables.has(lease.table) && (this.streams.get(lease.table)?.arn === lease.stream || lease.checkpoint !== SHARD_END);
  }

  private expired(lease: ShardLease): boolean {
    if (lease.owner === undefined) return true;
    if (lease.owner === this.settings.worker) return false;
    const last = this.seen.get(lease.key);
    return last !== undefined && this.now() - last.at >= this.leaseMs;
  }

  private async balance(): Promise<void> {
    if (this.stopping) return;
    const me = this.settings.worker;
    const open = this.leases.filter((lease) => lease.checkpoint !== SHARD_END);
    const owners = new Set([me]);
    for (const lease of open) if (!this.expired(lease) && lease.owner !== undefined) owners.add(lease.owner);
    const target = Math.ceil(open.length / owners.size);
    let mine = open.filter((lease) => lease.owner === me).length;
    // Free and expired leases first, parents before children.
    const free = open.filter((lease) => lease.owner !== me && this.expired(lease)).sort((a, b) => Number(this.parentsDone(b)) - Number(this.parentsDone(a)));
    for (const lease of free) {
      if (mine >= target) break;
      if (await this.takeLease(lease, lease.owner === undefined ? 'free' : `expired, held by ${lease.owner}`)) mine += 1;
    }
    if (mine >= target) {
      for (const lease of open) if (lease.owner === me && !this.workers.has(lease.key)) this.startWorker(lease);
      return;
    }
    // Below the even share with nothing free: take one lease from the busiest owner above it.
    const counts = new Map<string, ShardLease[]>();
    for (const lease of open) if (lease.owner !== undefined && lease.owner !== me && !this.expired(lease)) counts.set(lease.owner, [...(counts.get(lease.owner) ?? []), lease]);
    const busiest = [...counts.values()].sort((a, b) => b.length - a.length)[0];
    if (busiest && busiest.length > target) {
      const lease = busiest.find((candidate) => !this.parentsDone(candidate)) ?? busiest[0];
      if (lease) await this.takeLease(lease, `balancing: ${lease.owner} held ${busiest.length}`);
    }
    for (const lease of open) if (lease.owner === me && !this.workers.has(lease.key)) this.startWorker(lease);
  }

  private async takeLease(lease: ShardLease, why: string): Promise<boolean> {
    try {
      if (!(await this.store.take(lease, this.settings.worker))) return false;
    } catch (error) {
      this.problem('leases', `${lease.table} shard ${lease.shard} could not be taken (${messageOf(error)})`);
      return false;
    }
    const taken = { ...lease, owner: this.settings.worker, counter: lease.counter + 1 };
    this.leases = this.leases.map((candidate) => (candidate.key === lease.key ? taken : candidate));
    this.events.info(`${lease.table} shard ${lease.shard}: lease taken (${why}), from ${describeCheckpoint(lease.checkpoint)}`);
    this.startWorker(taken);
    return true;
  }

  private startWorker(lease: ShardLease): void {
    const stream = this.streams.get(lease.table);
    const followed = this.tables.get(lease.table);
    if (!followed) return;
    const worker = new ShardWorker(lease, { ...(stream ?? { table: lease.table, viewType: 'unknown' }), arn: lease.stream }, followed, this);
    worker.heldUntil = this.now() + this.leaseMs;
    worker.parentsDone = this.parentsDone(lease);
    this.workers.set(lease.key, worker);
    worker.begin();
  }

  /** A shard may be read once each parent is read to its end, or gone from the stream (trimmed) and from the leases. */
  parentsDone(lease: ShardLease): boolean {
    return lease.parents.every((parent) => {
      const found = this.leases.find((candidate) => candidate.stream === lease.stream && candidate.shard === parent);
      return found === undefined || found.checkpoint === SHARD_END;
    });
  }

  // ---- used by the shard workers ----

  get context() {
    return {
      settings: this.settings,
      reader: this.reader,
      store: this.store,
      events: this.events,
      pollMs: this.pollMs,
      batch: this.batch,
      now: this.now,
      horizonSeconds: this.horizonSeconds,
    };
  }

  noteBatch(applied: number, skipped: number): void {
    this.applied += applied;
    this.skipped += skipped;
  }

  /** Counts an error each time, warns once until the same kind succeeds again. */
  problem(what: 'stream' | 'cache' | 'leases', message: string): void {
    this.errors += 1;
    this.events.failed?.(what);
    if (this.warned.has(what)) return;
    this.warned.add(what);
    this.events.warn(message);
  }

  /** An image the cache cannot hold: counted, warned about once per run (items, unlike outages, do not recover). */
  unreadable(message: string): void {
    this.errors += 1;
    this.events.failed?.('stream');
    if (this.warned.has('image')) return;
    this.warned.add('image');
    this.events.warn(`${message} (further such items are not reported)`);
  }

  recovered(what: 'stream' | 'cache' | 'leases'): void {
    if (this.warned.delete(what)) this.events.info(`${what === 'cache' ? 'the cache' : what === 'stream' ? 'the stream' : 'the lease table'} answers again`);
  }

  shardEnded(): void {
    this.lastDiscovery = Number.NEGATIVE_INFINITY;
  }
}

/** Reads one shard and applies it to the cache, while its lease is held. */
class ShardWorker {
  heldUntil = 0;
  parentsDone = false;
  ended = false;
  /** Set when work() has returned or failed, for whatever reason. */
  exited = false;
  /** Set when work() stopped because its checkpoint was refused: another follower holds the lease. */
  lostLease = false;
  private readonly aborted = new AbortController();
  private running: Promise<void> | undefined;
  private records = 0;
  /** GetShardIterator failures in a row for this worker's checkpoint. */
  private iteratorFailures = 0;
  private lagMs: number | undefined;
  private behindMs = 0;

  constructor(
    public lease: ShardLease,
    private readonly stream: TableStream,
    private readonly table: FollowedTable,
    private readonly follower: Follower,
  ) {}

  begin(): void {
    this.running = this.work()
      .catch((error: unknown) => {
        this.follower.problem('stream', `${this.lease.table} shard ${this.lease.shard}: ${messageOf(error)}`);
        this.ended = true;
      })
      .finally(() => {
        this.exited = true;
      });
  }

  abort(): void {
    this.aborted.abort();
  }

  /** Waits for the batch in hand, after abort(). */
  async finish(): Promise<void> {
    this.aborted.abort();
    await this.running;
  }

  state(): ShardState {
    return { table: this.lease.table, shard: this.lease.shard, records: this.records, lagMs: this.lagMs, behindMs: this.behindMs, waitingForParent: !this.parentsDone };
  }

  private get held(): boolean {
    return this.follower.context.now() < this.heldUntil;
  }

  private get live(): boolean {
    return !this.aborted.signal.aborted && this.held;
  }

  private async work(): Promise<void> {
    const { reader, store, events, pollMs, batch, settings } = this.follower.context;
    const signal = this.aborted.signal;
    while (!this.parentsDone) {
      if (signal.aborted) return;
      await sleep(pollMs, signal);
    }
    let checkpoint = this.lease.checkpoint;
    let iterator: string | undefined;
    let backoff = pollMs;
    let retried = false;
    while (this.live) {
      let page: StreamPage;
      try {
        iterator ??= await this.iteratorAfter(checkpoint);
        page = await reader.read(this.stream, iterator, batch);
        this.follower.recovered('stream');
      } catch (error) {
        iterator = undefined;
        if (isShopError(error, 'TABLE_NOT_FOUND')) {
          // The shard (or its whole stream) is gone: nothing more can be read from it.
          await store.checkpoint(this.lease, settings.worker, SHARD_END);
          events.info(`${this.lease.table} shard ${this.lease.shard}: gone from the stream (${messageOf(error)}); done with it`);
          this.ended = true;
          this.follower.shardEnded();
          return;
        }
        // An iterator taken at the trim horizon of an empty shard is refused as trimmed once records arrive (DynamoDB Local does so): take a new one at once.
        if (isShopError(error, 'NOT_FOUND') && !retried) {
          retried = true;
          continue;
        }
        // Whatever else it is (DynamoDB out, throttled, an iterator expired), read again from the checkpoint, later.
        this.follower.problem('stream', `${this.lease.table} shard ${this.lease.shard} could not be read (${messageOf(error)}); retrying`);
        await sleep(backoff, signal);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      backoff = pollMs;
      retried = false;
      const last = page.records.at(-1);
      if (!(await this.apply(page.records))) return;
      if (last !== undefined) {
        // Stopping still writes the checkpoint of a batch applied; a lease past its time does not (another follower may own it).
        if (!this.held) return;
        if (!(await store.checkpoint(this.lease, settings.worker, last.sequence))) {
          // Said by the coordinator, once, when it sees this worker has stopped.
          this.lostLease = true;
          return;
        }
        checkpoint = last.sequence;
      }
      if (page.next === undefined) {
        await store.checkpoint(this.lease, settings.worker, SHARD_END);
        events.info(`${this.lease.table} shard ${this.lease.shard}: read to its end`);
        this.ended = true;
        this.follower.shardEnded();
        return;
      }
      iterator = page.next;
      if (page.records.length === 0) await sleep(pollMs, signal);
    }
  }

  private async iteratorAfter(checkpoint: string): Promise<string> {
    const { reader, events } = this.follower.context;
    const after = checkpoint === TRIM_HORIZON ? undefined : checkpoint;
    try {
      const iterator = await reader.iterator(this.stream, this.lease.shard, after);
      this.iteratorFailures = 0;
      return iterator;
    } catch (error) {
      this.iteratorFailures += 1;
      // An outage is waited out; but a checkpoint refused three times in a row while the stream answers otherwise
      // (DynamoDB Local answers a sequence number past the shard's end with an internal error) is given up.
      const outage = ['UNAVAILABLE', 'TIMEOUT', 'THROTTLED', 'ACCESS_DENIED', 'TABLE_NOT_FOUND'].some((code) => isShopError(error, code as 'UNAVAILABLE'));
      if (after === undefined || (outage && this.iteratorFailures < 3) || isShopError(error, 'TABLE_NOT_FOUND')) throw error;
      this.iteratorFailures = 0;
      // The checkpoint is past the stream's retention (a follower down for over 24 h: every record since is older than the horizon
      // anyway), or not a sequence number of this shard (a row edited by hand): read from the oldest record kept, harmlessly.
      events.warn(`${this.lease.table} shard ${this.lease.shard}: no iterator after the checkpoint ${after.slice(0, 40)} (${messageOf(error)}); reading from the oldest record kept`);
      return reader.iterator(this.stream, this.lease.shard, undefined);
    }
  }

  /** Applies a batch, retrying while the cache is out; false when the lease was lost or the follower stops meanwhile. */
  private async apply(records: StreamRecord[]): Promise<boolean> {
    const { settings, now, horizonSeconds, pollMs, events } = this.follower.context;
    const outcomes: Record<ChangeOutcome | 'skipped', number> = { stored: 0, dropped: 0, seen: 0, skipped: 0 };
    const oldest = now() - horizonSeconds * 1000;
    // Changes of one item stay in order; different items go to Redis together.
    const byItem = new Map<string, StreamRecord[]>();
    for (const record of records) {
      if (record.writtenAtMs < oldest) {
        outcomes.skipped += 1;
        continue;
      }
      if (record.id === undefined) {
        this.follower.problem('stream', `${this.lease.table}: a stream record's key is not a string; skipped`);
        outcomes.skipped += 1;
        continue;
      }
      byItem.set(record.id, [...(byItem.get(record.id) ?? []), record]);
    }
    let backoff = pollMs;
    const pending = new Map(byItem);
    while (pending.size > 0) {
      if (!this.live) return false;
      let failure: unknown;
      // At most IN_FLIGHT items at a time: a whole page at once could outlast the cache's command timeout.
      const items = [...pending];
      for (let start = 0; start < items.length && failure === undefined; start += IN_FLIGHT) {
        await Promise.all(
          items.slice(start, start + IN_FLIGHT).map(async ([id, changes]) => {
            while (changes.length > 0) {
              const record = changes[0] as StreamRecord;
              let outcome: ChangeOutcome;
              try {
                outcome = await settings.cache.applyChange(this.ref(id), this.change(record), settings.ttlSeconds, horizonSeconds);
              } catch (error) {
                failure ??= error;
                return;
              }
              outcomes[outcome] += 1;
              changes.shift();
            }
            pending.delete(id);
          }),
        );
      }
      if (pending.size === 0) break;
      // Held up: the shard is now as far behind as the oldest change not yet applied.
      const waiting = Math.min(...[...pending.values()].map((changes) => changes[0]?.writtenAtMs ?? now()));
      this.behindMs = Math.max(0, now() - waiting);
      this.follower.problem('cache', `the cache could not be updated from ${this.lease.table}'s stream (${messageOf(failure)}); retrying (cached reads may be stale meanwhile)`);
      await sleep(backoff, this.aborted.signal);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
    if (byItem.size > 0) this.follower.recovered('cache');
    this.follower.noteBatch(records.length - outcomes.skipped, outcomes.skipped);
    const last = records.at(-1);
    this.records += records.length - outcomes.skipped;
    if (last !== undefined) {
      const at = now();
      this.lagMs = Math.max(0, at - last.writtenAtMs);
      this.behindMs = records.length >= this.follower.context.batch ? this.lagMs : 0;
    } else this.behindMs = 0;
    events.applied?.({ table: this.lease.table, shard: this.lease.shard, outcomes, lagMs: last === undefined ? undefined : this.lagMs, behindMs: this.behindMs });
    return true;
  }

  private ref(id: string): CacheRef {
    return { scope: this.follower.context.settings.scope, table: this.lease.table, id };
  }

  private change(record: StreamRecord): StreamChange {
    const base = { shard: this.lease.shard, sequence: record.sequence };
    if (record.event === 'REMOVE') return { ...base, action: 'drop', ...(record.removedVersion === undefined ? {} : { version: record.removedVersion }) };
    if (record.imageProblem !== undefined) {
      this.follower.unreadable(`${this.lease.table} ${record.id}: ${record.imageProblem}; its cache entry is dropped instead (reads go to DynamoDB)`);
      return { ...base, action: 'drop' };
    }
    if (record.image === undefined) return { ...base, action: 'drop' };
    const item = record.image as Record<string, unknown>;
    if (!this.table.isItem(item) || item[this.table.idField] !== record.id) {
      this.follower.unreadable(`${this.lease.table} ${record.id}: its new image is not an item shopdb can cache; its cache entry is dropped instead`);
      return { ...base, action: 'drop' };
    }
    const version = typeof item.version === 'number' || typeof item.version === 'bigint' ? item.version : 0;
    return { ...base, action: 'store', version, entry: { version, item } };
  }
}

function describeCheckpoint(checkpoint: string): string {
  return checkpoint === TRIM_HORIZON ? 'the oldest record kept' : checkpoint === SHARD_END ? 'its end' : `after record ${checkpoint}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The error for a table without a usable stream; the front ends add how to enable it. */
export function noStream(table: string, state: string, location: string): ShopError {
  return new ShopError('SCHEMA_MISMATCH', `table ${table} at ${location} ${state}: the cache follower reads every change from it (a stream of NEW_AND_OLD_IMAGES)`, {
    hint: { kind: 'create-tables' },
  });
}
