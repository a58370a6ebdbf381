import type { Context, Env } from "hono";
import { Hono } from "hono/tiny";
import { BodyTooLargeError, discardBody, readBody } from "./body.ts";
import { MAX_ATTEMPTS_HEADER } from "./headers.ts";
import { MAX_TIMER_MS, parseDuration } from "./duration.ts";
import {
  ConfigError,
  JobInputError,
  NonRetryableError,
  RetryLaterError,
  StoreUnavailableError,
} from "./errors.ts";
import { type IdempotencyStore, memoryStore } from "./idempotency.ts";
import { isHttpUrl, mountUrl } from "./mount-url.ts";
import type { AnyJob, OutputOf } from "./job.ts";
import { type Logger, prefixed, silentLogger } from "./logger.ts";
import { createVerifier, type SigningKeys, type Verifier } from "./signing.ts";

/** What a handler gets besides its input. */
export interface JobContext<Deps = undefined> {
  /** The job's name. */
  job: string;
  /** The broker's message id, the same on every retry. */
  messageId: string;
  /** 1 on the first attempt, 2 on the first retry, ... */
  attempt: number;
  /** 1 + the retries the message was published with. */
  maxAttempts: number;
  /** The key the idempotency store holds for this run. */
  idempotencyKey: string;
  /** Aborts when the job's timeout passes or the broker hangs up: pass it to `fetch` and friends. */
  signal: AbortSignal;
  /** What the worker's `inject` returned for this delivery. */
  deps: Deps;
  /** A logger whose lines name the job and message. */
  log: Logger;
  /** The delivery's headers (forwarded ones included). */
  headers: Headers;
}

/** A job's handler: gets the validated input, returns a JSON-serializable result. */
export type Handler<J extends AnyJob, Deps> = (input: OutputOf<J>, ctx: JobContext<Deps>) => unknown;

/** What {@link createWorker} takes. */
export interface WorkerOptions<Deps = undefined, E extends Env = Env, Jobs extends AnyJob = AnyJob> {
  /**
   * The broker's signing keys (`QSTASH_CURRENT_SIGNING_KEY`, `QSTASH_NEXT_SIGNING_KEY`). Required.
   * A function of the request context reads them per delivery, where bindings only exist then
   * (Cloudflare Workers' `c.env`); a delivery whose keys are missing is refused, never accepted.
   */
  signingKeys: SigningKeys | ((c: Context<E>) => SigningKeys);
  /**
   * The URL the worker app is mounted at, as the broker calls it (the client's `workerUrl`). Set it
   * behind proxies, where the URL the request arrives at is not the one the broker signed. A query
   * string in it is ignored: the one each request arrives with is what the broker signed.
   * @default the URL of each request
   */
  publicUrl?: string;
  /**
   * Where idempotency claims are kept. Use a shared store (`upstashRedisStore`) with several workers
   * or on edge platforms.
   * A function of the request context makes it per delivery (from `c.env` bindings); it is called
   * once per delivery, so cache the client inside it where that matters.
   * @default memoryStore(), with a warning on the first delivery
   */
  store?: IdempotencyStore | ((c: Context<E>) => IdempotencyStore);
  /** Makes typed resources for handlers (`ctx.deps`) from the request context, e.g. from `c.env`. */
  inject?: (c: Context<E>) => Deps | Promise<Deps>;
  /** The jobs this worker may handle; when given, handling any other job is a compile error. */
  jobs?: readonly Jobs[];
  /** Bodies larger than this are refused (489, not retried). @default 10 MiB */
  maxBodyBytes?: number;
  /** Seconds of clock difference tolerated when checking a signature's `exp` and `nbf`. @default 5 */
  clockTolerance?: number;
  /** The handler timeout for jobs that declare none (`ctx.signal` aborts then). @default "5m" */
  defaultTimeout?: string | number;
  /** `Retry-After` seconds sent with a 503 when the store is unavailable. @default 10 */
  storeRetryAfter?: number;
  /** How long `done` entries are kept. @default the store's (7 days) */
  doneTtlMs?: number;
  /** Where to log. `false` for nothing. @default console */
  log?: Logger | false;
}

/** A worker: register handlers with `handle`, serve `app`. Made by {@link createWorker}. */
export interface Worker<Deps = undefined, E extends Env = Env, Jobs extends AnyJob = AnyJob> {
  /** Registers the handler of a job (once per job name); returns the worker for chaining. */
  handle<J extends Jobs>(job: J, run: Handler<J, Deps>): Worker<Deps, E, Jobs>;
  /** The Hono app to mount: one `POST /:job` route. `new Hono().route("/jobs", worker.app)`. */
  readonly app: Hono<E>;
  /** The names of the jobs with a handler. */
  readonly jobs: readonly string[];
}

interface Registered {
  job: AnyJob;
  run: Handler<AnyJob, unknown>;
  timeoutMs: number;
}

const NON_RETRYABLE = { "Upstash-NonRetryable-Error": "true" };
const JSON_HEADERS = { "Content-Type": "application/json" };
const LEASE_SLACK_MS = 30_000;

/**
 * Makes the worker: a Hono app that receives the broker's signed deliveries and runs the handlers,
 * in this order: find the job (unknown: 489), read the body (too large: 489), verify the signature
 * (401), parse and validate the input (489 with the issues), claim the idempotency key (duplicate:
 * 200), run the handler, and map its outcome to a status the broker understands.
 *
 * @example
 * const worker = createWorker({ signingKeys: { current, next } })
 *   .handle(sendWelcomeEmail, async (input, ctx) => ({ sent: true }));
 * export default new Hono().route("/jobs", worker.app);
 */
export function createWorker<Deps = undefined, E extends Env = Env, Jobs extends AnyJob = AnyJob>(
  options: WorkerOptions<Deps, E, Jobs>,
): Worker<Deps, E, Jobs> {
  const clockTolerance = options.clockTolerance ?? 5;
  const keysOption = options.signingKeys;
  const fixedVerifier = typeof keysOption === "function" ? undefined : verifierFor(keysOption, clockTolerance);
  const verifiers = new Map<string, Verifier>();
  const verifierOf = (c: Context<E>): Verifier => {
    if (fixedVerifier) return fixedVerifier;
    const keys = (keysOption as (c: Context<E>) => SigningKeys)(c);
    const id = `${keys?.current}\n${keys?.next}`;
    let verifier = verifiers.get(id);
    if (!verifier) {
      verifier = verifierFor(keys, clockTolerance);
      verifiers.set(id, verifier);
    }
    return verifier;
  };
  const log = options.log === false ? silentLogger : (options.log ?? console);
  const storeOption = options.store;
  let defaultStore: IdempotencyStore | undefined;
  const storeOf = (c: Context<E>): IdempotencyStore => {
    if (typeof storeOption === "function") return storeOption(c);
    if (storeOption) return storeOption;
    if (!defaultStore) {
      defaultStore = memoryStore();
      log.warn(
        "[jobwire] no idempotency store given: using memoryStore(), which only deduplicates within this process. Pass a shared store (upstashRedisStore) in production.",
      );
    }
    return defaultStore;
  };
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const defaultTimeoutMs = parseDuration(options.defaultTimeout ?? "5m") * 1000;
  const storeRetryAfter = String(options.storeRetryAfter ?? 10);
  const publicUrl = options.publicUrl === undefined ? undefined : publicMount(options.publicUrl);
  const handlers = new Map<string, Registered>();
  const decoder = new TextDecoder();

  const app = new Hono<E>();

  // Routes rather than `notFound`, so the JSON 404 holds when the app is mounted in another.
  const noRoute = (c: Context<E>) => reply({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404);

  // Exactly one route matches any path, so Hono dispatches without composing handlers.
  app.all("/:job", async (c) => {
    // Served on its own, Hono's tiny router lets "/job/" match "/:job"; mounted, it does not.
    if (c.req.path.endsWith("/")) return noRoute(c as Context<E>);
    if (c.req.method !== "POST") {
      await discardBody(c.req.raw);
      return reply({ error: `method ${c.req.method} not allowed: deliveries are POST` }, 405, { Allow: "POST" });
    }
    const name = c.req.param("job");
    const entry = handlers.get(name);
    if (!entry) {
      // Read first: an answer sent before the body is read can be lost with the connection (workerd).
      await discardBody(c.req.raw);
      return reply({ error: `unknown job "${name}"` }, 489, NON_RETRYABLE);
    }
    const { job, run, timeoutMs } = entry;

    let bytes: Uint8Array;
    try {
      bytes = await readBody(c.req.raw, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return reply({ error: error.message }, 489, NON_RETRYABLE);
      return reply({ error: `could not read the body: ${(error as Error).message}` }, 400);
    }

    const url = publicUrl ? `${publicUrl}/${name}${new URL(c.req.url).search}` : c.req.url;
    let verify: Verifier;
    try {
      verify = verifierOf(c as Context<E>);
    } catch (error) {
      log.error(`[jobwire] ${(error as Error).message}`);
      return reply({ error: (error as Error).message }, 500);
    }
    let jti: string;
    try {
      ({ jti } = await verify({ signature: c.req.header("upstash-signature"), url, body: bytes }));
    } catch (error) {
      return reply({ error: (error as Error).message }, 401);
    }

    let payload: unknown;
    try {
      payload = JSON.parse(decoder.decode(bytes));
    } catch {
      return reply({ error: `job "${name}": the body is not valid JSON`, issues: [{ message: "the body is not valid JSON", path: [] }] }, 489, NON_RETRYABLE);
    }
    // The job's schema is called directly, awaited only when it is asynchronous (as validateInput).
    let validation = job.input["~standard"].validate(payload);
    if (validation instanceof Promise) validation = await validation;
    if (validation.issues) {
      const error = new JobInputError(name, validation.issues);
      return reply(
        { error: error.message, issues: error.issues.map((i) => ({ message: i.message, path: i.path.map(pathKey) })) },
        489,
        NON_RETRYABLE,
      );
    }
    const input = validation.value as OutputOf<AnyJob>;

    const messageId = c.req.header("upstash-message-id") || jti;
    let jobLog: Logger | undefined;
    // Made on first use: most deliveries log nothing.
    const logOf = () => (jobLog ??= prefixed(log, `[jobwire] ${name} ${messageId}`));

    let key: string;
    try {
      key = job.idempotencyKey ? `${name}:${job.idempotencyKey(input)}` : `${name}:msg:${messageId}`;
    } catch (error) {
      return reply({ error: `job "${name}": idempotencyKey threw: ${(error as Error).message}` }, 489, NON_RETRYABLE);
    }
    let claim: Awaited<ReturnType<IdempotencyStore["claim"]>>;
    let store: IdempotencyStore;
    try {
      store = storeOf(c as Context<E>);
      claim = await store.claim(key, messageId, timeoutMs + LEASE_SLACK_MS);
    } catch (error) {
      logOf().error(`idempotency store unavailable: ${(error as Error).message}`);
      return reply({ error: `idempotency store unavailable: ${(error as Error).message}` }, 503, {
        "Retry-After": storeRetryAfter,
      });
    }
    if (claim.state === "done") return reply({ duplicate: true, result: claim.result ?? null }, 200);
    if (claim.state === "running") return reply({ duplicate: true, runningAs: claim.owner }, 200);

    const deadline = new Deadline(timeoutMs);
    // Combined only when a handler reads `ctx.signal`: most never do, and linking signals costs.
    let signal: AbortSignal | undefined;
    const heldStore: IdempotencyStore = store;

    try {
      const deps = (options.inject ? await options.inject(c as Context<E>) : undefined) as Deps;
      const retried = count(c.req.header("upstash-retried")) ?? 0;
      const ctx: JobContext<unknown> = {
        job: name,
        messageId,
        attempt: retried + 1,
        maxAttempts: count(c.req.header(MAX_ATTEMPTS_HEADER)) || 1 + (job.defaults.retries ?? 3),
        idempotencyKey: key,
        get signal() {
          signal ??= anySignal([deadline.signal, c.req.raw.signal]);
          return signal;
        },
        deps,
        get log() {
          return logOf();
        },
        headers: c.req.raw.headers,
      };
      let result = run(input, ctx);
      // A handler that returns a value (not a promise) is done: it needs no timer.
      if (isThenable(result)) result = await deadline.race(result);
      // From here on the job has run: nothing may turn it into a failure, or it would run again.
      // A result JSON cannot carry (a BigInt, a cycle, a throwing toJSON) is recorded as null.
      let json: string | undefined;
      let warning: string | undefined;
      try {
        json = result === undefined ? undefined : JSON.stringify(result);
      } catch (error) {
        warning = `the handler's result is not JSON-serializable (${(error as Error).message}): recorded and answered as null`;
        logOf().warn(warning);
      }
      const stored = json === undefined ? null : result;
      try {
        await heldStore.complete(key, messageId, stored, options.doneTtlMs);
      } catch (error) {
        // The effect has happened: acknowledge it. Answering 503 would make the broker run it again.
        logOf().warn(`job done, but the idempotency store could not record it: ${(error as Error).message}`);
      }
      if (warning) return reply({ result: null, warning }, 200);
      // The result's JSON is made once, above: spliced in rather than serialized again.
      return new Response(`{"result":${json ?? "null"}}`, { status: 200, headers: JSON_HEADERS });
    } catch (error) {
      try {
        await heldStore.release(key, messageId);
      } catch (releaseError) {
        // The lease still lets this message's retry take the key over; nothing is lost.
        logOf().warn(`could not release the idempotency key: ${(releaseError as Error).message}`);
      }
      return errorResponse(error, logOf(), storeRetryAfter);
    } finally {
      deadline.clear();
    }
  });

  app.all("/", noRoute);
  app.all("/:rest{(?:.*/.*)?}", noRoute); // "/" + nothing, or anything with a second "/"
  app.onError((error, c) => reply({ error: `${error.name}: ${error.message}` }, 500));

  const worker: Worker<Deps, E, Jobs> = {
    app,
    get jobs() {
      return [...handlers.keys()];
    },
    handle(job, run) {
      if (handlers.has(job.name)) throw new TypeError(`createWorker: job "${job.name}" already has a handler`);
      const timeout = job.defaults.timeout;
      handlers.set(job.name, {
        job,
        run: run as Handler<AnyJob, unknown>,
        timeoutMs: timeout === undefined ? defaultTimeoutMs : parseDuration(timeout) * 1000,
      });
      return worker;
    },
  };
  return worker;
}

function errorResponse(error: unknown, log: Logger, storeRetryAfter: string): Response {
  if (error instanceof NonRetryableError || error instanceof JobInputError) {
    log.warn(`failed for good: ${error.message}`);
    // A handler's own JobInputError (input checked further than the schema) keeps its issues, as
    // the worker's validation does.
    const issues = error instanceof JobInputError ? { issues: error.issues } : {};
    return reply({ error: error.name, message: error.message, ...issues }, 489, NON_RETRYABLE);
  }
  if (error instanceof RetryLaterError) {
    log.info(`retry later (${error.after}s): ${error.message}`);
    return reply({ error: error.name, message: error.message, retryAfter: error.after }, 429, {
      "Retry-After": String(error.after),
    });
  }
  if (error instanceof StoreUnavailableError) {
    log.error(`store unavailable: ${error.message}`);
    return reply({ error: error.name, message: error.message }, 503, { "Retry-After": storeRetryAfter });
  }
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  log.error(`failed: ${name}: ${message}`);
  return reply({ error: name, message }, 500);
}

function verifierFor(keys: SigningKeys | undefined, clockTolerance: number): Verifier {
  if (!keys?.current || !keys?.next) {
    throw new ConfigError(
      "createWorker: signingKeys.current and signingKeys.next are required (QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY); a worker never accepts unsigned requests",
    );
  }
  return createVerifier({ keys, clockTolerance });
}

/** A JSON response; Hono's `c.json` does not take QStash's non-standard 489. */
function reply(body: unknown, status: number, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS,
  });
}

/** A header's whole number ≥ 0, or undefined when it is absent or anything else. */
function count(header: string | undefined): number | undefined {
  // Digits only: Number() would also read "1e3", "0x10" or " 4 ".
  if (!header || !/^\d+$/.test(header)) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) ? n : undefined;
}

function pathKey(key: string | number | symbol): string | number {
  return typeof key === "symbol" ? String(key) : key;
}

/**
 * A handler's timeout, counted from when the deadline is made. The timer is set only when `race`
 * is called (the handler returned a promise) and the AbortController made only when `signal` is
 * read: a handler that returns at once and ignores its signal needs neither.
 */
class Deadline {
  readonly #at: number;
  readonly #ms: number;
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #error: Error | undefined;
  #reject: ((error: Error) => void) | undefined;

  constructor(ms: number) {
    this.#ms = ms;
    this.#at = Date.now() + ms;
  }

  /** Aborts when the time is up. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#error) this.#controller.abort(this.#error);
    }
    return this.#controller.signal;
  }

  /** Settles as `work`, or rejects with a TimeoutError when the time is up first. */
  race<T>(work: PromiseLike<T>): Promise<T> {
    const expired = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    const left = this.#at - Date.now();
    if (left <= 0) this.#expire();
    else this.#timer = setTimeout(() => this.#expire(), Math.min(left, MAX_TIMER_MS));
    return Promise.race([work, expired]);
  }

  #expire(): void {
    const error = new Error(`the handler did not finish within its timeout of ${this.#ms} ms`);
    error.name = "TimeoutError";
    this.#error = error;
    this.#controller?.abort(error);
    this.#reject?.(error);
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any(signals);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) return AbortSignal.abort(signal.reason);
    signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

/** `publicUrl` as the broker signs it: read as the client writes `workerUrl`, query string dropped. */
function publicMount(publicUrl: string): string {
  if (!isHttpUrl(publicUrl)) {
    throw new TypeError(`createWorker: "publicUrl" must be an absolute http(s) URL (the worker's mount URL as the broker calls it), got ${JSON.stringify(publicUrl)}`);
  }
  return mountUrl(publicUrl).base;
}
