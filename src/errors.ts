import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { EnqueueResult } from "./client.ts";
import { parseDuration } from "./duration.ts";

/** Options every jobwire error accepts, as `Error` does. */
export interface JobwireErrorOptions {
  cause?: unknown;
}

/** The base class of every error jobwire throws on purpose. */
export class JobwireError extends Error {
  constructor(message: string, options?: JobwireErrorOptions) {
    super(message, options);
    this.name = "JobwireError";
  }
}

/**
 * Thrown by a handler to fail the job for good: the worker answers 489 with
 * `Upstash-NonRetryable-Error: true`, the broker stops retrying and moves the message to its DLQ.
 *
 * @example
 * if (!user) throw new NonRetryableError(`user ${input.userId} does not exist`);
 */
export class NonRetryableError extends JobwireError {
  constructor(message: string, options?: JobwireErrorOptions) {
    super(message, options);
    this.name = "NonRetryableError";
  }
}

/**
 * Thrown by a handler to ask for a retry after a given time: the worker answers 429 with
 * `Retry-After`, and the broker waits that long before the next attempt (it still counts as one).
 *
 * @example
 * throw new RetryLaterError("rate limited by the mail API", { after: "30s" });
 */
export class RetryLaterError extends JobwireError {
  /** Seconds to wait before the next attempt. */
  readonly after: number;

  constructor(message: string, options: JobwireErrorOptions & { after: number | string }) {
    super(message, options);
    this.name = "RetryLaterError";
    this.after = typeof options.after === "number" ? Math.max(0, Math.ceil(options.after)) : parseAfter(options.after);
  }
}

function parseAfter(value: string): number {
  const text = value.trim();
  const ms = /^(\d+)ms$/.exec(text);
  if (ms) return Math.ceil(Number(ms[1]) / 1000);
  try {
    return parseDuration(text);
  } catch {
    throw new TypeError(`RetryLaterError: "after" must be seconds or a duration like "500ms", "30s", "5m" or "1m30s"; got "${value}"`);
  }
}

/** One issue of a failed validation, with the path to the offending value. */
export interface InputIssue {
  message: string;
  /** Keys from the root of the input to the offending value; empty for the root itself. */
  path: (string | number | symbol)[];
}

/**
 * The input of a job failed its schema: thrown by `enqueue` before anything is published, and
 * answered by the worker as 489 (non-retryable) with the same issues in the body.
 */
export class JobInputError extends JobwireError {
  readonly job: string;
  readonly issues: readonly [InputIssue, ...InputIssue[]];

  constructor(job: string, issues: readonly StandardSchemaV1.Issue[], options?: JobwireErrorOptions) {
    const mapped = issues.map(toInputIssue);
    const list = mapped.length > 0 ? mapped : [{ message: "invalid input", path: [] }];
    super(`invalid input for job "${job}": ${list.map(formatIssue).join("; ")}`, options);
    this.name = "JobInputError";
    this.job = job;
    this.issues = list as [InputIssue, ...InputIssue[]];
  }
}

function toInputIssue(issue: StandardSchemaV1.Issue): InputIssue {
  const path = (issue.path ?? []).map((segment) =>
    typeof segment === "object" && segment !== null ? segment.key : segment,
  ) as (string | number | symbol)[];
  return { message: issue.message, path };
}

function formatIssue(issue: InputIssue): string {
  return issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message;
}

/** A delivery's `Upstash-Signature` is missing or does not verify. The worker answers 401. */
export class SignatureError extends JobwireError {
  constructor(message: string, options?: JobwireErrorOptions) {
    super(message, options);
    this.name = "SignatureError";
  }
}

/**
 * The idempotency store could not be reached. The worker answers 503 with `Retry-After`, so the
 * broker retries the delivery later and nothing is lost.
 */
export class StoreUnavailableError extends JobwireError {
  constructor(message: string, options?: JobwireErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A configuration value is missing or wrong; the message names it. */
export class ConfigError extends JobwireError {
  constructor(message: string, options?: JobwireErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** One message of an `enqueueMany` batch: accepted (as `enqueue` answers) or refused with the broker's reason. */
export type BatchItemResult = EnqueueResult | { error: string };

/**
 * Some messages of an `enqueueMany` batch were refused: the broker answered an error for them
 * (hosted QStash does so per message and still enqueues the others). `results` has one entry per
 * request, in order, so the refused ones can be sent again and the accepted ones are not lost.
 */
export class EnqueueBatchError extends JobwireError {
  /** Per request, in order: `{ messageId, deduplicated }` when accepted, `{ error }` when refused. */
  readonly results: BatchItemResult[];

  constructor(results: BatchItemResult[], options?: JobwireErrorOptions) {
    const refused = results.filter((result): result is { error: string } => "error" in result);
    super(
      `${refused.length} of ${results.length} messages were refused by the broker (the first: ${refused[0]?.error}); the others were enqueued: see \`results\``,
      options,
    );
    this.name = "EnqueueBatchError";
    this.results = results;
  }
}

/**
 * The broker answered a client call with an error status (a bad token, a rate limit, an invalid
 * option): nothing was published by that call; `status` and the broker's own message are kept.
 * With a 2xx `status`, it answered something the client cannot read (not JSON, no `messageId`):
 * the call may have taken effect.
 */
export class BrokerError extends JobwireError {
  /** The HTTP status the broker answered with, e.g. 401, 412, 429. */
  readonly status: number;

  constructor(method: string, path: string, status: number, brokerMessage: string, options?: JobwireErrorOptions) {
    super(`${callName(method, path)} failed with ${status}: ${brokerMessage}`, options);
    this.name = "BrokerError";
    this.status = status;
  }
}

/**
 * The broker could not be reached: `fetch` threw on every attempt of a client call (a refused
 * connection, DNS, TLS, a cut network). The call may still have reached the broker before its
 * connection broke, so retry a publish with a deduplication id. `cause` is the last attempt's error.
 */
export class BrokerUnreachableError extends JobwireError {
  /** How many times the call was tried (1 + the client's retries). */
  readonly attempts: number;

  constructor(method: string, path: string, baseUrl: string, attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? ` (${cause.cause.message})` : ""}` : String(cause);
    super(
      `${callName(method, path)} could not reach the broker at ${baseUrl} (${attempts} ${attempts === 1 ? "attempt" : "attempts"}): ${reason}`,
      { cause },
    );
    this.name = "BrokerUnreachableError";
    this.attempts = attempts;
  }
}

/** A client call named by its method and the API part of its path: `POST /v2/publish`, not the destination. */
export function callName(method: string, path: string): string {
  return `${method} /${path.split("/").slice(0, 2).join("/")}`;
}
