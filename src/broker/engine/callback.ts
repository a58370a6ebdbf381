import { base64 } from "../../encoding.ts";
import { ids } from "../ids.ts";
import { DEFAULT_RETRIES } from "../publish-options.ts";
import type { CallbackOptions, FailedResponse, StoredMessage } from "../types.ts";

const encoder = new TextEncoder();

/**
 * The callback (or failure callback) message of §4.3 about an attempt of `source`: a new message to
 * the callback's URL whose JSON body carries the attempt's response and the source message.
 */
export function callbackMessage(
  options: CallbackOptions,
  source: StoredMessage,
  sourceBody: Uint8Array,
  response: FailedResponse,
  retried: number,
  dlqId?: string,
): { message: StoredMessage; body: Uint8Array } {
  const payload: Record<string, unknown> = {
    status: response.status ?? 0,
    header: response.header ?? {},
    body: base64(response.body ?? new Uint8Array(0)),
    retried,
    maxRetries: source.maxRetries,
    sourceMessageId: source.messageId,
    url: source.url,
    method: source.method,
    sourceHeader: source.header,
    sourceBody: base64(sourceBody),
    notBefore: source.notBefore,
    createdAt: source.createdAt,
  };
  if (source.scheduleId) payload.scheduleId = source.scheduleId;
  if (source.callerIp) payload.callerIP = source.callerIp;
  if (source.topicName) payload.topicName = source.topicName;
  if (response.error && response.status === undefined) payload.error = response.error;
  if (dlqId) payload.dlqId = dlqId;
  const now = Date.now();
  const message: StoredMessage = {
    messageId: ids.message(),
    url: options.url,
    method: options.method ?? "POST",
    header: { ...options.header, "Content-Type": ["application/json"] },
    maxRetries: options.retries ?? DEFAULT_RETRIES,
    notBefore: now,
    createdAt: now,
  };
  if (options.retryDelay) message.retryDelayExpression = options.retryDelay;
  if (options.timeout) message.timeout = options.timeout;
  // Its body carries the source's body and headers: what the source hides in the API, this hides
  // too (delivered unchanged, like any redacted field).
  const { redact } = source;
  if (redact?.body || redact?.allHeaders || redact?.headers?.length) message.redact = { body: true };
  return { message, body: encoder.encode(JSON.stringify(payload)) };
}
