/**
 * The broker's tables. A message row lives from its acceptance until it is delivered, failed
 * (then it moves to `dlq`) or canceled: recovery after a crash is "deliver every row of `messages`".
 * `seq` is the rowid, so updates and deletes by seq need no second index.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  due INTEGER NOT NULL,
  retried INTEGER NOT NULL DEFAULT 0,
  url TEXT NOT NULL,
  queue TEXT,
  topic TEXT,
  schedule_id TEXT,
  labels TEXT,
  flow_key TEXT,
  caller_ip TEXT,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL,
  body BLOB
);
CREATE TABLE IF NOT EXISTS dlq (
  seq INTEGER PRIMARY KEY,
  dlq_id TEXT NOT NULL UNIQUE,
  message_id TEXT NOT NULL,
  url TEXT NOT NULL,
  queue TEXT,
  topic TEXT,
  schedule_id TEXT,
  labels TEXT,
  flow_key TEXT,
  caller_ip TEXT,
  response_status INTEGER,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL,
  body BLOB,
  response TEXT,
  response_body BLOB
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  state TEXT NOT NULL,
  url TEXT NOT NULL,
  queue TEXT,
  topic TEXT,
  schedule_id TEXT,
  labels TEXT,
  flow_key TEXT,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message ON events(message_id);
CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  parallelism INTEGER NOT NULL,
  paused INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  body BLOB,
  paused INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_time INTEGER
);
CREATE TABLE IF NOT EXISTS topics (
  name TEXT PRIMARY KEY,
  endpoints TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup (
  key TEXT PRIMARY KEY,
  response TEXT NOT NULL,
  expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_control (
  key TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0,
  pinned TEXT
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** Labels are stored as `,a,b,` so a label filter is one substring test (`instr`) per label. */
export function labelsColumn(labels: string[] | undefined): string | null {
  return labels && labels.length > 0 ? `,${labels.join(",")},` : null;
}
