/** Options for the callback (or failure callback) message a broker publishes about a message. */
export interface CallbackOptions {
  url: string;
  retries?: number;
  /** Seconds. */
  timeout?: number;
  method?: string;
  retryDelay?: string;
  /** Headers forwarded to the callback URL (Go-canonical names). */
  header?: Record<string, string[]>;
}

/** What `Upstash-Redact-Fields` hides from the API and the logs (never from the delivery). */
export interface Redaction {
  body?: boolean;
  /** Every header. */
  allHeaders?: boolean;
  /** Canonical header names. */
  headers?: string[];
}

/** A message as the broker stores it (the body is kept apart, as bytes). */
export interface StoredMessage {
  messageId: string;
  url: string;
  method: string;
  /** Forwarded headers plus Content-Type, with Go-canonical names. */
  header: Record<string, string[]>;
  maxRetries: number;
  retryDelayExpression?: string;
  /** Per-attempt timeout in seconds. */
  timeout?: number;
  /** ms since the epoch. */
  notBefore: number;
  /** ms since the epoch. */
  createdAt: number;
  callback?: CallbackOptions;
  failureCallback?: CallbackOptions;
  queueName?: string;
  scheduleId?: string;
  topicName?: string;
  endpointName?: string;
  callerIp?: string;
  flowControlKey?: string;
  parallelism?: number;
  rate?: number;
  /** Seconds. */
  period?: number;
  labels?: string[];
  redact?: Redaction;
}

/** The states of the event log (§4.4 of the protocol). */
export type EventState =
  | "CREATED"
  | "ACTIVE"
  | "DELIVERED"
  | "ERROR"
  | "RETRY"
  | "FAILED"
  | "CANCEL_REQUESTED"
  | "CANCELED";

/** One state change of one message, as served by `/v2/events` and passed to `onEvent`. */
export interface BrokerEvent {
  /** ms since the epoch. */
  time: number;
  state: EventState;
  messageId: string;
  url: string;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
  responseBody?: string;
  label?: string;
  labels?: string[];
  queueName?: string;
  scheduleId?: string;
  topicName?: string;
  endpointName?: string;
  flowControlKey?: string;
  /** The publisher's address, as the message has it (a filter of the event log). */
  callerIp?: string;
  /** Attempts made so far (0 before the first retry), on ACTIVE/ERROR. */
  retried?: number;
}

/** The last failed response of a message that landed in the DLQ. */
export interface FailedResponse {
  status?: number;
  header?: Record<string, string[]>;
  body?: Uint8Array;
  error?: string;
}

/** A queue's configuration. */
export interface QueueRecord {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A URL group (a "topic" on the wire). */
export interface TopicRecord {
  name: string;
  endpoints: { name?: string; url: string }[];
  createdAt: number;
  updatedAt: number;
}

/** What a publish to one destination answers. */
export interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: boolean;
}
