import type { QueueRecord } from "../types.ts";
import { Fifo } from "./fifo.ts";

/**
 * A FIFO queue: a message takes one of `parallelism` slots when it starts and keeps it through
 * its retries, until delivered or failed for good; the next waits for a free slot.
 */
export class QueueState<T> {
  record: QueueRecord;
  /** Declared through the API or an enqueue (and stored); false for a deleted queue's leftovers. */
  declared: boolean;
  readonly fifo: Fifo<T> = new Fifo<T>();
  /** Messages that hold a slot (retrying) and fell due while the queue was paused: first on resume. */
  readonly held: Fifo<T> = new Fifo<T>();
  /** Messages holding a slot. */
  active = 0;
  /** Messages of this queue not yet delivered, failed or canceled (the `lag`). */
  pending = 0;
  /** The queue as the API last asked for it, while some of those changes are not stored yet. */
  staged: { record: QueueRecord; declared: boolean } | undefined;
  /** API changes not stored yet. */
  changing = 0;

  constructor(record: QueueRecord, declared: boolean) {
    this.record = record;
    this.declared = declared;
  }

  get open(): boolean {
    return !this.record.paused && this.active < this.record.parallelism;
  }

  /** The wire shape of `GET /v2/queues/{name}`. */
  info(): Record<string, unknown> {
    const { name, createdAt, updatedAt, parallelism, paused } = this.record;
    return { name, createdAt, updatedAt, parallelism, lag: this.pending, paused };
  }
}
