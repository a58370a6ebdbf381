import type { SqlDriver } from "./driver.ts";

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/**
 * Group commit: writes are collected and run in one transaction, and the promises of
 * {@link GroupWriter.commit} resolve only after that transaction is committed. A transaction per
 * message would cap throughput at the disk's sync rate; one per batch costs the same for a
 * thousand. Writes somebody waits for (an acknowledgement) are flushed after the current
 * event-loop turn; the others (events, deletes after delivery) wait up to `lingerMs` to join a
 * bigger batch. Losing those in a crash only means a redelivery (at-least-once), never a loss.
 */
export class GroupWriter {
  #ops: (() => void)[] = [];
  #waiters: Waiter[] = [];
  #scheduled: "soon" | "now" | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #db: SqlDriver;
  readonly #onError: (error: unknown) => void;
  readonly #lingerMs: number;

  constructor(db: SqlDriver, onError: (error: unknown) => void, lingerMs = 5) {
    this.#db = db;
    this.#onError = onError;
    this.#lingerMs = lingerMs;
  }

  /** Queues a write for the next commit; nobody waits for it (events, deletes after delivery). */
  write(op: () => void): void {
    if (this.#closed) return;
    this.#ops.push(op);
    if (this.#scheduled) return;
    this.#scheduled = "soon";
    this.#lingerTimer = setTimeout(() => this.flush(), this.#lingerMs);
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
    if (this.#ops.length === 0 && this.#waiters.length === 0) return;
    const ops = this.#ops;
    const waiters = this.#waiters;
    this.#ops = [];
    this.#waiters = [];
    try {
      this.#db.exec("BEGIN");
      try {
        for (const op of ops) op();
        this.#db.exec("COMMIT");
      } catch (error) {
        this.#db.exec("ROLLBACK");
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

  #schedule(): void {
    if (this.#scheduled === "now") return;
    this.#scheduled = "now";
    // setImmediate runs after the I/O of this turn: every request that arrived with it joins the batch.
    if (typeof setImmediate === "function") setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), 0);
  }
}
