/** The answer of {@link IdempotencyStore.claim}. */
export type ClaimResult =
  /** Run the handler: the key was free, its lease had expired, or this owner already held it. */
  | { state: "acquired" }
  /** A duplicate of work already done: answer with the stored result, do not run. */
  | { state: "done"; result: unknown }
  /** Another message holds the key right now: acknowledge as a duplicate, do not run. */
  | { state: "running"; owner: string };

/**
 * Where the worker records which idempotency keys are running or done, so a duplicate delivery
 * does not repeat a job's effect. Every operation is atomic. Implementations: {@link memoryStore}
 * (one process) and `upstashRedisStore` from `jobwire/adapters/upstash-redis` (shared, over HTTP).
 *
 * A store that cannot be reached throws; the worker answers 503 and the broker retries later.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for `owner` (a message id) for `leaseMs`. No entry, or an expired lease: the owner
   * takes it. `done`: returns the stored result. `running` by the same owner (a retry after a crash
   * or timeout): taken over. `running` by another owner whose lease is live: returns that owner.
   */
  claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Marks `key` done with `result` for `ttlMs` (default 7 days), only if `owner` still holds it. */
  complete(key: string, owner: string, result: unknown, ttlMs?: number): Promise<void>;
  /** Deletes the entry if `owner` holds it, so a retry can run again. */
  release(key: string, owner: string): Promise<void>;
}

/** How long a `done` entry is kept: 7 days. */
export const DEFAULT_DONE_TTL_MS: number = 7 * 24 * 60 * 60 * 1000;

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** How long `done` entries are kept when `complete` is not given a TTL. @default 7 days */
  ttlMs?: number;
  /** The clock, in milliseconds. @default Date.now */
  now?: () => number;
  /**
   * The most entries kept. Past it, the oldest `done` entries are dropped first (a duplicate of one
   * of those would run again); `running` claims are never dropped, so a full store still refuses a
   * second owner. Keeps a long-lived process's memory bounded: done entries otherwise stay for days.
   * `Infinity` keeps every entry until it expires.
   * @default 100_000
   */
  maxEntries?: number;
}

class Running {
  constructor(
    readonly owner: string,
    readonly expiresAt: number,
  ) {}
}
class Done {
  constructor(
    readonly result: unknown,
    readonly expiresAt: number,
  ) {}
}
// A done entry whose result is null (most jobs return nothing) is kept as its expiry alone: a number
// is no object for the collector to trace, and a store holds up to `maxEntries` of them.
type Entry = Running | Done | number;

function expiry(entry: Entry): number {
  return typeof entry === "number" ? entry : entry.expiresAt;
}

/** A store with all its entries, for inspection in tests and demos. */
export interface MemoryStore extends IdempotencyStore {
  /** The number of live entries. */
  readonly size: number;
}

/**
 * An {@link IdempotencyStore} in this process's memory. Right for tests, local work and a single
 * long-lived worker; on edge platforms and with several workers use a shared store
 * (`upstashRedisStore`), since each isolate would have its own memory.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const defaultTtl = options.ttlMs ?? DEFAULT_DONE_TTL_MS;
  const maxEntries = options.maxEntries ?? 100_000;
  if (!(maxEntries >= 1) || (!Number.isInteger(maxEntries) && maxEntries !== Infinity)) {
    throw new RangeError(`memoryStore: maxEntries must be a whole number, at least 1, got ${maxEntries}`);
  }
  const entries = new Map<string, Entry>();
  // Done entries in the order they completed, so the oldest are dropped first past `maxEntries`:
  // each key with the entry it was completed with (a key whose entry has changed or gone since is
  // skipped). A queue read from `head`, rather than the Map's own order, which would mean
  // re-inserting every completed key and walking over the deleted ones at each eviction.
  let doneKeys: string[] = [];
  let doneEntries: (Done | number)[] = [];
  let head = 0;
  let nextSweep = 0;
  // No entry expires before this: until then a sweep would find nothing to drop.
  let earliest = Number.POSITIVE_INFINITY;

  function put(key: string, entry: Entry): void {
    entries.set(key, entry);
    const at = expiry(entry);
    if (at < earliest) earliest = at;
    if (!(entry instanceof Running)) {
      doneKeys.push(key);
      doneEntries.push(entry);
    }
    if (entries.size > maxEntries) evict();
  }

  // Drops the oldest done entries until the store is within its bound. Running claims are never
  // dropped: the store may hold more than the bound while that many jobs run at once.
  function evict(): void {
    while (entries.size > maxEntries && head < doneKeys.length) {
      const key = doneKeys[head]!;
      const entry = doneEntries[head]!;
      head++;
      if (entries.get(key) === entry) entries.delete(key);
    }
    if (head > 1024 && head * 2 > doneKeys.length) compactQueue();
  }

  /** Drops the queue's read part, and the entries the store no longer holds as they were queued. */
  function compactQueue(): void {
    const keys: string[] = [];
    const kept: (Done | number)[] = [];
    for (let i = head; i < doneKeys.length; i++) {
      const entry = doneEntries[i]!;
      if (entries.get(doneKeys[i]!) === entry) {
        keys.push(doneKeys[i]!);
        kept.push(entry);
      }
    }
    doneKeys = keys;
    doneEntries = kept;
    head = 0;
  }

  // Expired entries are dropped lazily and by a sweep at most once a second, and only once some
  // entry may have expired, so memory stays bounded without a timer (timers keep processes alive
  // and are not allowed at the top level of a Worker).
  function live(key: string, at: number): Entry | undefined {
    if (at >= nextSweep && at >= earliest) {
      nextSweep = at + 1000;
      earliest = Number.POSITIVE_INFINITY;
      for (const [k, entry] of entries) {
        const expiresAt = expiry(entry);
        if (expiresAt <= at) entries.delete(k);
        else if (expiresAt < earliest) earliest = expiresAt;
      }
      compactQueue();
    }
    const entry = entries.get(key);
    if (entry !== undefined && expiry(entry) <= at) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  return {
    get size() {
      const at = now();
      let n = 0;
      for (const entry of entries.values()) if (expiry(entry) > at) n++;
      return n;
    },
    async claim(key, owner, leaseMs) {
      const at = now();
      const entry = live(key, at);
      if (entry !== undefined) {
        if (typeof entry === "number") return { state: "done", result: null };
        if (entry instanceof Done) return { state: "done", result: entry.result };
        if (entry.owner !== owner) return { state: "running", owner: entry.owner };
      }
      put(key, new Running(owner, at + leaseMs));
      return { state: "acquired" };
    },
    async complete(key, owner, result, ttlMs) {
      const at = now();
      const entry = live(key, at);
      if (!(entry instanceof Running) || entry.owner !== owner) return;
      const expiresAt = at + (ttlMs ?? defaultTtl);
      // Stored as JSON, as a shared store would: no shared references, `undefined` becomes null.
      const stored = result == null ? null : JSON.parse(JSON.stringify(result));
      put(key, stored === null ? expiresAt : new Done(stored, expiresAt));
    },
    async release(key, owner) {
      const entry = live(key, now());
      if (entry instanceof Running && entry.owner === owner) entries.delete(key);
    },
  };
}
