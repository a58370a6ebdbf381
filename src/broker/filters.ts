import { badRequest } from "./errors.ts";
import type { SqlValue } from "./store/driver.ts";

/** The filters of the bulk endpoints (cancel, DLQ, events), parsed from the query string. */
export interface Filter {
  ids?: string[];
  messageId?: string[];
  url?: string[];
  topicName?: string[];
  queueName?: string[];
  scheduleId?: string[];
  label?: string[];
  flowControlKey?: string[];
  callerIp?: string[];
  endpointName?: string[];
  host?: string[];
  path?: string[];
  state?: string[];
  responseStatus?: number[];
  fromDate?: number;
  toDate?: number;
  count?: number;
  cursor?: number;
  /** DLQ entries oldest first (the default) or newest first. */
  order?: "earliestFirst" | "latestFirst";
}

type Field = keyof Filter;

/** Most ids one bulk call takes. */
const MAX_IDS = 10_000;
/** Most values one filter field takes (they are OR-ed in one SQL expression). */
const MAX_VALUES = 100;
const LIST_FIELDS = [
  "messageId", "url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp", "endpointName", "host", "path", "state",
] as const;

/** Which keys each endpoint accepts, beyond its id list key and the token. */
export const FILTER_KEYS = {
  messages: ["url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp", "host", "path", "fromDate", "toDate", "count", "cursor", "api"],
  dlq: ["messageId", "url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp", "responseStatus", "fromDate", "toDate", "count", "cursor", "order", "api"],
  events: ["messageId", "state", "url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp", "host", "path", "fromDate", "toDate", "count", "cursor", "api", "endpointName"],
} as const;

/**
 * Parses a filter from query parameters. Unknown keys are a 400, so a typo never widens a bulk
 * cancel or delete to everything.
 */
export function parseFilter(
  params: URLSearchParams,
  kind: keyof typeof FILTER_KEYS,
  idKey: string,
  bodyIds?: string[],
): Filter {
  const allowed = new Set<string>([...FILTER_KEYS[kind], idKey, "qstash_token"]);
  const filter: Filter = {};
  for (const key of new Set(params.keys())) {
    if (!allowed.has(key)) {
      throw badRequest(`unknown filter "${key}"; accepted: ${[idKey, ...FILTER_KEYS[kind]].join(", ")}`);
    }
  }
  const ids = [...params.getAll(idKey), ...(bodyIds ?? [])];
  // Bounded, as SQLite bounds a statement's variables and expression depth.
  if (ids.length > MAX_IDS) throw badRequest(`too many ids in "${idKey}": at most ${MAX_IDS} per call`);
  // Ids given but none there (`[]`, `?dlqIds=`) would select every entry: a bulk delete or retry
  // of everything, by a mistake. Acting on everything is asked for by giving no ids at all.
  if ((params.has(idKey) || bodyIds !== undefined) && (ids.length === 0 || ids.includes(""))) {
    throw badRequest(`"${idKey}" is empty or holds an empty id: give the ids to act on, or leave "${idKey}" out to act on every match of the filters`);
  }
  if (ids.length > 0) filter.ids = ids;
  for (const field of LIST_FIELDS) {
    if (!allowed.has(field)) continue;
    const values = params.getAll(field).filter((v) => v !== "");
    if (values.length > MAX_VALUES) throw badRequest(`too many values of filter "${field}": at most ${MAX_VALUES}`);
    if (values.length > 0) filter[field] = values;
  }
  const statuses = params.getAll("responseStatus");
  if (statuses.length > MAX_VALUES) throw badRequest(`too many values of filter "responseStatus": at most ${MAX_VALUES}`);
  if (statuses.length > 0) filter.responseStatus = statuses.map((s) => integer(s, "responseStatus"));
  const from = params.get("fromDate");
  if (from) filter.fromDate = integer(from, "fromDate");
  const to = params.get("toDate");
  if (to) filter.toDate = integer(to, "toDate");
  const count = params.get("count");
  if (count) {
    filter.count = integer(count, "count");
    if (filter.count < 1) throw badRequest(`invalid count "${count}": expected a whole number >= 1`);
  }
  const cursor = params.get("cursor");
  if (cursor) filter.cursor = integer(cursor, "cursor");
  const order = params.get("order");
  if (order) {
    if (order !== "earliestFirst" && order !== "latestFirst") throw badRequest(`invalid order "${order}": expected earliestFirst or latestFirst`);
    filter.order = order;
  }
  return filter;
}

function integer(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw badRequest(`invalid ${name} "${value}": expected a whole number`);
  return n;
}

/** The column of each filter field, per table; a field missing here is not filterable there. */
export type Columns = Partial<Record<Field, string>>;

/** Builds a SQL `WHERE` clause (without the keyword) and its parameters. */
export function filterSql(filter: Filter, columns: Columns): { where: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  const anyOf = (column: string | undefined, values: readonly SqlValue[] | undefined) => {
    if (!column || !values || values.length === 0) return;
    parts.push(`${column} IN (${values.map(() => "?").join(",")})`);
    params.push(...values);
  };
  anyOf(columns.ids, filter.ids);
  anyOf(columns.messageId, filter.messageId);
  anyOf(columns.url, filter.url);
  anyOf(columns.topicName, filter.topicName);
  anyOf(columns.queueName, filter.queueName);
  anyOf(columns.scheduleId, filter.scheduleId);
  anyOf(columns.flowControlKey, filter.flowControlKey);
  anyOf(columns.callerIp, filter.callerIp);
  anyOf(columns.endpointName, filter.endpointName);
  anyOf(columns.state, filter.state);
  anyOf(columns.responseStatus, filter.responseStatus);
  if (columns.label && filter.label?.length) {
    // instr, not LIKE: a label is matched exactly, its case and any `%` or `_` in it included.
    parts.push(`(${filter.label.map(() => `instr(${columns.label}, ?) > 0`).join(" OR ")})`);
    params.push(...filter.label.map((l) => `,${l},`));
  }
  if (columns.fromDate && filter.fromDate !== undefined) {
    parts.push(`${columns.fromDate} >= ?`);
    params.push(filter.fromDate);
  }
  if (columns.toDate && filter.toDate !== undefined) {
    parts.push(`${columns.toDate} <= ?`);
    params.push(filter.toDate);
  }
  return { where: parts.length > 0 ? parts.join(" AND ") : "1", params };
}

/** The host and path filters, applied in code after SQL (they are parts of the stored URL). */
export function matchesHostPath(filter: Filter, url: string): boolean {
  if (!filter.host && !filter.path) return true;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (filter.host && !filter.host.includes(parsed.host) && !filter.host.includes(parsed.hostname)) return false;
  if (filter.path && !filter.path.includes(parsed.pathname)) return false;
  return true;
}
