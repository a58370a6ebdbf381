import type { BrokerEvent, StoredMessage } from "../types.ts";
import type { SqlDriver } from "./driver.ts";
import type { MessageInsert, Store } from "./store.ts";

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/**
 * Group commit: writes are collected and run in one transaction, and the promises of
 * {@link GroupWriter.commit} resolve only after that transaction is committed. A transaction per
 * message would cap throughput at the disk's sync rate; one per batch costs the same for a
 * thousand. Writes somebody waits for (an acknowledgement) are flushed after the current
 * event-loop turn; the others (events, deletes after delivery) wait up to `lingerMs` to join a
 * bigger batch. Losing those in a crash only means a redelivery (at-least-once), never a loss.
 *
 * The hot writes (message inserts, events, message deletes) are not closures but rows, written
 * with multi-row statements: per batch, the inserts first, then the other writes in their order,
 * then the events, then the writes that must see them (pruning the log), then the deletes. Each
 * message's own writes keep their order that way (insert, retry updates or DLQ move, delete), and
 * events keep theirs.
 */
export class GroupWriter {
  #ops: (() => void)[] = [];
  /** Writes that must see this batch's events (pruning the event log). */
  #afterEvents: (() => void)[] = [];
  #inserts: MessageInsert[] = [];
  #events: BrokerEvent[] = [];
  #deletes: number[] = [];
  #waiters: Waiter[] = [];
  #scheduled: "soon" | "now" | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #db: SqlDriver;
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  readonly #lingerMs: number;
  readonly #guard: (() => void) | undefined;

  /**
   * `guard` runs before every batch somebody waits for, and throws when the batch must not be
   * committed (the database file is gone): those waiters are then refused, never acknowledged.
   */
  constructor(store: Store, onError: (error: unknown) => void, lingerMs = 5, guard?: () => void) {
    this.#db = store.db;
    this.#store = store;
    this.#onError = onError;
    this.#lingerMs = lingerMs;
    this.#guard = guard;
  }

  /** Queues a write for the next commit; nobody waits for it (events, deletes after delivery). */
  write(op: () => void): void {
    if (this.#closed) return;
    this.#ops.push(op);
    this.#linger();
  }

  /** Queues a write that runs after the batch's events are inserted (nobody waits for it). */
  writeAfterEvents(op: () => void): void {
    if (this.#closed) return;
    this.#afterEvents.push(op);
    this.#linger();
  }

  /** Queues a new message's insert (its acknowledgement waits on a {@link commit}). */
  insertMessage(seq: number, message: StoredMessage, body: Uint8Array, due: number): void {
    if (this.#closed) return;
    this.#inserts.push({ seq, message, body, due });
    this.#linger();
  }

  /** Queues an event. */
  event(event: BrokerEvent): void {
    if (this.#closed) return;
    this.#events.push(event);
    this.#linger();
  }

  /** Queues a message's delete (it reached a final state). */
  deleteMessage(seq: number): void {
    if (this.#closed) return;
    this.#deletes.push(seq);
    this.#linger();
  }

  /** Queues writes and resolves once they are committed (an acknowledgement depends on it). */
  commit(op?: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the broker is shutting down"));
    if (op) this.#ops.push(op);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Commits what is queued now, synchronously. */
  flush(): void {
    this.#scheduled = undefined;
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const ops = this.#ops;
    const afterEvents = this.#afterEvents;
    const inserts = this.#inserts;
    const events = this.#events;
    const deletes = this.#deletes;
    const waiters = this.#waiters;
    if (ops.length + afterEvents.length + inserts.length + events.length + deletes.length + waiters.length === 0) return;
    this.#ops = [];
    this.#afterEvents = [];
    this.#inserts = [];
    this.#events = [];
    this.#deletes = [];
    this.#waiters = [];
    try {
      if (waiters.length > 0) this.#guard?.();
      this.#db.exec("BEGIN");
      try {
        if (inserts.length > 0) this.#store.insertMessages(inserts);
        for (const op of ops) op();
        if (events.length > 0) this.#store.insertEvents(events);
        for (const op of afterEvents) op();
        if (deletes.length > 0) this.#store.deleteMessages(deletes);
        this.#db.exec("COMMIT");
      } catch (error) {
        // SQLite may have rolled back already (disk full, I/O error): the first error is the one to tell.
        try {
          this.#db.exec("ROLLBACK");
        } catch {}
        throw error;
      }
    } catch (error) {
      this.#onError(error);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const waiter of waiters) waiter.resolve();
  }

  /** Flushes and refuses later writes. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  #linger(): void {
    if (this.#scheduled) return;
    this.#scheduled = "soon";
    this.#lingerTimer = setTimeout(() => this.flush(), this.#lingerMs);
  }

  #schedule(): void {
    if (this.#scheduled === "now") return;
    this.#scheduled = "now";
    // setImmediate runs after the I/O of this turn: every request that arrived with it joins the batch.
    if (typeof setImmediate === "function") setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), 0);
  }
}
