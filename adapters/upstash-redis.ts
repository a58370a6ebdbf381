/**
 * Upstash Redis: an idempotency store shared by every worker, over HTTP (`@upstash/redis`), so it
 * works from edge runtimes too. Locally, `jobwire dev --redis redis://127.0.0.1:6379` serves the
 * same REST API in front of a real redis-server.
 * @module
 */
import type { Redis } from "@upstash/redis";
import { StoreUnavailableError } from "../src/errors.ts";
import { type ClaimResult, DEFAULT_DONE_TTL_MS, type IdempotencyStore } from "../src/idempotency.ts";
import { type Script, scriptRunner } from "./upstash-redis-scripts.ts";

/** What the store needs from a `Redis` instance of `@upstash/redis` (any entry point: Node, Cloudflare, Fastly). */
export type UpstashRedisLike = Pick<Redis, "pipeline">;

/** Options of {@link upstashRedisStore}. */
export interface UpstashRedisStoreOptions {
  /** Put before every idempotency key, to keep the store's keys apart from others. @default "jobwire:idem:" */
  prefix?: string;
  /** How long `done` entries are kept when `complete` is not given a TTL, in ms. @default 7 days */
  ttlMs?: number;
  /**
   * How many HTTP requests to Redis this store keeps in flight at once. Operations made while all
   * of them are busy wait, and the next request carries them together as one pipeline: under load,
   * fewer and larger requests. `Infinity` sends each tick's operations at once.
   * @default 4
   */
  maxInFlight?: number;
  /**
   * How long one request may go unanswered before its operations fail (`StoreUnavailableError`: the
   * worker answers 503 and the broker retries) and its slot is freed for the operations waiting.
   * @default 10_000
   */
  requestTimeoutMs?: number;
}

// Entries are JSON objects written by the scripts themselves, with a fixed opening, so a script can
// tell the state and the owner by comparing prefixes instead of decoding the stored result (which
// may be large). `cjson.encode` of the owner gives the same JSON string every time.
//   running: {"state":"running","owner":"msg_...","until":<ms>}   done: {"state":"done","result":...,"at":<ms>}
// Times come from Redis (TIME), and expiry is Redis's own PX, so clients' clocks never matter.
const PRELUDE = `
local raw = redis.call('GET', KEYS[1])
local held = '{"state":"running","owner":' .. cjson.encode(ARGV[1]) .. ','
local function owned() return raw ~= false and raw ~= nil and string.sub(raw, 1, #held) == held end
local function now()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`;

// KEYS[1] entry; ARGV[1] owner, ARGV[2] lease ms. Answers the entry that stops the claim, or acquired.
const CLAIM: Script = {
  source: `${PRELUDE}
local done = '{"state":"done",'
local running = '{"state":"running",'
if raw and not owned() and (string.sub(raw, 1, #done) == done or string.sub(raw, 1, #running) == running) then
  return raw
end
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1], held .. '"until":' .. string.format('%.0f', now() + lease) .. '}', 'PX', lease)
return '{"state":"acquired"}'
`,
};

// KEYS[1] entry; ARGV[1] owner, ARGV[2] result as JSON, ARGV[3] TTL ms.
const COMPLETE: Script = {
  source: `${PRELUDE}
if not owned() then return 0 end
redis.call('SET', KEYS[1], '{"state":"done","result":' .. ARGV[2] .. ',"at":' .. string.format('%.0f', now()) .. '}', 'PX', ARGV[3])
return 1
`,
};

// KEYS[1] entry; ARGV[1] owner.
const RELEASE: Script = {
  source: `${PRELUDE}
if not owned() then return 0 end
redis.call('DEL', KEYS[1])
return 1
`,
};

type Entry = { state: "acquired" } | { state: "done"; result: unknown } | { state: "running"; owner: string };

/**
 * An {@link IdempotencyStore} on Upstash Redis (or `jobwire dev --redis`): `claim`, `complete` and
 * `release` are each one Lua script, atomic in Redis (`EVALSHA`, with `EVAL` once when Redis does
 * not know the script yet). One at a time, each is one HTTP request; under load, operations made
 * while `maxInFlight` requests are out share the next one as a pipeline. Leases and `done` entries
 * expire through Redis TTLs. When Redis cannot be reached, operations throw
 * {@link StoreUnavailableError} and the worker answers 503, so the broker retries later.
 *
 * @example
 * import { Redis } from "@upstash/redis";
 * const worker = createWorker({ signingKeys, store: upstashRedisStore(Redis.fromEnv()) });
 */
export function upstashRedisStore(redis: UpstashRedisLike, options: UpstashRedisStoreOptions = {}): IdempotencyStore {
  if (typeof (redis as Partial<UpstashRedisLike> | undefined)?.pipeline !== "function") {
    throw new TypeError("upstashRedisStore: expected an @upstash/redis `Redis` instance (new Redis({ url, token }) or Redis.fromEnv()), which has pipeline()");
  }
  const prefix = options.prefix ?? "jobwire:idem:";
  const defaultTtl = options.ttlMs ?? DEFAULT_DONE_TTL_MS;
  const maxInFlight = options.maxInFlight ?? 4;
  if (!(maxInFlight >= 1 && (Number.isInteger(maxInFlight) || maxInFlight === Number.POSITIVE_INFINITY))) {
    throw new RangeError(`upstashRedisStore: maxInFlight must be a whole number of requests, at least 1 (or Infinity), got ${maxInFlight}`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  if (!(requestTimeoutMs > 0)) throw new RangeError(`upstashRedisStore: requestTimeoutMs must be a positive number of milliseconds, got ${requestTimeoutMs}`);
  const runScript = scriptRunner(redis, maxInFlight, requestTimeoutMs);

  return {
    async claim(key, owner, leaseMs): Promise<ClaimResult> {
      const lease = milliseconds(leaseMs, "leaseMs");
      const reply = await run(() => runScript(CLAIM, [prefix + key], [owner, lease]));
      const entry = parseEntry(reply);
      if (entry.state === "done") return { state: "done", result: entry.result };
      if (entry.state === "running") return { state: "running", owner: entry.owner };
      return { state: "acquired" };
    },
    async complete(key, owner, result, ttlMs) {
      // `undefined` (and functions) have no JSON form: stored as null, as memoryStore does.
      const json = JSON.stringify(result === undefined ? null : result) ?? "null";
      const ttl = milliseconds(ttlMs ?? defaultTtl, "ttlMs");
      await run(() => runScript(COMPLETE, [prefix + key], [owner, json, ttl]));
    },
    async release(key, owner) {
      await run(() => runScript(RELEASE, [prefix + key], [owner]));
    },
  };
}

/** A whole, positive number of milliseconds for PX (Redis rejects 0 and fractions). */
function milliseconds(value: number, name: string): string {
  if (!Number.isFinite(value)) throw new RangeError(`upstashRedisStore: ${name} must be a finite number of milliseconds, got ${value}`);
  return String(Math.max(1, Math.ceil(value)));
}

// Every failure of the request (fetch failed, an HTTP error status, a body that is not JSON) means
// the store cannot answer: the claim is unknown, so the job must not run now but later.
async function run<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The client appends the whole command (the script) to its messages: keep the first part.
    throw new StoreUnavailableError(`idempotency store (Upstash Redis) unavailable: ${message.split(", command was:")[0]}`, { cause: error });
  }
}

// The client JSON-parses replies unless `automaticDeserialization: false`; the entry is JSON either
// way, and parsing it whole keeps the result's own types ("123" stays a string).
function parseEntry(reply: unknown): Entry {
  const entry = typeof reply === "string" ? safeParse(reply) : reply;
  if (entry && typeof entry === "object") {
    const record = entry as Record<string, unknown>;
    if (record.state === "acquired") return { state: "acquired" };
    if (record.state === "done") return { state: "done", result: record.result ?? null };
    if (record.state === "running" && typeof record.owner === "string") return { state: "running", owner: record.owner };
  }
  throw new StoreUnavailableError(`idempotency store (Upstash Redis) answered an unknown entry: ${String(reply).slice(0, 200)}`);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
