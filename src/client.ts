import { type BrokerApi, brokerApi, type FetchFunction, type OutgoingMessage, publishHeaders, type PublishResponse, type RetryOptions } from "./broker-api.ts";
import { type BatchItemResult, ConfigError, EnqueueBatchError, JobInputError } from "./errors.ts";
import { DEV_TOKEN, devTokenWithoutUrl, HOSTED_QSTASH_URL } from "./env.ts";
import { IDEMPOTENCY_HEADER, MAX_ATTEMPTS_HEADER } from "./headers.ts";
import { isHttpUrl, mountUrl } from "./mount-url.ts";
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
  /**
   * Where the worker app is mounted, as the broker reaches it; a job's route is `${workerUrl}/${name}`.
   * A query string is kept after the job's name (`https://app.example.com/jobs?x-vercel-protection-bypass=…`
   * sends to `/jobs/{name}?x-vercel-protection-bypass=…`); a `#fragment` is refused.
   */
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
   * How a call is retried when `fetch` itself throws (a network error; never on an HTTP error
   * status, which throws {@link BrokerError}). As the official SDK does.
   * @default 5 retries, waiting `Math.exp(retryCount) * 50` ms before each
   */
  retry?: RetryOptions;
  /** The `fetch` to call the broker with (a service binding's, an instrumented one). @default globalThis.fetch */
  fetch?: FetchFunction;
}

/** A request for one of `Jobs`, its input tied to its own job (distributed over the union). */
export type RequestOf<Jobs extends AnyJob> = Jobs extends AnyJob ? JobRequest<Jobs> : never;

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
  /**
   * Validates every request, then publishes them all in one batch call. Results are in order. When
   * the broker refuses some messages, throws {@link EnqueueBatchError} with every result.
   */
  enqueueMany(requests: readonly RequestOf<Jobs>[]): Promise<EnqueueResult[]>;
  /** Creates or replaces (by `id`) a cron schedule for a job. */
  schedule<J extends Jobs>(job: J, options: ScheduleOptions<J>): Promise<{ scheduleId: string }>;
  /** Deletes a schedule by id. */
  unschedule(id: string): Promise<void>;
  /** Cancels a message that has not been delivered yet. */
  cancel(messageId: string): Promise<void>;
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
  if (!isHttpUrl(workerUrl)) {
    throw new TypeError(`createClient: "workerUrl" must be an absolute http(s) URL, got ${JSON.stringify(workerUrl)}`);
  }
  if (workerUrl.includes("#")) {
    throw new TypeError(`createClient: "workerUrl" cannot have a #fragment (the broker would never send it), got ${JSON.stringify(workerUrl)}`);
  }
  if (!token) throw new TypeError(`createClient: "token" is required (QSTASH_TOKEN)`);
  if (options.baseUrl === undefined && token === DEV_TOKEN) throw devTokenWithoutUrl('createClient was given no "baseUrl"');
  const baseUrl = options.baseUrl ?? HOSTED_QSTASH_URL;
  // Checked here: a bad broker URL would otherwise only fail inside fetch, after every retry.
  if (!isHttpUrl(baseUrl)) {
    throw new TypeError(`createClient: "baseUrl" must be an absolute http(s) URL such as http://127.0.0.1:8080, got ${JSON.stringify(baseUrl)}`);
  }
  // The job's name goes at the end of the path, before any query string, in the URL as the worker
  // will see it called: the broker signs this exact string, and the worker compares it.
  const { base, query } = mountUrl(workerUrl);
  const api: BrokerApi = brokerApi({
    baseUrl,
    token,
    retry: options.retry,
    fetch: options.fetch,
  });

  async function prepare(job: AnyJob, input: unknown, enqueueOptions: EnqueueOptions | undefined): Promise<Prepared> {
    if (enqueueOptions) checkDeliveryOptions(`enqueue "${job.name}"`, enqueueOptions);
    // What is validated is what the worker will receive: the input's JSON, read back. A value JSON
    // does not carry (undefined, a Date, a Map) fails here rather than at the worker, for good.
    const body = toJson(job.name, input);
    const result = await validateInput(job, JSON.parse(body));
    if (!result.success) throw new JobInputError(job.name, result.issues);
    return { job, body, options: { ...job.defaults, ...enqueueOptions }, key: job.idempotencyKey?.(result.value) };
  }

  function toMessage({ job, body, options, key }: Prepared, forSchedule = false): OutgoingMessage {
    const headers: Record<string, string> = { ...options.headers };
    if (key !== undefined) headers[IDEMPOTENCY_HEADER] = asHeader(key);
    headers[MAX_ATTEMPTS_HEADER] = String(1 + (options.retries ?? 3));
    // Scoped by the job's name, as the worker's key is: on QStash deduplication ids are not scoped
    // by destination, so two jobs whose keys happen to agree would otherwise drop each other.
    const deduplicationId = options.deduplicationId ?? (key === undefined ? undefined : `${job.name}:${asHeader(key)}`);
    return {
      destination: `${base}/${job.name}${query}`,
      body,
      headers: publishHeaders({ ...options, headers, ...(deduplicationId !== undefined ? { deduplicationId } : {}) }, forSchedule),
      queue: options.queue,
    };
  }

  return {
    async enqueue(job, input, enqueueOptions) {
      return toResult(await api.publish(toMessage(await prepare(job, input, enqueueOptions))));
    },
    async enqueueMany(requests) {
      if (requests.length === 0) return [];
      const prepared = await Promise.all(requests.map((r) => prepare(r.job, r.input, r.options)));
      const answers = await api.batch(prepared.map((p) => toMessage(p)));
      // A message the broker refused must never pass for enqueued: any refusal throws, with every result.
      const results = prepared.map((_, i): BatchItemResult => {
        const answer = answers[i] as Partial<PublishResponse & { error: unknown }> | undefined;
        if (typeof answer?.messageId === "string" && answer.error === undefined) return toResult(answer as PublishResponse);
        return { error: typeof answer?.error === "string" ? answer.error : "the broker answered no messageId for this message" };
      });
      if (results.some((result) => "error" in result)) throw new EnqueueBatchError(results);
      return results as EnqueueResult[];
    },
    async schedule(job, scheduleOptions) {
      if (job.idempotencyKey) {
        // Every firing carries the same input, so the same key: all but the first would be answered
        // as duplicates. The firings can only be told apart by headers the signature does not cover.
        throw new ConfigError(
          `schedule "${job.name}": the job has an idempotencyKey, so every firing (the same input each time) would be a duplicate of the first and never run; schedule a job without one (each firing is then deduplicated by its message id)`,
        );
      }
      const { id, cron, input, ...delivery } = scheduleOptions;
      const message = toMessage(await prepare(job, input, delivery), true);
      message.headers["Upstash-Cron"] = cron;
      message.headers["Upstash-Schedule-Id"] = id;
      if (message.queue) message.headers["Upstash-Queue-Name"] = message.queue;
      return api.createSchedule(message);
    },
    async unschedule(id) {
      await api.deleteSchedule(id);
    },
    async cancel(messageId) {
      await api.cancelMessage(messageId);
    },
  };
}


/**
 * A key as a header value: as is when it is printable ASCII, else percent-encoded (a key may hold
 * any text, such as a name in any script; a header value may not).
 */
function asHeader(key: string): string {
  return /^[\x20-\x7e]*$/.test(key) ? key : encodeURIComponent(key);
}

/** The input as the message's body; a {@link JobInputError} when JSON cannot carry it. */
function toJson(job: string, input: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw new JobInputError(job, [{ message: `the input is not JSON-serializable: ${(error as Error).message}` }]);
  }
  if (json === undefined) {
    throw new JobInputError(job, [{ message: `the input is ${typeof input}, which JSON cannot carry: inputs are JSON (use null or an object)` }]);
  }
  return json;
}

/** A validated enqueue: the job's defaults merged with the call's options, and its idempotency key. */
interface Prepared {
  job: AnyJob;
  /** The input's JSON, as validated. */
  body: string;
  options: EnqueueOptions;
  key: string | undefined;
}

function toResult(response: { messageId: string; deduplicated?: boolean }): EnqueueResult {
  return { messageId: response.messageId, deduplicated: response.deduplicated === true };
}
