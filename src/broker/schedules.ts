import { Cron } from "croner";
import { badRequest } from "./errors.ts";
import type { Publisher } from "./publisher.ts";
import type { ScheduleRow, Store } from "./store/store.ts";
import type { GroupWriter } from "./store/writer.ts";

/** A cron expression split into its pattern and time zone (UTC unless `CRON_TZ=` names one). */
export interface ParsedCron {
  pattern: string;
  timezone: string;
}

/**
 * Parses `Upstash-Cron`: five fields (minute resolution, UTC) with an optional
 * `CRON_TZ=Area/City ` prefix, exactly as QStash. Local extension: six fields, the first being
 * seconds, so a test can fire a schedule every second.
 */
export function parseCron(text: string): ParsedCron {
  const trimmed = text.trim();
  const match = /^(?:CRON_TZ|TZ)=(\S+)\s+(.+)$/.exec(trimmed);
  const pattern = (match ? match[2]! : trimmed).trim().replace(/\s+/g, " ");
  // Without a prefix the fields are in UTC, as on QStash, whatever this machine's time zone.
  const timezone = match?.[1] ?? "UTC";
  if (match) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      throw badRequest(`invalid time zone "${timezone}" in Upstash-Cron: expected an IANA name like Europe/Berlin`);
    }
  }
  const fields = pattern.split(" ").length;
  if (fields !== 5 && fields !== 6) {
    throw badRequest(`invalid Upstash-Cron "${text}": expected 5 fields (minute hour day month weekday), optionally after CRON_TZ=Area/City`);
  }
  try {
    new Cron(pattern, { timezone, mode: "5-or-6-parts", paused: true }).stop();
  } catch (error) {
    throw badRequest(`invalid Upstash-Cron "${text}": ${(error as Error).message}`);
  }
  return { pattern, timezone };
}

/**
 * Parses `Upstash-Cron` for a new schedule: as {@link parseCron}, and refused when no date matches
 * it (such as "0 0 31 2 *"), since it would sit there and never fire. Stored schedules are loaded
 * with `parseCron` alone, so a database written before this check still opens.
 */
export function parseNewCron(text: string): ParsedCron {
  const parsed = parseCron(text);
  const cron = new Cron(parsed.pattern, { timezone: parsed.timezone, mode: "5-or-6-parts", paused: true });
  const next = cron.nextRun();
  cron.stop();
  if (!next) throw badRequest(`invalid Upstash-Cron "${text}": it never fires (no date matches it)`);
  return parsed;
}

/** The schedules and their cron timers. Firing publishes a message like any other. */
export class Schedules {
  readonly #jobs = new Map<string, { row: ScheduleRow; cron: Cron }>();
  readonly #store: Store;
  readonly #writer: GroupWriter;
  readonly #publisher: Publisher;
  readonly #onError: (error: unknown) => void;
  #closed = false;

  constructor(store: Store, writer: GroupWriter, publisher: Publisher, onError: (error: unknown) => void) {
    this.#store = store;
    this.#writer = writer;
    this.#publisher = publisher;
    this.#onError = onError;
  }

  /** Starts the timers of every stored schedule. */
  load(): void {
    for (const row of this.#store.schedules()) this.#start(row);
  }

  // Each change is committed first and applied to the timers once its commit is done. Commits
  // settle in the order they were asked for, so the timers follow the database even when changes
  // to one schedule overlap (two upserts, an upsert and a delete): a change applied before its
  // commit, with another one's commit in between, could leave a timer the database no longer has.

  /** Creates or overwrites (every field) a schedule. */
  async upsert(row: ScheduleRow): Promise<void> {
    const previous = this.#jobs.get(row.id);
    if (previous) row.createdAt = previous.row.createdAt;
    await this.#writer.commit(() => this.#store.upsertSchedule(row));
    // Whatever runs under this id now, which may be another upsert's timer rather than `previous`.
    const current = this.#jobs.get(row.id);
    current?.cron.stop();
    // The last firing is the schedule's history, which an upsert keeps (as the database does).
    if (current?.row.lastTime !== undefined && row.lastTime === undefined) row.lastTime = current.row.lastTime;
    this.#start(row);
  }

  get(id: string): { row: ScheduleRow; next: number | undefined } | undefined {
    const job = this.#jobs.get(id);
    return job ? { row: job.row, next: job.cron.nextRun()?.getTime() } : undefined;
  }

  list(): { row: ScheduleRow; next: number | undefined }[] {
    return [...this.#jobs.values()].map((job) => ({ row: job.row, next: job.cron.nextRun()?.getTime() }));
  }

  /** Pauses or resumes; false when unknown. */
  async setPaused(id: string, paused: boolean): Promise<boolean> {
    if (!this.#jobs.has(id)) return false;
    await this.#writer.commit(() => this.#store.pauseSchedule(id, paused));
    const job = this.#jobs.get(id);
    if (job) {
      job.row.paused = paused;
      if (paused) job.cron.pause();
      else job.cron.resume();
    }
    return true;
  }

  async delete(id: string): Promise<boolean> {
    if (!this.#jobs.has(id)) return false;
    await this.#writer.commit(() => this.#store.deleteSchedule(id));
    this.#jobs.get(id)?.cron.stop();
    this.#jobs.delete(id);
    return true;
  }

  /** Stops every timer; a change whose commit settles later starts none. */
  close(): void {
    this.#closed = true;
    for (const job of this.#jobs.values()) job.cron.stop();
  }

  #start(row: ScheduleRow): void {
    if (this.#closed) return;
    const { pattern, timezone } = parseCron(row.data.cron);
    const cron = new Cron(pattern, { timezone, mode: "5-or-6-parts", paused: row.paused, catch: (e) => this.#onError(e) }, () =>
      this.#fire(row.id),
    );
    this.#jobs.set(row.id, { row, cron });
  }

  #fire(id: string): void {
    const job = this.#jobs.get(id);
    if (!job || job.row.paused) return;
    const { row } = job;
    const now = Date.now();
    row.lastTime = now;
    this.#writer.write(() => this.#store.scheduleFired(id, now));
    const { template, delay, destination, callerIp } = row.data;
    this.#publisher
      .publish([
        {
          destination,
          spec: { template, contentBasedDeduplication: false, ...(delay ? { delay } : {}) },
          body: row.body,
          scheduleId: id,
          ...(template.queueName ? { queueName: template.queueName } : {}),
          ...(callerIp ? { callerIp } : {}),
        },
      ])
      .catch(this.#onError);
  }
}
