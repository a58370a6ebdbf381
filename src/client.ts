import { Client, type PublishRequest } from "@upstash/qstash";
import { parseDuration } from "./duration.ts";
import { JobInputError } from "./errors.ts";
import { IDEMPOTENCY_HEADER, MAX_ATTEMPTS_HEADER } from "./headers.ts";
import {
  type AnyJob,
  checkDeliveryOptions,
  type DeliveryOptions,
  type EnqueueOptions,
  type InputOf,
  type JobRequest,
  validateInput,
} from "./job.ts";

export { IDEMPOTENCY_HEADER, MAX_ATTEMPTS_HEADER } from "./headers.ts";

/** What {@link createClient} takes. */
export interface ClientOptions<Jobs extends AnyJob = AnyJob> {
  /** Where the worker app is mounted, as the broker reaches it; a job's route is `${workerUrl}/${name}`. */
  workerUrl: string;
  /** The broker's URL. `jobwire dev`: `http://127.0.0.1:8080`. @default "https://qstash.upstash.io" */
  baseUrl?: string;
  /** The broker's token (`QSTASH_TOKEN`). Never the signing keys: enqueueing does not need them. */
  token: string;
  /**
   * The jobs this client may enqueue. Optional; when given, enqueueing any other job is a compile error.
   */
  jobs?: readonly Jobs[];
  /**
   * How the underlying `@upstash/qstash` client retries when `fetch` throws (never on an HTTP error).
   * @default the SDK's: 5 retries with backoff
   */
  retry?: false | { retries?: number; backoff?: (retryCount: number) => number };
}

/** The answer to one enqueue. */
export interface EnqueueResult {
  /** The broker's id for the message; stable across its retries. */
  messageId: string;
  /** True when the broker had already accepted a message with the same deduplication id. */
  deduplicated: boolean;
}

/** A recurring job: upserted by `id` with {@link JobClient.schedule}. */
export interface ScheduleOptions<J extends AnyJob> extends Omit<DeliveryOptions, "delay"> {
  /** A stable id: scheduling again with the same id replaces the schedule. */
  id: string;
  /** Five-field cron in UTC, optionally prefixed with `CRON_TZ=Area/City `. */
  cron: string;
  /** The input every run receives. */
  input: InputOf<J>;
  /** Wait after each firing before delivering. */
  delay?: DeliveryOptions["delay"];
}

/** Enqueues jobs through a QStash-compatible broker. Made by {@link createClient}. */
export interface JobClient<Jobs extends AnyJob = AnyJob> {
  /**
   * Validates `input` with the job's schema, then publishes it. Throws {@link JobInputError} (and
   * publishes nothing) when the input is invalid.
   */
  enqueue<J extends Jobs>(job: J, input: InputOf<J>, options?: EnqueueOptions): Promise<EnqueueResult>;
  /** Validates every request, then publishes them all in one batch call. Results are in order. */
  enqueueMany(requests: readonly JobRequest<Jobs>[]): Promise<EnqueueResult[]>;
  /** Creates or replaces (by `id`) a cron schedule for a job. */
  schedule<J extends Jobs>(job: J, options: ScheduleOptions<J>): Promise<{ scheduleId: string }>;
  /** Deletes a schedule by id. */
  unschedule(id: string): Promise<void>;
  /** Cancels a message that has not been delivered yet. */
  cancel(messageId: string): Promise<void>;
  /** The underlying `@upstash/qstash` client, for everything else the broker offers. */
  readonly qstash: Client;
}

/**
 * Makes a client that enqueues jobs by publishing them to QStash, or to `jobwire dev` locally.
 *
 * @example
 * const jobs = createClient({ workerUrl: "https://app.example.com/jobs", token: env.QSTASH_TOKEN });
 * await jobs.enqueue(sendWelcomeEmail, { userId: 42 }, { delay: "10s" });
 */
export function createClient<Jobs extends AnyJob = AnyJob>(options: ClientOptions<Jobs>): JobClient<Jobs> {
  const { workerUrl, token } = options;
  if (!workerUrl || !/^https?:\/\//.test(workerUrl)) {
    throw new TypeError(`createClient: "workerUrl" must be an absolute http(s) URL, got ${JSON.stringify(workerUrl)}`);
  }
  if (!token) throw new TypeError(`createClient: "token" is required (QSTASH_TOKEN)`);
  const base = workerUrl.replace(/\/+$/, "");
  const qstash = new Client({
    baseUrl: options.baseUrl ?? "https://qstash.upstash.io",
    token,
    enableTelemetry: false,
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
  });

  async function prepare(job: AnyJob, input: unknown, enqueueOptions: EnqueueOptions | undefined) {
    const merged: EnqueueOptions = { ...job.defaults, ...enqueueOptions };
    if (enqueueOptions) checkDeliveryOptions(`enqueue "${job.name}"`, enqueueOptions);
    const result = await validateInput(job, input);
    if (!result.success) throw new JobInputError(job.name, result.issues);
    const key = job.idempotencyKey?.(result.value);
    return { request: toPublishRequest(`${base}/${job.name}`, input, merged, key), queue: merged.queue };
  }

  return {
    qstash,
    async enqueue(job, input, enqueueOptions) {
      const { request, queue } = await prepare(job, input, enqueueOptions);
      const response = queue
        ? await qstash.queue({ queueName: queue }).enqueue(request)
        : await qstash.publish(request);
      return toResult(response);
    },
    async enqueueMany(requests) {
      if (requests.length === 0) return [];
      const prepared = await Promise.all(requests.map((r) => prepare(r.job, r.input, r.options)));
      const responses = await qstash.batch(
        prepared.map(({ request, queue }) => (queue ? { ...request, queueName: queue } : request)),
      );
      return responses.map((response) => toResult(response as { messageId: string; deduplicated?: boolean }));
    },
    async schedule(job, scheduleOptions) {
      const { id, cron, input, ...delivery } = scheduleOptions;
      const { request, queue } = await prepare(job, input, delivery);
      const { url, notBefore: _ignored, deduplicationId: _none, ...rest } = request;
      return qstash.schedules.create({ ...rest, destination: url, cron, scheduleId: id, ...(queue ? { queueName: queue } : {}) });
    },
    async unschedule(id) {
      await qstash.schedules.delete(id);
    },
    async cancel(messageId) {
      await qstash.messages.delete(messageId);
    },
  };
}

function toPublishRequest(url: string, input: unknown, options: EnqueueOptions, key: string | undefined) {
  const headers: Record<string, string> = { ...options.headers, "Content-Type": "application/json" };
  const deduplicationId = options.deduplicationId ?? key;
  if (key !== undefined) headers[IDEMPOTENCY_HEADER] = key;
  headers[MAX_ATTEMPTS_HEADER] = String(1 + (options.retries ?? 3));
  const request: PublishRequest<string> & { url: string } = { url, body: JSON.stringify(input), headers };
  if (options.retries !== undefined) request.retries = options.retries;
  if (options.retryDelay !== undefined) request.retryDelay = options.retryDelay;
  if (options.timeout !== undefined) request.timeout = parseDuration(options.timeout);
  if (options.delay !== undefined) request.delay = parseDuration(options.delay);
  if (options.notBefore !== undefined) {
    request.notBefore =
      options.notBefore instanceof Date ? Math.floor(options.notBefore.getTime() / 1000) : options.notBefore;
  }
  if (deduplicationId !== undefined) request.deduplicationId = deduplicationId;
  if (options.callback !== undefined) request.callback = options.callback;
  if (options.failureCallback !== undefined) request.failureCallback = options.failureCallback;
  if (options.label !== undefined) request.label = options.label;
  const flow = options.flowControl;
  if (flow) {
    request.flowControl = {
      key: flow.key,
      ...(flow.parallelism !== undefined ? { parallelism: flow.parallelism } : {}),
      ...(flow.rate !== undefined ? { rate: flow.rate } : {}),
      ...(flow.period !== undefined ? { period: parseDuration(flow.period) } : {}),
    } as NonNullable<PublishRequest["flowControl"]>;
  }
  return request;
}

function toResult(response: { messageId: string; deduplicated?: boolean }): EnqueueResult {
  return { messageId: response.messageId, deduplicated: response.deduplicated === true };
}
