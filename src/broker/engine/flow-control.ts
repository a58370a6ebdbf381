import type { StoredMessage } from "../types.ts";
import { Fifo } from "./fifo.ts";

/** A configuration pinned through the API, which messages' own values then do not override. */
export interface PinnedFlow {
  parallelism?: number;
  rate?: number;
  period?: number;
}

/** What the API sets on a key, and stores. */
export interface FlowSettings {
  paused: boolean;
  pinned: PinnedFlow | null;
}

/** One API change of a key: its settings, and whether it resets the rate window now. */
export interface FlowChange extends FlowSettings {
  resetRate: boolean;
}

/**
 * The state of one flow-control key: at most `parallelism` attempts in flight, at most `rate`
 * starts per `period` seconds (a fixed window that opens at its first start). Messages that may
 * not start yet wait in `wait`, in order.
 */
export class FlowState<T> {
  readonly key: string;
  parallelism?: number;
  rate?: number;
  period = 1;
  paused = false;
  pinned: PinnedFlow | null = null;
  active = 0;
  /** Messages not final yet that use this key (delayed, waiting or in flight). */
  pending = 0;
  windowStart = 0;
  windowCount = 0;
  readonly wait: Fifo<T> = new Fifo<T>();
  /** Entries of `wait` canceled while there: skipped when popped, not counted as waiting. */
  canceledWaiting = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When `timer` fires. */
  timerAt = 0;
  /** Whether the key waits in the global queue for a slot for its next entry (the bound full). */
  awaitingGlobal = false;
  /** The settings as the API last asked for them, while some of those changes are not stored yet. */
  staged: FlowSettings | undefined;
  /** API changes not stored yet. */
  changing = 0;

  constructor(key: string) {
    this.key = key;
  }

  /** The latest message's values win, as on hosted QStash, unless pinned. */
  configure(message: Pick<StoredMessage, "parallelism" | "rate" | "period">): void {
    this.parallelism = message.parallelism;
    this.rate = message.rate;
    this.period = message.period ?? 1;
  }

  get maxParallelism(): number | undefined {
    return this.pinned?.parallelism ?? this.parallelism;
  }

  get maxRate(): number | undefined {
    return this.pinned?.rate ?? this.rate;
  }

  get ratePeriod(): number {
    return this.pinned?.period ?? this.period;
  }

  /** 0 when one more attempt may start now; ms until the rate window reopens; Infinity otherwise. */
  blockedFor(now: number): number {
    if (this.paused) return Infinity;
    const parallelism = this.maxParallelism;
    if (parallelism !== undefined && this.active >= parallelism) return Infinity;
    const rate = this.maxRate;
    if (rate === undefined) return 0;
    const windowEnd = this.windowStart + this.ratePeriod * 1000;
    if (now >= windowEnd || this.windowCount < rate) return 0;
    return windowEnd - now;
  }

  /**
   * Whether the key can be forgotten: nothing uses it, no setting was made through the API, and
   * its rate window is over (a key made again starts with a fresh one, so forgetting it sooner
   * would let more starts through than its rate).
   */
  idle(now: number): boolean {
    return (
      this.pending === 0 &&
      this.active === 0 &&
      this.wait.length === 0 &&
      !this.paused &&
      this.pinned === null &&
      this.timer === undefined &&
      !this.awaitingGlobal &&
      this.changing === 0 &&
      (this.maxRate === undefined || now >= this.windowStart + this.ratePeriod * 1000)
    );
  }

  /** Counts a start in the rate window. */
  take(now: number): void {
    if (now >= this.windowStart + this.ratePeriod * 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount++;
  }

  /** Takes back the start last counted, in the same turn (it was not made after all). */
  untake(): void {
    if (this.windowCount > 0) this.windowCount--;
  }

  /** The wire shape of `GET /v2/flowControl/{key}`. */
  info(): Record<string, unknown> {
    return {
      flowControlKey: this.key,
      waitListSize: this.wait.length - this.canceledWaiting,
      parallelismMax: this.maxParallelism ?? 0,
      parallelismCount: this.active,
      rateMax: this.maxRate ?? 0,
      rateCount: Date.now() < this.windowStart + this.ratePeriod * 1000 ? this.windowCount : 0,
      ratePeriod: this.ratePeriod,
      ratePeriodStart: Math.floor(this.windowStart / 1000),
      isPaused: this.paused,
      isPinnedParallelism: this.pinned?.parallelism !== undefined,
      isPinnedRate: this.pinned?.rate !== undefined,
    };
  }
}
