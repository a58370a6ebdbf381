import { MAX_TIMER_MS } from "../../duration.ts";
import { addHeader, headerMap } from "../headers.ts";
import { parseRetryAfter } from "../retry-after.ts";
import { signAttempt } from "../sign.ts";
import type { StoredMessage } from "../types.ts";
import { headerLines, type Http1Client, httpTarget, HttpTimeoutError } from "./http1.ts";

/** The outcome of one delivery attempt. */
export interface AttemptResult {
  ok: boolean;
  /** Undefined when no response came (connection error, timeout). */
  status?: number;
  /** The response's headers, Go-canonical; read only for a failure or a callback, so only set then. */
  header?: Record<string, string[]>;
  body?: Uint8Array;
  error?: string;
  /** 489 with `Upstash-NonRetryable-Error: true`. */
  nonRetryable: boolean;
  /** From the response's `Retry-After`, in ms. */
  retryAfter?: number;
}

/** The fetch the broker delivers with (any `fetch` fits; a test can pass its own). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What one attempt needs besides the message. */
export interface AttemptContext {
  fetch: FetchLike;
  /** Carries `http://` deliveries instead of `fetch` when set (Bun, and no test `fetch` given). */
  http: Http1Client | undefined;
  signingKey: string;
  /** ms, when the message sets no `Upstash-Timeout`. */
  defaultTimeout: number;
}

/**
 * Bytes of a response body the broker keeps (for the DLQ, events and callbacks). The rest is not
 * read: a destination answering with a large body costs the broker no more than this.
 */
export const MAX_RESPONSE_BODY = 256 * 1024;

const NO_BODY = new Set(["GET", "HEAD"]);
const EMPTY = new Uint8Array(0);
/** Headers the HTTP/1.1 framing owns: a message forwarding one of them is delivered with `fetch`. */
const FRAMING = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "expect", "te", "trailer"]);

/**
 * Makes one delivery attempt (§4.1): the stored method, headers and body, signed over the exact
 * destination URL with the current key, under the per-attempt timeout (which covers reading the
 * response too).
 */
export async function attemptDelivery(
  context: AttemptContext,
  message: StoredMessage,
  body: Uint8Array,
  retried: number,
  hash?: string,
): Promise<AttemptResult> {
  const timeoutMs = message.timeout ? message.timeout * 1000 : context.defaultTimeout;
  try {
    // GET and HEAD carry no body: the signature's body hash is over what is sent, the empty body.
    const signature = NO_BODY.has(message.method)
      ? signAttempt(context.signingKey, message.url, EMPTY)
      : signAttempt(context.signingKey, message.url, body, hash);
    const headers = deliveryHeaders(message, retried, signature);
    const target = context.http && !forwardsFraming(message) ? httpTarget(message.url) : undefined;
    if (target) {
      // The request head as fetch would send it: request line, Host, the same headers, the length.
      let head = `${message.method} ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\n`;
      for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
      const sendsBody = !NO_BODY.has(message.method);
      head += sendsBody ? `Content-Length: ${body.length}\r\n\r\n` : "\r\n";
      const response = await context.http!.request(target, head, sendsBody ? body : undefined, message.method === "HEAD", timeoutMs, MAX_RESPONSE_BODY);
      let nonRetryable = "";
      let retryAfter: string | null = null;
      const lines = response.status < 200 || response.status >= 300 || message.callback ? headerLines(response.head) : [];
      for (const [name, value] of lines) {
        const lower = name.toLowerCase();
        if (lower === "upstash-nonretryable-error") nonRetryable = value;
        else if (lower === "retry-after") retryAfter = value;
      }
      return outcome(message, response.status, response.body, nonRetryable, retryAfter, () => {
        const map: Record<string, string[]> = {};
        for (const [name, value] of lines) addHeader(map, name, value);
        return map;
      });
    }
    return await attemptWithFetch(context, message, body, headers, timeoutMs);
  } catch (error) {
    const reason = error instanceof HttpTimeoutError
      ? `timed out after ${timeoutMs / 1000}s`
      : error instanceof Error ? (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message) : String(error);
    return { ok: false, error: reason, nonRetryable: false };
  }
}

/** The attempt through `fetch`: https, a test's fetch, runtimes without `Bun.connect`. */
async function attemptWithFetch(
  context: AttemptContext,
  message: StoredMessage,
  body: Uint8Array,
  headers: [string, string][],
  timeoutMs: number,
): Promise<AttemptResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.min(timeoutMs, MAX_TIMER_MS));
  try {
    const response = await context.fetch(message.url, {
      method: message.method,
      headers,
      body: NO_BODY.has(message.method) ? undefined : (body as Uint8Array<ArrayBuffer>),
      signal: controller.signal,
      redirect: "manual",
    });
    const responseBody = await readUpTo(response, MAX_RESPONSE_BODY);
    const { headers: responseHeaders } = response;
    return outcome(
      message, response.status, responseBody, responseHeaders.get("upstash-nonretryable-error") ?? "", responseHeaders.get("retry-after"),
      () => headerMap(responseHeaders),
    );
  } catch (error) {
    if (controller.signal.aborted) throw new HttpTimeoutError(timeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The first `max` bytes of a response's body; the rest is not read (the stream is cancelled). */
async function readUpTo(response: Response, max: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let have = 0;
  try {
    while (have <= max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      have += value.length;
    }
  } finally {
    if (have > max) reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  const body = new Uint8Array(Math.min(have, max));
  let at = 0;
  for (const part of parts) {
    if (at >= body.length) break;
    body.set(part.subarray(0, body.length - at), at);
    at += part.length;
  }
  return body;
}

/** The headers of an attempt (§4.1): the message's own, then the broker's, the signature last. */
function deliveryHeaders(message: StoredMessage, retried: number, signature: string): [string, string][] {
  const headers: [string, string][] = [];
  for (const name in message.header) for (const value of message.header[name]!) headers.push([name, value]);
  headers.push(["User-Agent", "Upstash-QStash"], ["Upstash-Message-Id", message.messageId], ["Upstash-Retried", String(retried)]);
  if (message.scheduleId) headers.push(["Upstash-Schedule-Id", message.scheduleId]);
  if (message.topicName) headers.push(["Upstash-Topic-Name", message.topicName]);
  if (message.callerIp) headers.push(["Upstash-Caller-Ip", message.callerIp]);
  headers.push(["Upstash-Signature", signature]);
  return headers;
}

/** Whether the message forwards a header the HTTP/1.1 framing owns (it then goes through fetch). */
function forwardsFraming(message: StoredMessage): boolean {
  for (const name in message.header) if (FRAMING.has(name.toLowerCase())) return true;
  return false;
}

/** The result of an attempt that got a response (§4.2). `header` builds the header map when needed. */
function outcome(
  message: StoredMessage,
  status: number,
  body: Uint8Array,
  nonRetryable: string,
  retryAfter: string | null,
  header: () => Record<string, string[]>,
): AttemptResult {
  const ok = status >= 200 && status < 300;
  const result: AttemptResult = { ok, status, body, nonRetryable: status === 489 && nonRetryable.toLowerCase() === "true" };
  if (!ok || message.callback) result.header = header();
  if (!ok) {
    result.error = `HTTP ${status}`;
    const ms = parseRetryAfter(retryAfter);
    if (ms !== undefined) result.retryAfter = ms;
  }
  return result;
}
