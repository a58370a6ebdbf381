import { base64 } from "../encoding.ts";
import type { DlqRow, ScheduleRow } from "./store/store.ts";
import type { StoredMessage } from "./types.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** What redacted values read as in the API and the logs. */
export const REDACTED = "REDACTED";

/** `{body}` when the bytes are UTF-8, else `{bodyBase64}`; nothing for an empty body. */
export function bodyFields(bytes: Uint8Array, key = "body"): Record<string, string> {
  if (bytes.length === 0) return {};
  try {
    return { [key]: strictUtf8.decode(bytes) };
  } catch {
    return { [`${key}Base64`]: base64(bytes) };
  }
}

function redactedHeader(message: StoredMessage): Record<string, string[]> {
  const { redact } = message;
  if (!redact?.allHeaders && !redact?.headers?.length) return message.header;
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(message.header)) {
    out[name] = redact.allHeaders || redact.headers?.includes(name) ? values.map(() => REDACTED) : values;
  }
  return out;
}

/** The `Message` shape of §5, with redactions applied. */
export function messageToWire(message: StoredMessage, body: Uint8Array): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    messageId: message.messageId,
    url: message.url,
    method: message.method,
    header: redactedHeader(message),
    ...(message.redact?.body ? { body: REDACTED } : bodyFields(body)),
    maxRetries: message.maxRetries,
    notBefore: message.notBefore,
    createdAt: message.createdAt,
  };
  if (message.retryDelayExpression) wire.retryDelayExpression = message.retryDelayExpression;
  if (message.timeout) wire.timeout = message.timeout;
  if (message.callback) wire.callback = message.callback.url;
  if (message.failureCallback) wire.failureCallback = message.failureCallback.url;
  if (message.queueName) wire.queueName = message.queueName;
  if (message.scheduleId) wire.scheduleId = message.scheduleId;
  if (message.topicName) wire.topicName = message.topicName;
  if (message.endpointName) wire.endpointName = message.endpointName;
  if (message.callerIp) wire.callerIp = message.callerIp;
  addFlowAndLabels(wire, message);
  return wire;
}

/** Flow control and labels, shown the same way on messages, DLQ entries and schedules. */
function addFlowAndLabels(wire: Record<string, unknown>, source: Partial<StoredMessage>): void {
  if (source.flowControlKey) {
    wire.flowControlKey = source.flowControlKey;
    if (source.parallelism !== undefined) wire.parallelism = source.parallelism;
    if (source.rate !== undefined) wire.rate = source.rate;
    wire.period = source.period ?? 1;
  }
  if (source.labels?.length) {
    wire.label = source.labels[0];
    wire.labels = source.labels;
  }
}

/** The `DlqMessage` shape of §5. */
export function dlqToWire(row: DlqRow): Record<string, unknown> {
  const wire = messageToWire(row.message, row.body);
  wire.dlqId = row.dlqId;
  if (row.response.status !== undefined) wire.responseStatus = row.response.status;
  if (row.response.header) wire.responseHeader = row.response.header;
  if (row.response.body) Object.assign(wire, bodyFields(row.response.body, "responseBody"));
  if (row.response.error) wire.error = row.response.error;
  return wire;
}

/** The `Schedule` shape of §5. */
export function scheduleToWire(row: ScheduleRow, nextScheduleTime: number | undefined): Record<string, unknown> {
  const { template } = row.data;
  const pseudo = { ...template, messageId: "", url: row.data.destination, notBefore: 0, createdAt: 0 } as StoredMessage;
  const wire: Record<string, unknown> = {
    scheduleId: row.id,
    cron: row.data.cron,
    createdAt: row.createdAt,
    destination: row.data.destination,
    method: template.method,
    header: redactedHeader(pseudo),
    ...(template.redact?.body && row.body.length > 0 ? { body: REDACTED } : bodyFields(row.body)),
    retries: template.maxRetries,
    isPaused: row.paused,
  };
  if (row.data.delay) wire.delay = row.data.delay;
  if (template.retryDelayExpression) wire.retryDelayExpression = template.retryDelayExpression;
  if (template.timeout) wire.timeout = template.timeout;
  if (template.callback) wire.callback = template.callback.url;
  if (template.failureCallback) wire.failureCallback = template.failureCallback.url;
  if (template.queueName) wire.queueName = template.queueName;
  if (row.data.callerIp) wire.callerIp = row.data.callerIp;
  addFlowAndLabels(wire, template);
  if (row.lastTime !== undefined) wire.lastScheduleTime = row.lastTime;
  if (nextScheduleTime !== undefined && !row.paused) wire.nextScheduleTime = nextScheduleTime;
  return wire;
}
