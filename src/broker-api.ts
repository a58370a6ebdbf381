import { parseDuration } from "./duration.ts";
import { BrokerError, BrokerUnreachableError, callName, ConfigError } from "./errors.ts";
import { isHeaderValue } from "./headers.ts";
import type { EnqueueOptions } from "./job.ts";

// The part of the QStash v2 HTTP API that `createClient` uses, spoken with `fetch` directly. It sends
// what the official `@upstash/qstash` Client sends for the same call, header for header
// (test/compat/publish-parity.test.ts checks this against the SDK), at a fraction of its bundle size.

/** How requests are retried when `fetch` itself throws (never on an HTTP error status). */
export type RetryOptions = false | { retries?: number; backoff?: (retryCount: number) => number };

/**
 * The `fetch` the client calls the broker with: any function of a URL string and a `RequestInit`
 * (the global `fetch`, a service binding's, a test's), without the extras of a runtime's own type.
 */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** What {@link brokerApi} takes. */
export interface BrokerApiOptions {
  baseUrl: string;
  token: string;
  retry?: RetryOptions | undefined;
  fetch?: FetchFunction | undefined;
}

/** One message to publish: its destination URL, its body, and its `Upstash-*` headers. */
export interface OutgoingMessage {
  destination: string;
  body: string;
  headers: Record<string, string>;
  queue?: string | undefined;
}

/** The broker's answer to one published message. */
export interface PublishResponse {
  messageId: string;
  deduplicated?: boolean;
}

/** One entry of a batch answer: hosted QStash answers `{ error }` for a message it refused. */
export type BatchResponseItem = PublishResponse | { error: string };

/** The calls `createClient` makes. */
export interface BrokerApi {
  publish(message: OutgoingMessage): Promise<PublishResponse>;
  batch(messages: readonly OutgoingMessage[]): Promise<BatchResponseItem[]>;
  createSchedule(message: OutgoingMessage): Promise<{ scheduleId: string }>;
  deleteSchedule(id: string): Promise<void>;
  cancelMessage(id: string): Promise<void>;
}

/** Makes the publishing half of a QStash client over `fetch`. */
export function brokerApi(options: BrokerApiOptions): BrokerApi {
  const base = options.baseUrl.replace(/\/$/, "");
  const authorization = `Bearer ${options.token}`;
  const retries = options.retry === false ? 0 : (options.retry?.retries ?? 5);
  const backoff = (options.retry && options.retry.backoff) || ((n: number) => Math.exp(n) * 50);

  async function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Response> {
    const all = { ...headers, Authorization: authorization };
    // A value fetch refuses would throw inside the retry loop and pass for a network error.
    for (const [name, value] of Object.entries(all)) {
      if (!isHeaderValue(value)) {
        const shown = name === "Authorization" ? "the token" : JSON.stringify(value);
        throw new ConfigError(`${callName(method, path)}: header ${name} cannot be sent (a line break, or a character beyond Latin-1): ${shown}`);
      }
    }
    const doFetch = options.fetch ?? fetch;
    const init: RequestInit = { method, headers: all };
    if (body !== undefined) init.body = body;
    let response: Response | undefined;
    for (let attempt = 0; !response; attempt++) {
      try {
        response = await doFetch(`${base}/${path}`, init);
      } catch (error) {
        if (attempt >= retries) throw new BrokerUnreachableError(method, path, base, attempt + 1, error);
        await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
      }
    }
    if (response.ok) return response;
    throw new BrokerError(method, path, response.status, await errorText(response));
  }

  /**
   * POSTs and reads the JSON of the successful answer, checked by `valid`. An answer that is not
   * JSON, or not the expected shape, throws {@link BrokerError}: the call may have taken effect, but
   * nothing in the answer says so, and a result without its id must never pass for a success.
   */
  async function post<T>(path: string, headers: Record<string, string>, body: string, what: string, valid: (value: unknown) => boolean): Promise<T> {
    const response = await call("POST", path, headers, body);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // The connection broke after a 2xx began: not retried, since the call may have taken effect.
      throw new BrokerError("POST", path, response.status, `the answer was cut off: ${(error as Error).message} (the call may have taken effect)`, {
        cause: error,
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (value === undefined || !valid(value)) {
      const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      throw new BrokerError("POST", path, response.status, `expected ${what}, got ${JSON.stringify(shown)} (the call may have taken effect)`);
    }
    return value as T;
  }

  return {
    async publish({ destination, body, headers, queue }) {
      const path = queue ? `v2/enqueue/${queue}/${destination}` : `v2/publish/${destination}`;
      return post<PublishResponse>(path, headers, body, "a JSON object with a messageId", (value) => hasString(value, "messageId"));
    },
    async batch(messages) {
      const items = messages.map(({ destination, body, headers, queue }) => ({
        destination,
        headers: lowerCaseKeys(headers),
        body,
        ...(queue ? { queue } : {}),
      }));
      // Each item is checked by the client, which reports a refused or unreadable one per message.
      // An answer that does not have one result per message cannot be lined up with them at all.
      const answered = await post<BatchResponseItem | BatchResponseItem[]>(
        "v2/batch",
        { "Content-Type": "application/json" },
        JSON.stringify(items),
        `a JSON array of ${messages.length} result${messages.length === 1 ? "" : "s"}`,
        (value) =>
          Array.isArray(value) ? value.length === messages.length : messages.length === 1 && typeof value === "object" && value !== null,
      );
      return Array.isArray(answered) ? answered : [answered];
    },
    async createSchedule({ destination, body, headers }) {
      return post<{ scheduleId: string }>(`v2/schedules/${destination}`, headers, body, "a JSON object with a scheduleId", (value) =>
        hasString(value, "scheduleId"),
      );
    },
    async deleteSchedule(id) {
      await call("DELETE", `v2/schedules/${nonEmpty(id, "schedule id")}`, {});
    },
    async cancelMessage(id) {
      await call("DELETE", `v2/messages/${nonEmpty(id, "message id")}`, {});
    },
  };
}

/**
 * The `Upstash-*` headers of a publish with these options, as the official SDK writes them: the
 * caller's own headers are forwarded (`Upstash-Forward-*`) unless they already are `Upstash-*`.
 * `forSchedule` leaves out what a schedule does not take (`Upstash-Method` unless asked for,
 * not-before, deduplication).
 */
export function publishHeaders(options: EnqueueOptions, forSchedule = false): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith("content-type")) continue;
    headers[lower.startsWith("upstash-") ? name : `Upstash-Forward-${name}`] = value;
  }
  headers["Content-Type"] = "application/json";
  if (!forSchedule) headers["Upstash-Method"] = "POST";
  if (options.delay !== undefined) headers["Upstash-Delay"] = `${parseDuration(options.delay)}s`;
  if (!forSchedule) {
    const notBefore = options.notBefore;
    if (notBefore !== undefined) {
      headers["Upstash-Not-Before"] = String(notBefore instanceof Date ? Math.floor(notBefore.getTime() / 1000) : notBefore);
    }
    if (options.deduplicationId !== undefined) headers["Upstash-Deduplication-Id"] = options.deduplicationId;
  }
  if (options.retries !== undefined) headers["Upstash-Retries"] = String(options.retries);
  if (options.retryDelay !== undefined) headers["Upstash-Retry-Delay"] = options.retryDelay;
  if (options.callback !== undefined) headers["Upstash-Callback"] = options.callback;
  if (options.failureCallback !== undefined) headers["Upstash-Failure-Callback"] = options.failureCallback;
  if (options.timeout !== undefined) headers["Upstash-Timeout"] = `${parseDuration(options.timeout)}s`;
  const flow = options.flowControl;
  if (flow) {
    const value: string[] = [];
    if (flow.parallelism !== undefined) value.push(`parallelism=${flow.parallelism}`);
    if (flow.rate !== undefined) value.push(`rate=${flow.rate}`);
    if (flow.period !== undefined) value.push(`period=${parseDuration(flow.period)}s`);
    headers["Upstash-Flow-Control-Key"] = flow.key;
    headers["Upstash-Flow-Control-Value"] = value.join(", ");
  }
  if (options.label !== undefined) headers["Upstash-Label"] = options.label;
  return headers;
}

function hasString(value: unknown, field: string): boolean {
  if (typeof value !== "object" || value === null) return false;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === "string" && found !== "";
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function nonEmpty(id: string, what: string): string {
  if (!id) throw new TypeError(`${what} cannot be empty`);
  return encodeURIComponent(id);
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: the text itself is the best message there is
  }
  return text.slice(0, 500) || response.statusText;
}
