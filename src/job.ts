import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type Duration, parseDuration } from "./duration.ts";
import { ConfigError } from "./errors.ts";
import { isHeaderValue } from "./headers.ts";

/** Per-key flow control, as QStash applies it: at most `parallelism` in flight, `rate` starts per `period`. */
export interface FlowControl {
  /** Messages with the same key share the limits. */
  key: string;
  /** At most this many deliveries of the key in flight. */
  parallelism?: number;
  /** At most this many deliveries started per `period`. */
  rate?: number;
  /** The window of `rate`. @default "1s" */
  period?: Duration;
}

/** Delivery options a job declares as defaults and an enqueue call may override. */
export interface DeliveryOptions {
  /** Retries after the first attempt (attempts = 1 + retries). @default 3 */
  retries?: number;
  /**
   * Wait before each retry, a QStash expression in milliseconds over `retried` (0 before the first
   * retry), e.g. `"pow(2, retried) * 1000"`. @default the broker's exponential backoff
   */
  retryDelay?: string;
  /** Per-attempt HTTP timeout, e.g. `"30s"`; the handler's `ctx.signal` aborts when it passes. */
  timeout?: Duration;
  /** Wait before the first attempt, e.g. `"10s"`, `"1d10h30m"`. */
  delay?: Duration;
  /** A declared FIFO queue to enqueue into instead of publishing directly. */
  queue?: string;
  /** Per-key parallelism and rate limits. */
  flowControl?: FlowControl;
  /** A label to find the job's messages, events and DLQ entries by. */
  label?: string;
}

/** What {@link defineJob} takes. */
export interface JobDefinition<Name extends string, Schema extends StandardSchemaV1> extends DeliveryOptions {
  /**
   * 1-128 URL-safe characters (letters, digits, `-`, `_`, `.`, `~`), starting with a letter or digit;
   * the job's route is `${workerUrl}/${name}`.
   */
  name: Name;
  /** The input schema: any Standard Schema (valibot, zod, arktype, ...). */
  input: Schema;
  /**
   * A logical key for the job's effect, from its validated input. When declared it is the publish
   * deduplication id and the idempotency key in the worker, so the effect happens once per key.
   * @example (input) => `welcome:${input.userId}`
   */
  idempotencyKey?: (input: StandardSchemaV1.InferOutput<Schema>) => string;
}

/** Options of one enqueue: the job's defaults, overridden. */
export interface EnqueueOptions extends DeliveryOptions {
  /** Deliver no earlier than this time (a `Date` or unix seconds); wins over `delay`. */
  notBefore?: Date | number;
  /**
   * A deduplication id for this publish, in place of the one made from the job's `idempotencyKey`
   * (the worker's idempotency key is unchanged).
   */
  deduplicationId?: string;
  /** A URL the broker calls with each attempt's response. */
  callback?: string;
  /** A URL the broker calls once the job has failed for good. */
  failureCallback?: string;
  /** Extra headers forwarded to the worker. */
  headers?: Record<string, string>;
}

/** A job and an input, ready to enqueue in a batch: made by {@link Job.with}. */
export interface JobRequest<J extends AnyJob = AnyJob> {
  readonly job: J;
  readonly input: InputOf<J>;
  readonly options: EnqueueOptions | undefined;
}

/** A declared job: its name, schema and delivery defaults. Made by {@link defineJob}. */
export interface Job<Name extends string = string, Schema extends StandardSchemaV1 = StandardSchemaV1> {
  readonly name: Name;
  readonly input: Schema;
  readonly defaults: Readonly<DeliveryOptions>;
  readonly idempotencyKey: ((input: StandardSchemaV1.InferOutput<Schema>) => string) | undefined;
  /** A typed enqueue request for `enqueueMany`. */
  with(input: StandardSchemaV1.InferInput<Schema>, options?: EnqueueOptions): JobRequest<Job<Name, Schema>>;
}

// biome-ignore lint: `any` is what lets any job fit; inputs stay typed through InputOf/OutputOf.
export type AnyJob = Job<string, any>;
/** The type `enqueue` takes for a job: its schema's input type. */
export type InputOf<J extends AnyJob> = StandardSchemaV1.InferInput<J["input"]>;
/** The type a handler receives for a job: its schema's output type. */
export type OutputOf<J extends AnyJob> = StandardSchemaV1.InferOutput<J["input"]>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;
const EXPRESSION_WORDS = new Set(["retried", "pow", "exp", "sqrt", "abs", "floor", "ceil", "round", "min", "max"]);

/**
 * Declares a job: a URL-safe name, an input schema, and delivery defaults. Share the returned
 * object between the code that enqueues and the worker that runs it.
 *
 * @example
 * export const sendWelcomeEmail = defineJob({
 *   name: "send-welcome-email",
 *   input: v.object({ userId: v.number() }),
 *   retries: 5,
 *   idempotencyKey: (input) => `welcome:${input.userId}`,
 * });
 */
export function defineJob<const Name extends string, Schema extends StandardSchemaV1>(
  definition: JobDefinition<Name, Schema>,
): Job<Name, Schema> {
  const { name, input, idempotencyKey, ...defaults } = definition;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ConfigError(
      `invalid job name ${JSON.stringify(name)}: use 1-128 URL-safe characters (letters, digits, "-", "_", ".", "~"), starting with a letter or digit`,
    );
  }
  if (!input || typeof input !== "object" || !("~standard" in input)) {
    throw new ConfigError(`job "${name}": "input" must be a Standard Schema (a valibot, zod or arktype schema, ...)`);
  }
  if (idempotencyKey !== undefined && typeof idempotencyKey !== "function") {
    throw new ConfigError(`job "${name}": "idempotencyKey" must be a function of the input, such as (input) => \`order:\${input.id}\``);
  }
  checkDeliveryOptions(`job "${name}"`, defaults);
  const job: Job<Name, Schema> = {
    name,
    input,
    defaults: Object.freeze({ ...defaults }),
    idempotencyKey,
    with: (value, options) => ({ job, input: value, options }),
  };
  return Object.freeze(job);
}

/** Throws a {@link ConfigError} naming the first invalid delivery option. */
export function checkDeliveryOptions(where: string, options: DeliveryOptions): void {
  const fail = (what: string) => {
    throw new ConfigError(`${where}: ${what}`);
  };
  if (options.retries !== undefined && (!Number.isInteger(options.retries) || options.retries < 0)) {
    fail(`"retries" must be a whole number >= 0, got ${options.retries}`);
  }
  for (const field of ["timeout", "delay"] as const) {
    const value = options[field];
    if (value === undefined) continue;
    try {
      parseDuration(value);
    } catch (error) {
      fail(`"${field}": ${(error as Error).message}`);
    }
  }
  for (const field of ["retryDelay", "label", "deduplicationId", "callback", "failureCallback"] as const) {
    const value = (options as EnqueueOptions)[field];
    if (value !== undefined && typeof value !== "string") fail(`"${field}" must be a string, got ${typeof value}`);
  }
  for (const field of ["label", "deduplicationId", "callback", "failureCallback"] as const) {
    const value = (options as EnqueueOptions)[field];
    if (value !== undefined && !isHeaderValue(value)) fail(`"${field}" cannot be sent as a header (a line break, or a character beyond Latin-1): ${JSON.stringify(value)}`);
  }
  if (options.flowControl?.key !== undefined && !isHeaderValue(options.flowControl.key)) {
    fail(`"flowControl.key" cannot be sent as a header (a line break, or a character beyond Latin-1): ${JSON.stringify(options.flowControl.key)}`);
  }
  for (const [header, value] of Object.entries((options as EnqueueOptions).headers ?? {})) {
    if (typeof value !== "string" || !isHeaderValue(value)) fail(`header "${header}" cannot be sent (a string without line breaks or characters beyond Latin-1): ${JSON.stringify(value)}`);
  }
  if (options.retryDelay !== undefined) {
    const words = options.retryDelay.match(/[A-Za-z_]+/g) ?? [];
    const unknown = words.find((word) => !EXPRESSION_WORDS.has(word));
    if (unknown || !/^[\sA-Za-z0-9_+\-*/().,]+$/.test(options.retryDelay)) {
      fail(
        `"retryDelay" must be an expression in milliseconds over "retried" with pow, exp, sqrt, abs, floor, ceil, round, min, max; got ${JSON.stringify(options.retryDelay)}`,
      );
    }
  }
  if (options.queue !== undefined && !/^[A-Za-z0-9._~-]{1,128}$/.test(options.queue)) {
    fail(`"queue" must be 1-128 URL-safe characters, got ${JSON.stringify(options.queue)}`);
  }
  const flow = options.flowControl;
  if (flow !== undefined) {
    if (!flow.key) fail(`"flowControl.key" is required`);
    if (flow.parallelism === undefined && flow.rate === undefined) fail(`"flowControl" needs "parallelism" or "rate"`);
    for (const field of ["parallelism", "rate"] as const) {
      const value = flow[field];
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) fail(`"flowControl.${field}" must be a whole number >= 1, got ${value}`);
    }
    if (flow.period !== undefined) {
      try {
        parseDuration(flow.period);
      } catch (error) {
        fail(`"flowControl.period": ${(error as Error).message}`);
      }
    }
  }
}

/** The result of validating a job's input: a discriminated union, as valibot's `safeParse`. */
export type ValidationResult<T> =
  | { success: true; value: T }
  | { success: false; issues: readonly StandardSchemaV1.Issue[] };

/** Validates `value` with the job's schema. */
export async function validateInput<J extends AnyJob>(job: J, value: unknown): Promise<ValidationResult<OutputOf<J>>> {
  let result = job.input["~standard"].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) return { success: false, issues: result.issues };
  return { success: true, value: result.value as OutputOf<J> };
}
