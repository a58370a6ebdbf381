import { signAttempt } from "../sign.ts";
import { parseRetryAfter } from "../retry-after.ts";
import type { StoredMessage } from "../types.ts";

/** The outcome of one delivery attempt. */
export interface AttemptResult {
  ok: boolean;
  /** Undefined when no response came (connection error, timeout). */
  status?: number;
  headers?: Headers;
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
  signingKey: string;
  /** ms, when the message sets no `Upstash-Timeout`. */
  defaultTimeout: number;
}

const NO_BODY = new Set(["GET", "HEAD"]);

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
  const headers: [string, string][] = [];
  for (const name in message.header) for (const value of message.header[name]!) headers.push([name, value]);
  headers.push(
    ["User-Agent", "Upstash-QStash"],
    ["Upstash-Message-Id", message.messageId],
    ["Upstash-Retried", String(retried)],
  );
  if (message.scheduleId) headers.push(["Upstash-Schedule-Id", message.scheduleId]);
  if (message.topicName) headers.push(["Upstash-Topic-Name", message.topicName]);
  if (message.callerIp) headers.push(["Upstash-Caller-Ip", message.callerIp]);

  const timeoutMs = message.timeout ? message.timeout * 1000 : context.defaultTimeout;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    headers.push(["Upstash-Signature", signAttempt(context.signingKey, message.url, body, hash)]);
    const response = await context.fetch(message.url, {
      method: message.method,
      headers,
      body: NO_BODY.has(message.method) ? undefined : (body as Uint8Array<ArrayBuffer>),
      signal: controller.signal,
      redirect: "manual",
    });
    const responseBody = new Uint8Array(await response.arrayBuffer());
    const ok = response.status >= 200 && response.status < 300;
    const nonRetryable = response.status === 489 && response.headers.get("upstash-nonretryable-error")?.toLowerCase() === "true";
    const result: AttemptResult = { ok, status: response.status, headers: response.headers, body: responseBody, nonRetryable };
    if (!ok) {
      result.error = `HTTP ${response.status}`;
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      if (retryAfter !== undefined) result.retryAfter = retryAfter;
    }
    return result;
  } catch (error) {
    const reason = controller.signal.aborted
      ? `timed out after ${timeoutMs / 1000}s`
      : error instanceof Error ? (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message) : String(error);
    return { ok: false, error: reason, nonRetryable: false };
  } finally {
    clearTimeout(timer);
  }
}
