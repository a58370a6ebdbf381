import { MAX_TIMER_MS } from "../../duration.ts";
import { makeEvent } from "../events.ts";
import { ids } from "../ids.ts";
import { defaultBackoff } from "../retry-after.ts";
import { evaluateRetryDelay } from "../retry-delay.ts";
import { bodyHash } from "../sign.ts";
import type { Store } from "../store/store.ts";
import type { GroupWriter } from "../store/writer.ts";
import type { BrokerEvent, FailedResponse, QueueRecord, StoredMessage } from "../types.ts";
import { callbackMessage } from "./callback.ts";
import { type AttemptResult, attemptDelivery, type FetchLike } from "./deliver.ts";
import type { Http1Client } from "./http1.ts";
import { Fifo } from "./fifo.ts";
import { type FlowChange, type FlowSettings, FlowState } from "./flow-control.ts";
import { type HeapItem, TimerHeap } from "./heap.ts";
import { QueueState } from "./queue-state.ts";

/** A message the engine is responsible for, from acceptance to its final state. */
export interface Entry extends HeapItem {
  id: string;
  retried: number;
  queue: string | undefined;
  flowKey: string | undefined;
  /** Loaded while the message is due soon or in flight; far-future messages keep only this entry. */
  message: StoredMessage | undefined;
  body: Uint8Array | undefined;
  /** The body's SHA-256 for the signature, computed at the first attempt and kept with the body. */
  bodyHash: string | undefined;
  holdsQueue: boolean;
  holdsFlow: boolean;
  /** Waiting in its flow-control key's `wait` list. */
  atFlow: boolean;
  /** The queue its enqueue declared, until that enqueue's commit settles (taken back if it fails). */
  declaredQueue: QueueRecord | undefined;
  active: boolean;
  canceled: boolean;
}

/** What the engine needs from the broker around it. */
export interface EngineOptions {
  store: Store;
  writer: GroupWriter;
  emit: (event: BrokerEvent) => void;
  fetch: FetchLike;
  /** Carries `http://` deliveries instead of `fetch` when given; closed by {@link Engine.stop}. */
  http?: Http1Client;
  signingKey: () => string;
  /** Per-attempt timeout in ms when a message sets none. */
  defaultTimeout: number;
  /** Attempts in flight at once, over all messages. */
  maxConcurrency: number;
  onError: (error: unknown) => void;
}

/** Messages due later than this keep no body in memory; it is read back when they are due. */
const HOT_HORIZON_MS = 10_000;

const decoder = new TextDecoder();

/** Flow-control keys held before the first sweep for unused ones. */
const FLOW_SWEEP_MIN = 1024;

/**
 * The delivery engine: timers for delayed messages and retries, the gates a due message passes
 * (its queue's slots, its flow-control key, the global concurrency bound), the attempts and their
 * outcomes. Every state change is written through the group writer; nothing here awaits storage
 * per message.
 */
export class Engine {
  readonly live: Map<string, Entry> = new Map();
  readonly queues: Map<string, QueueState<Entry>> = new Map();
  readonly flows: Map<string, FlowState<Entry>> = new Map();
  readonly #heap = new TimerHeap<Entry>();
  /** Entries without a flow-control key waiting for a global slot, and keys waiting for one for their next entry. */
  readonly #globalWait = new Fifo<Entry | FlowState<Entry>>();
  readonly #o: EngineOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #seq = 0;
  #flowSweepAt = FLOW_SWEEP_MIN;
  #inFlight = 0;
  #settled: (() => void) | undefined;
  #stopped = false;

  constructor(options: EngineOptions) {
    this.#o = options;
  }

  /** Attempts in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Messages waiting for their time (delay, not-before, retry backoff). */
  get delayed(): number {
    return this.#heap.size;
  }

  /** Loads queues, flow-control settings and every pending message (at-least-once after a crash). */
  recover(): void {
    const { store } = this.#o;
    for (const record of store.queues()) this.queues.set(record.name, new QueueState(record, true));
    for (const row of store.flows()) {
      const flow = this.#flow(row.key);
      flow.paused = row.paused === 1;
      flow.pinned = row.pinned ? JSON.parse(row.pinned) : null;
    }
    this.#seq = store.maxSeq();
    const entries: Entry[] = [];
    // Each key's newest message (highest seq): its settings are the key's, as at run time.
    const newest = new Map<string, number>();
    for (const row of store.pending()) {
      const entry = newEntry(row.seq, row.id, row.due, row.retried, row.queue ?? undefined, row.flow_key ?? undefined);
      entries.push(entry);
      this.live.set(entry.id, entry);
      if (entry.flowKey) {
        this.#flow(entry.flowKey).pending++;
        if (entry.seq > (newest.get(entry.flowKey) ?? -1)) newest.set(entry.flowKey, entry.seq);
      }
      if (entry.queue) {
        const queue = this.#queue(entry.queue);
        queue.pending++;
        // A queue message that was retrying held its queue's slot: it keeps it.
        if (entry.retried > 0) {
          entry.holdsQueue = true;
          queue.active++;
        }
      }
    }
    // A key's settings live in its messages' data: read the newest message of each key.
    for (const [key, seq] of newest) {
      const flow = this.#flow(key);
      const message = store.messageBySeq(seq)?.message;
      // Pins are per field and win in the getters: the messages' own values stay underneath.
      if (message) flow.configure(message);
    }
    for (const entry of entries) this.#schedule(entry);
    // Canceled in flight just before a stop: the attempt's end, which logs CANCELED, never came.
    for (const requested of store.unfinishedCancels()) this.#o.emit({ ...requested, time: Date.now(), state: "CANCELED" });
  }

  /**
   * Stages new messages: their inserts and CREATED events join the next commit. Returns their
   * entries, to {@link admit} once that commit is done (a message is never delivered before it
   * is on disk).
   */
  stage(items: { message: StoredMessage; body: Uint8Array }[]): Entry[] {
    const { store, writer } = this.#o;
    const entries: Entry[] = [];
    for (const { message, body } of items) {
      const seq = ++this.#seq;
      const entry = newEntry(seq, message.messageId, message.notBefore, 0, message.queueName, message.flowControlKey);
      entry.message = message;
      entry.body = body;
      writer.insertMessage(seq, message, body, message.notBefore);
      this.#o.emit(makeEvent(message, "CREATED", message.notBefore > message.createdAt ? { nextDeliveryTime: message.notBefore } : undefined));
      this.live.set(entry.id, entry);
      if (entry.queue) {
        const queue = this.#queue(entry.queue);
        if (!(queue.staged ?? queue).declared) entry.declaredQueue = this.#declare(queue);
        queue.pending++;
      }
      if (entry.flowKey) {
        const flow = this.#flow(entry.flowKey);
        flow.pending++;
        flow.configure(message);
      }
      entries.push(entry);
    }
    return entries;
  }

  /**
   * Takes back staged entries whose commit failed: they were never accepted, so nothing of them
   * may stay (no `live` entry, no queue lag, no hold on a flow-control key).
   */
  unstage(entries: Entry[]): void {
    for (const entry of entries) {
      // A queue this enqueue declared was not stored either: the next enqueue declares it again.
      this.#settleDeclare(entry, false);
      if (this.live.get(entry.id) !== entry) continue;
      entry.canceled = true;
      this.#forget(entry);
    }
  }

  /** Starts the clock of committed entries (and puts the queues they declared in force). */
  admit(entries: Entry[]): void {
    for (const entry of entries) {
      this.#settleDeclare(entry, true);
      if (!entry.canceled) this.#schedule(entry);
    }
  }

  /** Stages, commits and admits in one go, for the broker's own messages (callbacks). */
  publishInternal(items: { message: StoredMessage; body: Uint8Array }[]): void {
    const entries = this.stage(items);
    this.#o.writer.commit().then(
      () => this.admit(entries),
      (error) => {
        this.unstage(entries);
        this.#o.onError(error);
      },
    );
  }

  /**
   * Cancels a message that is not delivered yet: CANCEL_REQUESTED, then CANCELED at once, or
   * after the attempt in flight ends (it is not retried). False when unknown or already final.
   */
  cancel(id: string): boolean {
    const entry = this.live.get(id);
    if (!entry || entry.canceled) return false;
    const message = this.#load(entry);
    if (!message) return false;
    entry.canceled = true;
    this.#o.emit(makeEvent(message, "CANCEL_REQUESTED"));
    // Stored now, in the commit the API waits for: a broker restarted before the attempt in flight
    // ends must not deliver the message again.
    this.#o.writer.deleteMessage(entry.seq);
    if (entry.active) return true;
    this.#heap.remove(entry);
    this.#o.emit(makeEvent(message, "CANCELED"));
    this.#forget(entry);
    // A gate may hold it a long time (a key paused for good): it keeps nothing there but its place.
    if (entry.atFlow) {
      const flow = this.flows.get(entry.flowKey!);
      if (flow) flow.canceledWaiting++;
    }
    entry.message = undefined;
    entry.body = undefined;
    entry.bodyHash = undefined;
    // Released now, wherever it waits: a gate that is paused or full (a flow-control key) may not
    // pop it for a long time, and its queue's slot must not wait for that. The gates skip it later.
    this.#release(entry);
    const flow = entry.flowKey ? this.flows.get(entry.flowKey) : undefined;
    if (flow) this.#forgetIfIdle(flow);
    return true;
  }

  // queues

  /**
   * Declares the queue an enqueue names, when it is not there as last asked for (never made, or
   * deleted by a change not stored yet): parallelism 1, stored with the enqueue's own commit unless
   * stored by then (an API upsert in the same batch keeps its settings), and in force once that
   * commit is done ({@link admit}).
   */
  #declare(queue: QueueState<Entry>): QueueRecord {
    const now = Date.now();
    const record: QueueRecord = { name: queue.record.name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
    queue.staged = { record, declared: true };
    queue.changing++;
    this.#o.writer.write(() => this.#o.store.insertQueue(record));
    return record;
  }

  /** Ends an enqueue's declaration of its queue: in force when stored, else dropped. */
  #settleDeclare(entry: Entry, stored: boolean): void {
    const record = entry.declaredQueue;
    if (!record) return;
    entry.declaredQueue = undefined;
    const queue = this.queues.get(record.name);
    if (!queue) return;
    if (stored && !queue.declared) {
      queue.declared = true;
      queue.record = record;
      this.#pumpQueue(queue);
    }
    this.#endQueueChange(queue);
  }

  /** Ends one change of a queue, stored or not: once none is on its way, the live state is the whole truth. */
  #endQueueChange(queue: QueueState<Entry>): void {
    if (--queue.changing === 0) queue.staged = undefined;
    this.#dropIfUnused(queue);
  }

  /** Forgets a queue nothing declares or uses (its last message done, no change on its way). */
  #dropIfUnused(queue: QueueState<Entry>): void {
    if (!queue.declared && queue.pending === 0 && queue.changing === 0 && this.queues.get(queue.record.name) === queue) {
      this.queues.delete(queue.record.name);
    }
  }

  // The API's changes below are applied once their commit is done (or dropped when it fails), so
  // a change answered with an error leaves nothing behind. Each is made on top of the changes asked
  // for before it (stored or not yet) and applied in that order, so changes answered together all
  // hold, in memory as on disk. Each answers with the state it made, not a later change's.

  /**
   * Creates or updates a queue: the fields given change, the others stay as last asked for.
   * With `existing`, only a queue that is there as last asked for (a pause, a resume): undefined
   * otherwise.
   */
  async upsertQueue(
    name: string,
    change: { parallelism?: number; paused?: boolean },
    existing = false,
  ): Promise<Record<string, unknown> | undefined> {
    const now = Date.now();
    const requested = this.#queue(name);
    const base = requested.staged ?? { record: requested.record, declared: requested.declared };
    if (existing && !base.declared) {
      this.#dropIfUnused(requested);
      return undefined;
    }
    const record: QueueRecord = {
      ...base.record,
      parallelism: change.parallelism ?? (base.declared ? base.record.parallelism : 1),
      paused: change.paused ?? (base.declared ? base.record.paused : false),
      updatedAt: now,
      ...(base.declared ? {} : { createdAt: now }),
    };
    requested.staged = { record, declared: true };
    requested.changing++;
    let info: Record<string, unknown> | undefined;
    try {
      await this.#o.writer.commit(() => this.#o.store.upsertQueue(record));
      const queue = this.#queue(name);
      queue.record = record;
      queue.declared = true;
      info = queue.info();
      this.#pumpQueue(queue);
    } finally {
      this.#endQueueChange(this.#queue(name));
    }
    return info;
  }

  /** Deletes a queue's declaration; its pending messages still run, one at a time. False when unknown. */
  async deleteQueue(name: string): Promise<boolean> {
    const requested = this.queues.get(name);
    if (!requested || !(requested.staged ?? requested).declared) return false;
    // A change asked for after this starts from a queue that is not there.
    requested.staged = { record: { ...requested.record, parallelism: 1, paused: false }, declared: false };
    requested.changing++;
    try {
      await this.#o.writer.commit(() => this.#o.store.deleteQueue(name));
      const queue = this.queues.get(name);
      if (queue?.declared) {
        queue.declared = false;
        queue.record = { ...queue.record, parallelism: 1, paused: false };
        this.#pumpQueue(queue);
      }
    } finally {
      // Still there: a queue with a change on its way is never dropped.
      this.#endQueueChange(this.queues.get(name)!);
    }
    return true;
  }

  // flow control

  /** The flow-control key's state, if any message or setting ever used it. */
  flow(key: string): FlowState<Entry> | undefined {
    return this.flows.get(key);
  }

  /**
   * Pauses or resumes a key, pins or unpins it, or resets its rate window; stored so a restart
   * keeps it (a reset is not stored), and applied then. Answers the key's state as this change left
   * it.
   */
  async updateFlow(key: string, change: (flow: FlowChange) => void): Promise<Record<string, unknown>> {
    const requested = this.#flow(key);
    const base: FlowSettings = requested.staged ?? { paused: requested.paused, pinned: requested.pinned };
    const after: FlowChange = { ...base, resetRate: false };
    change(after);
    const { paused, pinned, resetRate } = after;
    requested.staged = { paused, pinned };
    requested.changing++;
    let info: Record<string, unknown> | undefined;
    try {
      await this.#o.writer.commit(() => this.#o.store.putFlow(key, paused, pinned ? JSON.stringify(pinned) : null));
      const flow = this.#flow(key);
      flow.paused = paused;
      flow.pinned = pinned;
      if (resetRate) {
        flow.windowStart = 0;
        flow.windowCount = 0;
      }
      info = flow.info();
      this.#pumpFlow(flow);
    } finally {
      // A failed change is dropped with its commit. One asked for after it, in a later commit, was
      // made on top of it and carries it when stored (memory and disk still agree).
      const flow = this.#flow(key);
      if (--flow.changing === 0) flow.staged = undefined;
      this.#forgetIfIdle(flow);
    }
    return info!;
  }

  /** Stops timers, waits up to `graceMs` for attempts in flight to settle, closes idle connections. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const flow of this.flows.values()) if (flow.timer) clearTimeout(flow.timer);
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#settled = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#o.http?.close();
  }

  // internals: timing and gates

  #queue(name: string): QueueState<Entry> {
    let queue = this.queues.get(name);
    if (!queue) {
      const now = Date.now();
      const record: QueueRecord = { name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
      queue = new QueueState(record, false);
      this.queues.set(name, queue);
    }
    return queue;
  }

  #flow(key: string): FlowState<Entry> {
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= this.#flowSweepAt) this.#sweepFlows();
      flow = new FlowState<Entry>(key);
      this.flows.set(key, flow);
    }
    return flow;
  }

  /**
   * Forgets the keys nothing uses any more (see {@link FlowState.idle}), so a broker that sees a
   * new key per user or order does not keep them all. Run as the number of keys doubles: a key
   * still inside its rate window when its last message finished is dropped by a later sweep.
   */
  #sweepFlows(): void {
    const now = Date.now();
    for (const [key, flow] of this.flows) if (flow.idle(now)) this.flows.delete(key);
    this.#flowSweepAt = Math.max(FLOW_SWEEP_MIN, this.flows.size * 2);
  }

  #schedule(entry: Entry): void {
    if (this.#stopped) return;
    const now = Date.now();
    if (entry.due <= now) return this.#route(entry);
    if (entry.due - now > HOT_HORIZON_MS) {
      entry.message = undefined;
      entry.body = undefined;
      entry.bodyHash = undefined;
    }
    this.#heap.push(entry);
    this.#arm();
  }

  #arm(): void {
    const top = this.#heap.peek();
    if (!top || this.#stopped) return;
    if (this.#timer && this.#timerAt <= top.due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = top.due;
    this.#timer = setTimeout(() => this.#onTimer(), Math.min(MAX_TIMER_MS, Math.max(0, top.due - Date.now())));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (let top = this.#heap.peek(); top && top.due <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      this.#route(top);
    }
    this.#arm();
  }

  #route(entry: Entry): void {
    if (entry.canceled) return this.#release(entry);
    if (entry.queue) {
      const queue = this.#queue(entry.queue);
      if (!entry.holdsQueue) {
        queue.fifo.push(entry);
        return this.#pumpQueue(queue);
      }
      // A retry keeps its slot, but a paused queue delivers nothing: it waits for the resume.
      if (queue.record.paused) return queue.held.push(entry);
    }
    this.#toFlow(entry);
  }

  #pumpQueue(queue: QueueState<Entry>): void {
    while (!queue.record.paused && queue.held.length > 0) {
      const entry = queue.held.shift()!;
      if (entry.canceled) this.#release(entry);
      else this.#toFlow(entry);
    }
    while (queue.open && queue.fifo.length > 0) {
      const entry = queue.fifo.shift()!;
      if (entry.canceled) continue;
      entry.holdsQueue = true;
      queue.active++;
      this.#toFlow(entry);
    }
  }

  #toFlow(entry: Entry): void {
    if (!entry.flowKey) return this.#toGlobal(entry);
    const flow = this.#flow(entry.flowKey);
    flow.wait.push(entry);
    entry.atFlow = true;
    this.#pumpFlow(flow);
  }

  #pumpFlow(flow: FlowState<Entry>): void {
    while (flow.wait.length > 0) {
      const now = Date.now();
      const blocked = flow.blockedFor(now);
      if (blocked > 0) {
        // Armed, or armed again when the wait got shorter (a pin with a shorter period).
        if (Number.isFinite(blocked) && !this.#stopped && (!flow.timer || flow.timerAt > now + blocked)) {
          if (flow.timer) clearTimeout(flow.timer);
          flow.timerAt = now + blocked;
          flow.timer = setTimeout(() => {
            flow.timer = undefined;
            this.#pumpFlow(flow);
            // It may have found only canceled messages: then nothing uses the key any more.
            this.#forgetIfIdle(flow);
          }, Math.min(MAX_TIMER_MS, blocked));
        }
        return;
      }
      // With the global bound full, the key waits there for a slot in its entries' stead: its next
      // entry is taken (and counted against its parallelism and rate) only when it can start, so a
      // pause or a pin made meanwhile applies to it.
      if (!this.#globalFree()) {
        if (!flow.awaitingGlobal) {
          flow.awaitingGlobal = true;
          this.#globalWait.push(flow);
        }
        return;
      }
      const entry = this.#takeFrom(flow, now);
      if (entry) this.#toGlobal(entry);
    }
  }

  /** The next entry of a key that may start now, counted against its limits (undefined: a canceled one, skipped). */
  #takeFrom(flow: FlowState<Entry>, now: number): Entry | undefined {
    const entry = flow.wait.shift()!;
    entry.atFlow = false;
    if (entry.canceled) {
      flow.canceledWaiting--;
      this.#release(entry);
      return undefined;
    }
    flow.take(now);
    flow.active++;
    entry.holdsFlow = true;
    return entry;
  }

  #globalFree(): boolean {
    return this.#inFlight < this.#o.maxConcurrency && this.#globalWait.length === 0;
  }

  #toGlobal(entry: Entry): void {
    if (this.#globalFree()) this.#start(entry);
    else this.#globalWait.push(entry);
  }

  #pumpGlobal(): void {
    while (this.#inFlight < this.#o.maxConcurrency && this.#globalWait.length > 0) {
      const next = this.#globalWait.shift()!;
      if (next instanceof FlowState) this.#startFromFlow(next);
      else if (next.canceled) this.#release(next);
      else this.#start(next);
    }
  }

  /** A rate-limited key's turn at a free global slot: its next entry starts, if its limits allow. */
  #startFromFlow(flow: FlowState<Entry>): void {
    flow.awaitingGlobal = false;
    while (flow.wait.length > 0) {
      const now = Date.now();
      if (flow.blockedFor(now) > 0) break;
      const entry = this.#takeFrom(flow, now);
      if (entry) {
        this.#start(entry);
        break;
      }
    }
    // Anything left goes through the key's gate again (a timer, or a new turn behind the others).
    this.#pumpFlow(flow);
    // Its turn may have found only canceled messages: then nothing uses the key any more.
    this.#forgetIfIdle(flow);
  }

  /** Forgets a key nothing uses any more (a later message makes it again). */
  #forgetIfIdle(flow: FlowState<Entry>): void {
    if (flow.idle(Date.now()) && this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
  }

  /** Releases the flow-control slot an entry holds, and lets the key's next entry through (now, or after this turn). */
  #releaseFlow(entry: Entry, later = false): void {
    if (!entry.holdsFlow) return;
    entry.holdsFlow = false;
    const flow = this.flows.get(entry.flowKey!);
    if (!flow) return;
    flow.active--;
    if (later) queueMicrotask(() => this.#pumpFlow(flow));
    else this.#pumpFlow(flow);
  }

  /** Releases the queue slot and flow slot an entry holds. */
  #release(entry: Entry): void {
    this.#releaseFlow(entry);
    if (entry.holdsQueue) {
      entry.holdsQueue = false;
      const queue = this.queues.get(entry.queue!);
      if (queue) {
        queue.active--;
        this.#pumpQueue(queue);
      }
    }
  }

  /** Drops an entry that reached a final state from memory. */
  #forget(entry: Entry): void {
    this.live.delete(entry.id);
    if (entry.flowKey) {
      const flow = this.flows.get(entry.flowKey);
      if (flow) {
        flow.pending--;
        // A key still held otherwise (a slot, its rate window) goes in a later sweep.
        this.#forgetIfIdle(flow);
      }
    }
    if (entry.queue) {
      const queue = this.queues.get(entry.queue);
      if (queue) {
        queue.pending--;
        this.#dropIfUnused(queue);
      }
    }
  }

  #load(entry: Entry): StoredMessage | undefined {
    if (!entry.message) {
      const row = this.#o.store.messageBySeq(entry.seq);
      if (!row) return undefined;
      entry.message = row.message;
      entry.body = row.body;
    }
    return entry.message;
  }

  // internals: attempts and outcomes

  #start(entry: Entry): void {
    // Stopping: the message stays pending in the database, and a restarted broker delivers it. An
    // attempt started now could outlive the database, and its outcome would be lost.
    if (this.#stopped) return;
    // Its queue was paused while it waited at its key or for a global slot: a paused queue delivers
    // nothing. It keeps its queue slot, gives its key's back, and goes first on resume.
    if (entry.holdsQueue) {
      const queue = this.queues.get(entry.queue!);
      if (queue?.record.paused) {
        // Taken from its key just now (in this same turn): the start it was counted for is not made.
        if (entry.holdsFlow) this.flows.get(entry.flowKey!)?.untake();
        // Pumped later: this may run inside that key's own pump loop.
        this.#releaseFlow(entry, true);
        queue.held.push(entry);
        return;
      }
    }
    const message = this.#load(entry);
    if (!message) {
      // The row is gone (it cannot be delivered): treat it as finished.
      this.#forget(entry);
      this.#release(entry);
      return;
    }
    this.#inFlight++;
    entry.active = true;
    this.#o.emit(makeEvent(message, "ACTIVE", { retried: entry.retried }));
    const context = { fetch: this.#o.fetch, http: this.#o.http, signingKey: this.#o.signingKey(), defaultTimeout: this.#o.defaultTimeout };
    const hash = (entry.bodyHash ??= bodyHash(entry.body!));
    attemptDelivery(context, message, entry.body!, entry.retried, hash).then(
      (result) => this.#settle(entry, message, result),
      (error) => this.#settle(entry, message, { ok: false, error: String(error), nonRetryable: false }),
    );
  }

  #settle(entry: Entry, message: StoredMessage, result: AttemptResult): void {
    this.#inFlight--;
    entry.active = false;
    this.#releaseFlow(entry);
    try {
      this.#outcome(entry, message, result);
    } catch (error) {
      this.#o.onError(error);
    }
    this.#pumpGlobal();
    if (this.#inFlight === 0 && this.#settled) this.#settled();
  }

  #outcome(entry: Entry, message: StoredMessage, result: AttemptResult): void {
    const { store, writer, emit } = this.#o;
    const body = entry.body!;
    // Built only when a callback or the DLQ needs it: most deliveries succeed without either.
    const toResponse = (): FailedResponse => {
      // At most MAX_RESPONSE_BODY bytes: attemptDelivery reads no more.
      const response: FailedResponse = { body: result.body };
      if (result.status !== undefined) response.status = result.status;
      if (result.header) response.header = result.header;
      if (result.error) response.error = result.error;
      return response;
    };
    if (message.callback) this.publishInternal([callbackMessage(message.callback, message, body, toResponse(), entry.retried)]);

    if (result.ok) {
      emit(makeEvent(message, "DELIVERED", { responseStatus: result.status! }));
      writer.deleteMessage(entry.seq);
      this.#finish(entry);
      return;
    }
    const extra: Partial<BrokerEvent> = { error: result.error ?? "failed", retried: entry.retried };
    if (result.status !== undefined) extra.responseStatus = result.status;
    if (result.body && result.body.length > 0) extra.responseBody = decoder.decode(result.body.subarray(0, 2048));
    emit(makeEvent(message, "ERROR", extra));
    if (entry.canceled) {
      emit(makeEvent(message, "CANCELED"));
      writer.deleteMessage(entry.seq);
      this.#finish(entry);
      return;
    }
    if (result.nonRetryable || entry.retried >= message.maxRetries) {
      this.#fail(entry, message, body, toResponse());
      return;
    }
    const delay =
      result.retryAfter ??
      (message.retryDelayExpression ? evaluateRetryDelay(message.retryDelayExpression, entry.retried) : defaultBackoff(entry.retried + 1));
    entry.retried++;
    entry.due = Date.now() + delay;
    const { seq, due, retried } = entry;
    writer.write(() => store.updateRetry(seq, due, retried));
    emit(makeEvent(message, "RETRY", { nextDeliveryTime: due, retried }));
    this.#schedule(entry);
  }

  #fail(entry: Entry, message: StoredMessage, body: Uint8Array, response: FailedResponse): void {
    const dlqId = ids.dlq();
    const now = Date.now();
    const { store, writer } = this.#o;
    writer.write(() => store.insertDlq(dlqId, message, body, response, now));
    writer.deleteMessage(entry.seq);
    const extra: Partial<BrokerEvent> = {};
    if (response.status !== undefined) extra.responseStatus = response.status;
    if (response.error) extra.error = response.error;
    this.#o.emit(makeEvent(message, "FAILED", extra));
    if (message.failureCallback) this.publishInternal([callbackMessage(message.failureCallback, message, body, response, entry.retried, dlqId)]);
    this.#finish(entry);
  }

  #finish(entry: Entry): void {
    this.#forget(entry);
    this.#release(entry);
    entry.message = undefined;
    entry.body = undefined;
    entry.bodyHash = undefined;
  }
}

function newEntry(seq: number, id: string, due: number, retried: number, queue: string | undefined, flowKey: string | undefined): Entry {
  return {
    seq, id, due, retried, queue, flowKey, heapIndex: -1,
    message: undefined, body: undefined, bodyHash: undefined, holdsQueue: false, holdsFlow: false, atFlow: false, declaredQueue: undefined, active: false, canceled: false,
  };
}
