import { MAX_DURATION_SECONDS, parseDuration } from "../duration.ts";
import { badRequest } from "./errors.ts";
import { addHeader, canonicalHeader } from "./headers.ts";
import { compileRetryDelay } from "./retry-delay.ts";
import type { CallbackOptions, Redaction, StoredMessage } from "./types.ts";

/** Delivery methods a message may use. */
const METHODS = new Set(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);

/** Default retries after the first attempt, as on hosted QStash. */
export const DEFAULT_RETRIES = 3;
/** Upper bound on `Upstash-Retries`, so a typo cannot keep a message alive for months. */
export const MAX_RETRIES = 100;

/** The message fields a publish request sets (everything but ids, destination and times). */
export type MessageTemplate = Omit<StoredMessage, "messageId" | "url" | "notBefore" | "createdAt" | "topicName" | "endpointName">;

/** A publish request's headers, parsed and validated. */
export interface PublishSpec {
  template: MessageTemplate;
  /** Seconds; from `Upstash-Delay`. */
  delay?: number;
  /** ms since the epoch; from `Upstash-Not-Before` (seconds on the wire). */
  notBefore?: number;
  deduplicationId?: string;
  contentBasedDeduplication: boolean;
  /** From `Upstash-Queue-Name` (schedules). */
  queueName?: string;
  /** From `Upstash-Cron` (schedules). */
  cron?: string;
  /** From `Upstash-Schedule-Id` (schedules). */
  scheduleId?: string;
}

/** What {@link parsePublishHeaders} reads of a `Headers` (names lowercase, iterated in sorted order). */
export interface HeaderSource {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Leading and trailing HTTP whitespace, which `Headers` strips from values.
const HTTP_SPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
// What no header value may hold: NUL, CR, LF, and anything that is not a byte.
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;

/**
 * The headers of a `/v2/batch` item (a JSON object), read as `new Headers(object)` would read them
 * (names checked and lowercased, values stripped and checked, names differing only in case joined
 * with ", ") but without building a `Headers` per item, which was a large part of a batch's cost.
 */
export function headersOf(record: Record<string, unknown> | undefined): HeaderSource {
  const map = new Map<string, string>();
  for (const name in record) {
    const raw = record[name];
    const value = String(raw).replace(HTTP_SPACE, "");
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name "${name}"`);
    if (BAD_VALUE.test(value)) throw new TypeError(`invalid value for header "${name}"`);
    const lower = name.toLowerCase();
    const previous = map.get(lower);
    map.set(lower, previous === undefined ? value : `${previous}, ${value}`);
  }
  return {
    get: (name) => map.get(name) ?? null,
    forEach(callback) {
      const names = [...map.keys()].sort();
      for (const name of names) callback(map.get(name)!, name);
    },
  };
}

/**
 * Headers the broker sets on every attempt: a header forwarded under one of these names is dropped
 * when the message is accepted (it would be joined to the broker's value, and a destination checking
 * the signature would fail).
 */
const BROKER_HEADERS = new Set(["user-agent", "upstash-message-id", "upstash-retried", "upstash-schedule-id", "upstash-topic-name", "upstash-caller-ip", "upstash-signature"]);

/**
 * Reads the publish options of QStash request headers (§3 of the protocol). Every malformed value
 * is a 400 naming the header and the expected form; unknown `Upstash-*` headers are ignored.
 */
export function parsePublishHeaders(headers: HeaderSource): PublishSpec {
  const header: Record<string, string[]> = {};
  const contentType = headers.get("content-type");
  if (contentType) header["Content-Type"] = [contentType];
  const callbackForward: Record<string, string[]> = {};
  const failureForward: Record<string, string[]> = {};
  const forward = (map: Record<string, string[]>, name: string, prefix: number, value: string) => {
    const rest = name.slice(prefix);
    // A name the delivery could not carry (empty) would fail every attempt at the destination.
    if (rest === "") throw badRequest(`invalid header "${name}": the name of the header to forward is missing after the prefix`);
    if (!BROKER_HEADERS.has(rest.toLowerCase())) addHeader(map, rest, value);
  };
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("upstash-forward-")) forward(header, name, 16, value);
    else if (lower.startsWith("upstash-callback-forward-")) forward(callbackForward, name, 25, value);
    else if (lower.startsWith("upstash-failure-callback-forward-")) forward(failureForward, name, 33, value);
  });

  const template: MessageTemplate = {
    method: method(headers.get("upstash-method"), "Upstash-Method") ?? "POST",
    header,
    maxRetries: retries(headers.get("upstash-retries"), "Upstash-Retries") ?? DEFAULT_RETRIES,
  };
  const retryDelay = expression(headers.get("upstash-retry-delay"), "Upstash-Retry-Delay");
  if (retryDelay) template.retryDelayExpression = retryDelay;
  const timeout = duration(headers.get("upstash-timeout"), "Upstash-Timeout");
  if (timeout !== undefined) {
    if (timeout === 0) throw badRequest(`invalid Upstash-Timeout "${headers.get("upstash-timeout")}": must be at least 1s`);
    template.timeout = timeout;
  }
  const callback = callbackOptions(headers, "upstash-callback", "Upstash-Callback", callbackForward);
  if (callback) template.callback = callback;
  const failureCallback = callbackOptions(headers, "upstash-failure-callback", "Upstash-Failure-Callback", failureForward);
  if (failureCallback) template.failureCallback = failureCallback;
  Object.assign(template, flowControl(headers.get("upstash-flow-control-key"), headers.get("upstash-flow-control-value")));
  const labels = list(headers.get("upstash-label"));
  if (labels.length > 0) template.labels = labels;
  const redact = redaction(headers.get("upstash-redact-fields"));
  if (redact) template.redact = redact;

  const spec: PublishSpec = { template, contentBasedDeduplication: false };
  const delay = duration(headers.get("upstash-delay"), "Upstash-Delay");
  if (delay !== undefined) spec.delay = delay;
  const notBefore = headers.get("upstash-not-before");
  if (notBefore !== null) {
    if (!/^\d+$/.test(notBefore.trim())) {
      throw badRequest(`invalid Upstash-Not-Before "${notBefore}": expected a unix timestamp in seconds`);
    }
    spec.notBefore = Number(notBefore.trim()) * 1000;
    if (spec.notBefore > MAX_DURATION_SECONDS * 1000) {
      throw badRequest(`invalid Upstash-Not-Before "${notBefore}": later than any date can hold (at most ${MAX_DURATION_SECONDS})`);
    }
  }
  const dedup = headers.get("upstash-deduplication-id");
  if (dedup !== null) {
    if (dedup.length === 0 || dedup.length > 1000) throw badRequest("invalid Upstash-Deduplication-Id: expected 1 to 1000 characters");
    spec.deduplicationId = dedup;
  }
  const contentDedup = headers.get("upstash-content-based-deduplication");
  if (contentDedup !== null) spec.contentBasedDeduplication = bool(contentDedup, "Upstash-Content-Based-Deduplication");
  const queueName = headers.get("upstash-queue-name");
  if (queueName !== null) spec.queueName = name(queueName, "Upstash-Queue-Name");
  const cron = headers.get("upstash-cron");
  if (cron !== null) spec.cron = cron.trim();
  const scheduleId = headers.get("upstash-schedule-id");
  if (scheduleId !== null) spec.scheduleId = name(scheduleId, "Upstash-Schedule-Id");
  return spec;
}

/** Queue, URL-group and schedule names: what QStash accepts, and safe in a URL path. */
export function name(value: string, what: string): string {
  if (!/^[A-Za-z0-9_.\-]{1,200}$/.test(value)) {
    throw badRequest(`invalid ${what} "${value}": use 1 to 200 letters, digits, "-", "_" or "."`);
  }
  return value;
}

/** Checks a destination or callback URL: absolute http(s). */
export function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`invalid ${what} "${value}": expected an absolute http:// or https:// URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw badRequest(`invalid ${what} "${value}": only http:// and https:// URLs can be delivered to`);
  }
  return value;
}

function method(value: string | null, what: string): string | undefined {
  if (value === null) return undefined;
  const upper = value.trim().toUpperCase();
  if (!METHODS.has(upper)) throw badRequest(`invalid ${what} "${value}": expected one of ${[...METHODS].join(", ")}`);
  return upper;
}

function retries(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (!/^\d+$/.test(text) || Number(text) > MAX_RETRIES) {
    throw badRequest(`invalid ${what} "${value}": expected a whole number from 0 to ${MAX_RETRIES}`);
  }
  return Number(text);
}

function duration(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch {
    throw badRequest(`invalid ${what} "${value}": expected a duration like "10s", "5m", "2h", "1d" or "1d10h30m", at most ${MAX_DURATION_SECONDS} seconds`);
  }
  return seconds;
}

function expression(value: string | null, what: string): string | undefined {
  if (value === null) return undefined;
  try {
    compileRetryDelay(value);
  } catch (error) {
    throw badRequest(`invalid ${what} "${value}": ${(error as Error).message}`);
  }
  return value;
}

function bool(value: string, what: string): boolean {
  const lower = value.trim().toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw badRequest(`invalid ${what} "${value}": expected true or false`);
}

function list(value: string | null): string[] {
  return value === null ? [] : value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function callbackOptions(
  headers: HeaderSource,
  prefix: string,
  what: string,
  forward: Record<string, string[]>,
): CallbackOptions | undefined {
  const url = headers.get(prefix);
  if (url === null) return undefined;
  const options: CallbackOptions = { url: httpUrl(url, what) };
  const r = retries(headers.get(`${prefix}-retries`), `${what}-Retries`);
  if (r !== undefined) options.retries = r;
  const t = duration(headers.get(`${prefix}-timeout`), `${what}-Timeout`);
  if (t) options.timeout = t;
  const m = method(headers.get(`${prefix}-method`), `${what}-Method`);
  if (m) options.method = m;
  const d = expression(headers.get(`${prefix}-retry-delay`), `${what}-Retry-Delay`);
  if (d) options.retryDelay = d;
  if (Object.keys(forward).length > 0) options.header = forward;
  return options;
}

/** Parses `Upstash-Flow-Control-Value: parallelism=5, rate=10, period=1m`. */
export function flowControl(
  key: string | null,
  value: string | null,
): Pick<StoredMessage, "flowControlKey" | "parallelism" | "rate" | "period"> {
  if (key === null && value === null) return {};
  if (key === null || key.trim() === "") throw badRequest("Upstash-Flow-Control-Value needs an Upstash-Flow-Control-Key");
  const out: Pick<StoredMessage, "flowControlKey" | "parallelism" | "rate" | "period"> = { flowControlKey: key.trim() };
  const expected = `expected "parallelism=<n>, rate=<n>, period=<duration>" with at least parallelism or rate`;
  if (value === null || value.trim() === "") throw badRequest(`missing Upstash-Flow-Control-Value: ${expected}`);
  for (const part of value.split(",")) {
    const [k, v, extra] = part.split("=").map((s) => s.trim());
    if (!k || v === undefined || extra !== undefined) throw badRequest(`invalid Upstash-Flow-Control-Value "${value}": ${expected}`);
    if (k === "parallelism" || k === "rate") {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw badRequest(`invalid ${k} "${v}" in Upstash-Flow-Control-Value: expected a whole number >= 1`);
      out[k] = Number(v);
    } else if (k === "period") {
      let seconds: number;
      try {
        seconds = parseDuration(v);
      } catch {
        throw badRequest(`invalid period "${v}" in Upstash-Flow-Control-Value: expected a duration like "1s" or "1m"`);
      }
      if (seconds < 1) throw badRequest(`invalid period "${v}" in Upstash-Flow-Control-Value: must be at least 1s`);
      out.period = seconds;
    } else {
      throw badRequest(`unknown key "${k}" in Upstash-Flow-Control-Value: ${expected}`);
    }
  }
  if (out.parallelism === undefined && out.rate === undefined) throw badRequest(`invalid Upstash-Flow-Control-Value "${value}": ${expected}`);
  return out;
}

function redaction(value: string | null): Redaction | undefined {
  if (value === null) return undefined;
  const redact: Redaction = {};
  for (const field of list(value)) {
    const lower = field.toLowerCase();
    if (lower === "body") redact.body = true;
    else if (lower === "header" || lower === "headers") redact.allHeaders = true;
    else {
      const match = /^headers?\[(.+)\]$/i.exec(field);
      if (!match) throw badRequest(`invalid Upstash-Redact-Fields "${value}": expected body, header or header[Name]`);
      (redact.headers ??= []).push(canonicalHeader(match[1]!.trim()));
    }
  }
  return redact;
}
