import type { BrokerEvent, FailedResponse, QueueRecord, StoredMessage, TopicRecord } from "../types.ts";
import type { SqlDriver, SqlStatement, SqlValue } from "./driver.ts";
import { labelsColumn, SCHEMA } from "./schema.ts";

/** A message row as read back. */
export interface MessageRow {
  seq: number;
  due: number;
  retried: number;
  message: StoredMessage;
  body: Uint8Array;
}

/** The compact view of a pending message that recovery keeps in memory. */
export interface PendingRow {
  seq: number;
  id: string;
  due: number;
  retried: number;
  queue: string | null;
  flow_key: string | null;
}

/** A DLQ entry as read back. */
export interface DlqRow {
  seq: number;
  dlqId: string;
  failedAt: number;
  message: StoredMessage;
  body: Uint8Array;
  response: FailedResponse;
}

/** A stored schedule: its definition (the publish it repeats) and state. */
export interface ScheduleRow {
  id: string;
  data: ScheduleData;
  body: Uint8Array;
  paused: boolean;
  createdAt: number;
  lastTime?: number;
}

/** A schedule's definition. */
export interface ScheduleData {
  cron: string;
  destination: string;
  /** The message every firing publishes, minus ids and times. */
  template: Omit<StoredMessage, "messageId" | "url" | "notBefore" | "createdAt">;
  /** Seconds added to each firing. */
  delay?: number;
  /** Who created the schedule: the `Upstash-Caller-Ip` of the messages it publishes. */
  callerIp?: string;
}

const bytes = (value: SqlValue | undefined): Uint8Array =>
  value instanceof Uint8Array ? value : new Uint8Array(0);

type Row = Record<string, SqlValue>;

/** A message insert waiting for the next commit. */
export interface MessageInsert {
  seq: number;
  message: StoredMessage;
  body: Uint8Array;
  due: number;
}

const MESSAGE_COLUMNS = "seq, id, due, retried, url, queue, topic, schedule_id, labels, flow_key, caller_ip, created_at, data, body";
const EVENT_COLUMNS = "time, message_id, state, url, queue, topic, schedule_id, labels, flow_key, data";
/** Rows per multi-row statement (a power of two); smaller remainders use the powers of two below it. */
const MESSAGE_CHUNK = 64;
const EVENT_CHUNK = 128;
const DELETE_CHUNK = 256;

/**
 * Multi-row statements of one shape, prepared on first use for row counts that are powers of two:
 * `n` rows run as full chunks then one statement per set bit of the remainder, so at most
 * log2(chunk) + 1 statements exist per shape and a batch of n rows costs O(n / chunk + log n) calls.
 */
class BulkStatement {
  readonly #cache = new Map<number, SqlStatement>();
  readonly #db: SqlDriver;
  readonly #sql: (rows: number) => string;
  readonly #chunk: number;

  constructor(db: SqlDriver, chunk: number, sql: (rows: number) => string) {
    this.#db = db;
    this.#chunk = chunk;
    this.#sql = sql;
  }

  /** Runs over `count` rows; `bind(params, i)` appends row i's values to `params`. */
  run(count: number, bind: (params: SqlValue[], i: number) => void): void {
    let i = 0;
    while (i < count) {
      let rows = this.#chunk;
      while (rows > count - i) rows >>= 1;
      const params: SqlValue[] = [];
      for (const end = i + rows; i < end; i++) bind(params, i);
      this.#statement(rows).run(...params);
    }
  }

  #statement(rows: number): SqlStatement {
    let statement = this.#cache.get(rows);
    if (!statement) {
      statement = this.#db.prepare(this.#sql(rows));
      this.#cache.set(rows, statement);
    }
    return statement;
  }
}

const tuples = (rows: number, columns: number): string => {
  const tuple = `(${"?,".repeat(columns - 1)}?)`;
  return Array.from({ length: rows }, () => tuple).join(",");
};

/**
 * Every query the broker makes, prepared once. Methods are synchronous; writes are meant to run
 * inside a {@link GroupWriter} batch.
 */
export class Store {
  readonly db: SqlDriver;
  readonly #s: Record<string, SqlStatement>;
  readonly #insertMessages: BulkStatement;
  readonly #insertEvents: BulkStatement;
  readonly #deleteMessages: BulkStatement;

  constructor(db: SqlDriver, memory: boolean) {
    this.db = db;
    if (!memory) {
      // One broker per file: two would number messages alike and deliver each other's. The lock is
      // taken here, before any wait is allowed (so a second process fails at once), and held until
      // close; set before WAL is first used, it also keeps the WAL index out of shared memory.
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("BEGIN IMMEDIATE");
      db.exec("COMMIT");
      db.exec("PRAGMA journal_mode = WAL");
      // NORMAL in WAL mode: a commit survives a killed process (the kernel has it), only not a power cut.
      db.exec("PRAGMA synchronous = NORMAL");
      // Checkpoints are where NORMAL syncs: fewer, larger ones under a steady write load.
      db.exec("PRAGMA wal_autocheckpoint = 10000");
    }
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec(SCHEMA);
    const p = (sql: string) => db.prepare(sql);
    this.#insertMessages = new BulkStatement(db, MESSAGE_CHUNK, (n) => `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${tuples(n, 14)}`);
    this.#insertEvents = new BulkStatement(db, EVENT_CHUNK, (n) => `INSERT INTO events (${EVENT_COLUMNS}) VALUES ${tuples(n, 10)}`);
    this.#deleteMessages = new BulkStatement(db, DELETE_CHUNK, (n) => `DELETE FROM messages WHERE seq IN (${"?,".repeat(n - 1)}?)`);
    this.#s = {
      insertMessage: p(
        "INSERT INTO messages (seq, id, due, retried, url, queue, topic, schedule_id, labels, flow_key, caller_ip, created_at, data, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      ),
      updateRetry: p("UPDATE messages SET due = ?, retried = ? WHERE seq = ?"),
      deleteMessage: p("DELETE FROM messages WHERE seq = ?"),
      messageById: p("SELECT seq, due, retried, data, body FROM messages WHERE id = ?"),
      messageBySeq: p("SELECT seq, due, retried, data, body FROM messages WHERE seq = ?"),
      maxSeq: p("SELECT max(seq) AS m FROM messages"),
      maxDlqSeq: p("SELECT max(seq) AS m FROM dlq"),
      pending: p("SELECT seq, id, due, retried, queue, flow_key FROM messages ORDER BY due, seq"),
      insertDlq: p(
        "INSERT INTO dlq (dlq_id, message_id, url, queue, topic, schedule_id, labels, flow_key, caller_ip, response_status, created_at, data, body, response, response_body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      ),
      dlqById: p("SELECT * FROM dlq WHERE dlq_id = ?"),
      deleteDlq: p("DELETE FROM dlq WHERE dlq_id = ?"),
      insertEvent: p(
        "INSERT INTO events (time, message_id, state, url, queue, topic, schedule_id, labels, flow_key, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
      ),
      pruneEvents: p("DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?"),
      upsertQueue: p(
        "INSERT INTO queues (name, parallelism, paused, created_at, updated_at) VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET parallelism = excluded.parallelism, paused = excluded.paused, updated_at = excluded.updated_at",
      ),
      insertQueue: p("INSERT INTO queues (name, parallelism, paused, created_at, updated_at) VALUES (?,?,?,?,?) ON CONFLICT(name) DO NOTHING"),
      deleteQueue: p("DELETE FROM queues WHERE name = ?"),
      queues: p("SELECT * FROM queues ORDER BY name"),
      upsertSchedule: p(
        "INSERT INTO schedules (id, data, body, paused, created_at, last_time) VALUES (?,?,?,?,?,NULL) ON CONFLICT(id) DO UPDATE SET data = excluded.data, body = excluded.body, paused = excluded.paused",
      ),
      pauseSchedule: p("UPDATE schedules SET paused = ? WHERE id = ?"),
      scheduleFired: p("UPDATE schedules SET last_time = ? WHERE id = ?"),
      deleteSchedule: p("DELETE FROM schedules WHERE id = ?"),
      schedules: p("SELECT * FROM schedules ORDER BY created_at"),
      upsertTopic: p(
        "INSERT INTO topics (name, endpoints, created_at, updated_at) VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET endpoints = excluded.endpoints, updated_at = excluded.updated_at",
      ),
      deleteTopic: p("DELETE FROM topics WHERE name = ?"),
      topics: p("SELECT * FROM topics ORDER BY name"),
      putDedup: p("INSERT OR REPLACE INTO dedup (key, response, expires) VALUES (?,?,?)"),
      liveDedup: p("SELECT key, response, expires FROM dedup WHERE expires > ?"),
      pruneDedup: p("DELETE FROM dedup WHERE expires <= ?"),
      putFlow: p("INSERT OR REPLACE INTO flow_control (key, paused, pinned) VALUES (?,?,?)"),
      deleteFlow: p("DELETE FROM flow_control WHERE key = ?"),
      flows: p("SELECT key, paused, pinned FROM flow_control"),
      getMeta: p("SELECT value FROM meta WHERE key = ?"),
      putMeta: p("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)"),
    };
  }

  // messages

  insertMessage(seq: number, message: StoredMessage, body: Uint8Array, due: number, retried = 0): void {
    this.#s.insertMessage!.run(
      seq, message.messageId, due, retried, message.url, message.queueName ?? null, message.topicName ?? null,
      message.scheduleId ?? null, labelsColumn(message.labels), message.flowControlKey ?? null,
      message.callerIp ?? null, message.createdAt, JSON.stringify(message), body,
    );
  }

  /** Inserts new messages (retried 0), in order, with as few statements as the batch allows. */
  insertMessages(rows: MessageInsert[]): void {
    this.#insertMessages.run(rows.length, (params, i) => {
      const { seq, message, body, due } = rows[i]!;
      params.push(
        seq, message.messageId, due, 0, message.url, message.queueName ?? null, message.topicName ?? null,
        message.scheduleId ?? null, labelsColumn(message.labels), message.flowControlKey ?? null,
        message.callerIp ?? null, message.createdAt, JSON.stringify(message), body,
      );
    });
  }

  /** Deletes messages by seq (delivered, failed, canceled). */
  deleteMessages(seqs: number[]): void {
    this.#deleteMessages.run(seqs.length, (params, i) => void params.push(seqs[i]!));
  }

  updateRetry(seq: number, due: number, retried: number): void {
    this.#s.updateRetry!.run(due, retried, seq);
  }

  deleteMessage(seq: number): void {
    this.#s.deleteMessage!.run(seq);
  }

  messageById(id: string): MessageRow | undefined {
    return toMessageRow(this.#s.messageById!.get<Row>(id));
  }

  messageBySeq(seq: number): MessageRow | undefined {
    return toMessageRow(this.#s.messageBySeq!.get<Row>(seq));
  }

  maxSeq(): number {
    return Number(this.#s.maxSeq!.get<{ m: number | null }>()?.m ?? 0);
  }

  /** The newest DLQ entry's seq (0 when empty): a snapshot bound for paging. */
  maxDlqSeq(): number {
    return Number(this.#s.maxDlqSeq!.get<{ m: number | null }>()?.m ?? 0);
  }

  pending(): PendingRow[] {
    return this.#s.pending!.all<PendingRow>();
  }

  /**
   * The CANCEL_REQUESTED events of messages canceled while an attempt was in flight whose CANCELED
   * never followed (the broker stopped before the attempt ended): their rows are gone, so nothing
   * else would ever end their log.
   */
  unfinishedCancels(): BrokerEvent[] {
    return this.db
      .all<EventRow>(
        `SELECT seq, time, message_id, state, url, queue, topic, schedule_id, flow_key, data FROM events e WHERE state = 'CANCEL_REQUESTED'
           AND NOT EXISTS (SELECT 1 FROM events f WHERE f.message_id = e.message_id AND f.seq > e.seq AND f.state IN ('CANCELED', 'DELIVERED', 'FAILED'))
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = e.message_id)
         ORDER BY seq`,
      )
      .map(toEvent);
  }

  /** Messages matching a SQL filter, oldest first. */
  findMessages(where: string, params: SqlValue[]): { seq: number; id: string; url: string }[] {
    return this.db.all(`SELECT seq, id, url FROM messages WHERE ${where} ORDER BY seq`, ...params);
  }

  // DLQ

  insertDlq(dlqId: string, message: StoredMessage, body: Uint8Array, response: FailedResponse, failedAt: number): void {
    const { body: responseBody, ...rest } = response;
    this.#s.insertDlq!.run(
      dlqId, message.messageId, message.url, message.queueName ?? null, message.topicName ?? null,
      message.scheduleId ?? null, labelsColumn(message.labels), message.flowControlKey ?? null,
      message.callerIp ?? null, response.status ?? null, failedAt, JSON.stringify(message), body,
      JSON.stringify(rest), responseBody ?? null,
    );
  }

  dlqById(dlqId: string): DlqRow | undefined {
    const row = this.#s.dlqById!.get<Row>(dlqId);
    return row ? toDlqRow(row) : undefined;
  }

  deleteDlq(dlqId: string): boolean {
    const existed = this.#s.dlqById!.get<Row>(dlqId) !== undefined;
    this.#s.deleteDlq!.run(dlqId);
    return existed;
  }

  /** DLQ entries matching a SQL filter after `cursor` (before it, newest first, with `latestFirst`), up to `limit`. */
  findDlq(where: string, params: SqlValue[], cursor: number | undefined, limit: number, latestFirst = false): DlqRow[] {
    const sql = latestFirst
      ? `SELECT * FROM dlq WHERE seq < ? AND ${where} ORDER BY seq DESC LIMIT ?`
      : `SELECT * FROM dlq WHERE seq > ? AND ${where} ORDER BY seq LIMIT ?`;
    return this.db.all<Row>(sql, cursor ?? (latestFirst ? Number.MAX_SAFE_INTEGER : 0), ...params, limit).map(toDlqRow);
  }

  // events

  insertEvent(event: BrokerEvent): void {
    this.#s.insertEvent!.run(
      event.time, event.messageId, event.state, event.url, event.queueName ?? null, event.topicName ?? null,
      event.scheduleId ?? null, labelsColumn(event.labels), event.flowControlKey ?? null, JSON.stringify(event),
    );
  }

  /** Appends events, in order (their seq is their order). */
  insertEvents(events: BrokerEvent[]): void {
    this.#insertEvents.run(events.length, (params, i) => {
      const event = events[i]!;
      params.push(
        event.time, event.messageId, event.state, event.url, event.queueName ?? null, event.topicName ?? null,
        event.scheduleId ?? null, labelsColumn(event.labels), event.flowControlKey ?? null, eventData(event),
      );
    });
  }

  /** Events matching a SQL filter before `cursor` (a seq), newest first, at most `limit`. */
  findEvents(where: string, params: SqlValue[], cursor: number, limit: number): { seq: number; event: BrokerEvent }[] {
    return this.db
      .all<EventRow>(`SELECT seq, time, message_id, state, url, queue, topic, schedule_id, flow_key, data FROM events WHERE seq < ? AND ${where} ORDER BY seq DESC LIMIT ?`, cursor, ...params, limit)
      .map((row) => ({ seq: row.seq, event: toEvent(row) }));
  }

  /** Keeps the newest `keep` events. */
  pruneEvents(keep: number): void {
    this.#s.pruneEvents!.run(keep);
  }

  // queues, schedules, URL groups, dedup, flow control, meta

  /** Stores a queue unless one of that name is stored (an enqueue's, which must not override the API's). */
  insertQueue(queue: QueueRecord): void {
    this.#s.insertQueue!.run(queue.name, queue.parallelism, queue.paused ? 1 : 0, queue.createdAt, queue.updatedAt);
  }

  upsertQueue(queue: QueueRecord): void {
    this.#s.upsertQueue!.run(queue.name, queue.parallelism, queue.paused ? 1 : 0, queue.createdAt, queue.updatedAt);
  }

  deleteQueue(name: string): void {
    this.#s.deleteQueue!.run(name);
  }

  queues(): QueueRecord[] {
    return this.#s.queues!.all<Row>().map((r) => ({
      name: String(r.name),
      parallelism: Number(r.parallelism),
      paused: Number(r.paused) === 1,
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    }));
  }

  upsertSchedule(row: ScheduleRow): void {
    this.#s.upsertSchedule!.run(row.id, JSON.stringify(row.data), row.body, row.paused ? 1 : 0, row.createdAt);
  }

  pauseSchedule(id: string, paused: boolean): void {
    this.#s.pauseSchedule!.run(paused ? 1 : 0, id);
  }

  scheduleFired(id: string, time: number): void {
    this.#s.scheduleFired!.run(time, id);
  }

  deleteSchedule(id: string): void {
    this.#s.deleteSchedule!.run(id);
  }

  schedules(): ScheduleRow[] {
    return this.#s.schedules!.all<Row>().map((r) => ({
      id: String(r.id),
      data: JSON.parse(String(r.data)) as ScheduleData,
      body: bytes(r.body),
      paused: Number(r.paused) === 1,
      createdAt: Number(r.created_at),
      ...(r.last_time != null ? { lastTime: Number(r.last_time) } : {}),
    }));
  }

  upsertTopic(topic: TopicRecord): void {
    this.#s.upsertTopic!.run(topic.name, JSON.stringify(topic.endpoints), topic.createdAt, topic.updatedAt);
  }

  deleteTopic(name: string): void {
    this.#s.deleteTopic!.run(name);
  }

  topics(): TopicRecord[] {
    return this.#s.topics!.all<Row>().map((r) => ({
      name: String(r.name),
      endpoints: JSON.parse(String(r.endpoints)) as TopicRecord["endpoints"],
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    }));
  }

  putDedup(key: string, response: string, expires: number): void {
    this.#s.putDedup!.run(key, response, expires);
  }

  liveDedup(now: number): { key: string; response: string; expires: number }[] {
    return this.#s.liveDedup!.all(now);
  }

  pruneDedup(now: number): void {
    this.#s.pruneDedup!.run(now);
  }

  /** Stores a key's API settings; a key back to its defaults (resumed, unpinned) keeps no row. */
  putFlow(key: string, paused: boolean, pinned: string | null): void {
    if (!paused && pinned === null) this.#s.deleteFlow!.run(key);
    else this.#s.putFlow!.run(key, paused ? 1 : 0, pinned);
  }

  flows(): { key: string; paused: number; pinned: string | null }[] {
    return this.#s.flows!.all();
  }

  getMeta(key: string): string | undefined {
    const row = this.#s.getMeta!.get<{ value: string }>(key);
    return row?.value;
  }

  putMeta(key: string, value: string): void {
    this.#s.putMeta!.run(key, value);
  }
}

type EventRow = {
  seq: number; time: number; message_id: string; state: string; url: string; queue: string | null;
  topic: string | null; schedule_id: string | null; flow_key: string | null; data: string;
};

/**
 * An event's `data` column: the fields its other columns do not hold (labels, endpoint name and
 * the state's own fields), `{}` for most. Rows written before this held the whole event; reading
 * either gives the same event.
 */
function eventData(event: BrokerEvent): string {
  let data = "";
  for (const key in event) {
    if (COLUMN_FIELDS.has(key)) continue;
    const value = event[key as keyof BrokerEvent];
    if (value === undefined) continue;
    data += `${data ? "," : ""}${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return `{${data}}`;
}

const COLUMN_FIELDS = new Set(["time", "state", "messageId", "url", "queueName", "scheduleId", "topicName", "flowControlKey"]);

function toEvent(row: EventRow): BrokerEvent {
  const event: BrokerEvent = { time: Number(row.time), state: row.state as BrokerEvent["state"], messageId: row.message_id, url: row.url };
  const data = JSON.parse(row.data) as Partial<BrokerEvent>;
  if (data.label !== undefined) event.label = data.label;
  if (data.labels !== undefined) event.labels = data.labels;
  if (row.queue !== null) event.queueName = row.queue;
  if (row.schedule_id !== null) event.scheduleId = row.schedule_id;
  if (row.topic !== null) event.topicName = row.topic;
  if (data.endpointName !== undefined) event.endpointName = data.endpointName;
  if (row.flow_key !== null) event.flowControlKey = row.flow_key;
  return Object.assign(event, data);
}

function toMessageRow(row: Row | undefined): MessageRow | undefined {
  if (!row) return undefined;
  return {
    seq: Number(row.seq),
    due: Number(row.due),
    retried: Number(row.retried),
    message: JSON.parse(String(row.data)) as StoredMessage,
    body: bytes(row.body),
  };
}

function toDlqRow(row: Row): DlqRow {
  const response = JSON.parse(String(row.response ?? "{}")) as FailedResponse;
  if (row.response_body instanceof Uint8Array) response.body = row.response_body;
  return {
    seq: Number(row.seq),
    dlqId: String(row.dlq_id),
    failedAt: Number(row.created_at),
    message: JSON.parse(String(row.data)) as StoredMessage,
    body: bytes(row.body),
    response,
  };
}
