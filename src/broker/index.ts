import type { Hono } from "hono";
import { DEV_TOKEN } from "../env.ts";
import { localUrl } from "../local-url.ts";
import type { SigningKeys } from "../signing.ts";
import { createBrokerApp } from "./app.ts";
import type { BrokerCore } from "./core.ts";
import { Dedup } from "./dedup.ts";
import { Engine } from "./engine/engine.ts";
import { Http1Client } from "./engine/http1.ts";
import { formatEvent } from "./events.ts";
import { ids } from "./ids.ts";
import { Publisher } from "./publisher.ts";
import type { RedisRest } from "./redis-rest.ts";
import { Schedules } from "./schedules.ts";
import { serve, type ServeEnv } from "./server.ts";
import { openDatabase, type SqlDriver, SqliteUnavailableError } from "./store/driver.ts";
import { Store } from "./store/store.ts";
import { GroupWriter } from "./store/writer.ts";
import type { BrokerEvent, TopicRecord } from "./types.ts";

export { createBrokerApp } from "./app.ts";
export { PortInUseError } from "./server.ts";
export { parseCron } from "./schedules.ts";
export { compileRetryDelay, evaluateRetryDelay } from "./retry-delay.ts";
export type { BrokerEvent, EventState, StoredMessage } from "./types.ts";
export type { SigningKeys } from "../signing.ts";

/**
 * The credentials of the hosted QStash dev server, which the official SDK's dev mode hard-codes
 * (`QSTASH_DEV=true`): a broker using them is a drop-in local QStash.
 */
export const DEV_CREDENTIALS = {
  token: DEV_TOKEN,
  signingKeys: { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" },
} as const;

/** Options of {@link createBroker}. */
export interface BrokerOptions {
  /** Port to listen on; 0 picks a free one. @default 8080 */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Keep everything in memory (`:memory:` SQLite): nothing survives the process. @default false */
  memory?: boolean;
  /** SQLite file; its directory is created. Ignored with `memory`. @default ".jobwire/dev.sqlite" */
  db?: string;
  /** How long a deduplication id (or content hash) is remembered, in ms. @default 600_000 (10 minutes, as QStash) */
  dedupWindow?: number;
  /** The API token clients must send. @default the QStash dev token */
  token?: string;
  /**
   * Signing keys; deliveries are signed with `current`. When omitted, the keys stored in the
   * database (after a `POST /v2/keys/rotate`) or else the QStash dev keys.
   */
  signingKeys?: SigningKeys;
  /**
   * The fetch deliveries go through (a test seam): when given, every delivery uses it.
   * @default on Bun, a built-in keep-alive HTTP/1.1 client for `http://` destinations and
   * `globalThis.fetch` for the rest; elsewhere `globalThis.fetch`
   */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Receives one line per state change, and errors; `false` for silence. @default console.log */
  log?: ((line: string) => void) | false;
  /** Called with every state-change event as it is logged. */
  onEvent?: (event: BrokerEvent) => void;
  /** Largest message body accepted, in bytes; a larger one is a 413. @default 10 MB */
  maxBodyBytes?: number;
  /** Per-attempt timeout in seconds when a message sets no `Upstash-Timeout`. @default 30 */
  defaultTimeout?: number;
  /** Delivery attempts in flight at once over all messages. @default 256 */
  maxConcurrency?: number;
  /** Events kept in the log (older ones are pruned). @default 100_000 */
  maxEvents?: number;
  /**
   * Also serve the Upstash Redis REST API (what `@upstash/redis` speaks) in front of this Redis, on
   * its own port (default 8079; 0 picks a free one) with the dev token (or `token`). A request
   * waits `commandTimeoutMs` (default 5000) for Redis's reply before answering 500.
   */
  redis?: { url: string; port?: number; token?: string; commandTimeoutMs?: number };
}

/** A running broker. */
export interface Broker {
  /** Base URL, e.g. `http://127.0.0.1:8080` (the `QSTASH_URL`). */
  url: string;
  port: number;
  token: string;
  /** The keys in use now (they change on rotation). */
  readonly signingKeys: SigningKeys;
  /** The Hono app serving the API (usable with `app.request()` in tests). */
  app: Hono;
  /** The Upstash Redis REST endpoint (`UPSTASH_REDIS_REST_URL`/`_TOKEN`), when started with `redis`. */
  redis?: { url: string; port: number; token: string };
  /** Counts for a dashboard or a test. */
  stats(): BrokerStats;
  /** Stops accepting, lets attempts in flight settle briefly, commits, closes the database. */
  close(): Promise<void>;
}

/** What {@link Broker.stats} reports. */
export interface BrokerStats {
  /** Messages not yet delivered, failed or canceled. */
  pending: number;
  /** Attempts in flight. */
  inFlight: number;
  /** Messages waiting for a delay, not-before or retry backoff. */
  delayed: number;
}

const CLOSE_GRACE_MS = 2000;

/** Opens (or creates) the database and its schema; a failure names the file. */
async function openStore(path: string, memory: boolean): Promise<{ db: SqlDriver; store: Store }> {
  let db: SqlDriver | undefined;
  try {
    if (!memory) await ensureDirectory(path);
    db = await openDatabase(path);
    return { db, store: new Store(db, memory) };
  } catch (error) {
    db?.close();
    // Not about the file: the runtime has no SQLite, whatever the database.
    if (error instanceof SqliteUnavailableError) throw error;
    const message = (error as Error).message;
    const why = /locked|busy/i.test(message) ? `${message} (another process has it open: is another jobwire dev running on it?)` : message;
    throw new Error(`cannot use the database ${path}: ${why}`, { cause: error });
  }
}

/**
 * Starts `jobwire dev`'s QStash-compatible broker: the API on `host:port`, the delivery engine,
 * cron schedules, and SQLite storage (WAL). A publish is acknowledged only once committed; on
 * start every pending, retrying or in-flight message of the database is resumed.
 *
 * @example
 * const broker = await createBroker({ port: 0, memory: true, log: false });
 * const client = new Client({ baseUrl: broker.url, token: broker.token });
 */
export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  const log = options.log === false ? undefined : (options.log ?? ((line: string) => console.log(line)));
  const onError = (error: unknown) =>
    log?.(`error: ${error instanceof Error ? error.stack || `${error.name}: ${error.message}` : String(error)}`);
  const path = options.memory ? ":memory:" : (options.db ?? ".jobwire/dev.sqlite");
  const { db, store } = await openStore(path, options.memory ?? false);
  const writer = new GroupWriter(store, onError, undefined, options.memory ? undefined : await fileGuard(path));

  const storedKeys = store.getMeta("signingKeys");
  const keys: SigningKeys = options.signingKeys
    ? { ...options.signingKeys }
    : storedKeys
      ? (JSON.parse(storedKeys) as SigningKeys)
      : { ...DEV_CREDENTIALS.signingKeys };

  const maxEvents = options.maxEvents ?? 100_000;
  let eventsSincePrune = 0;
  // Pruned at start too, and as often as the bound asks: runs shorter than the interval add up.
  const pruneEvery = Math.max(1, Math.min(10_000, maxEvents));
  const emit = (event: BrokerEvent) => {
    writer.event(event);
    if (++eventsSincePrune >= pruneEvery) {
      eventsSincePrune = 0;
      writer.writeAfterEvents(() => store.pruneEvents(maxEvents));
    }
    if (options.onEvent) {
      try {
        options.onEvent(event);
      } catch (error) {
        onError(error);
      }
    }
    log?.(formatEvent(event));
  };

  const maxConcurrency = options.maxConcurrency ?? 256;
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const engine = new Engine({
    store,
    writer,
    emit,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    // A test's own fetch sees every delivery; otherwise http:// ones take the leaner client (on Bun).
    ...(options.fetch ? {} : { http: Http1Client.create() }),
    signingKey: () => keys.current,
    defaultTimeout: (options.defaultTimeout ?? 30) * 1000,
    maxConcurrency,
    onError,
  });
  const topics = new Map<string, TopicRecord>(store.topics().map((t) => [t.name, t]));
  const dedup = new Dedup(store, writer, options.dedupWindow ?? 600_000);
  const publisher = new Publisher(engine, writer, dedup, topics, maxBodyBytes);
  const schedules = new Schedules(store, writer, publisher, onError);

  const core: BrokerCore = {
    store, writer, engine, publisher, dedup, schedules, topics, keys,
    token: options.token ?? DEV_CREDENTIALS.token,
    maxBodyBytes,
    onError,
    async rotateKeys() {
      // Used once stored: keys a restart would not have must never sign a delivery.
      const rotated = { current: keys.next, next: ids.signingKey() };
      await writer.commit(() => store.putMeta("signingKeys", JSON.stringify(rotated)));
      Object.assign(keys, rotated);
      return { ...keys };
    },
  };
  const app = createBrokerApp(core, { maxConcurrency });

  // The ports are bound before anything is resumed: a broker that cannot start (its port taken,
  // often by another broker on the same file) must not deliver that file's messages first. A
  // request that arrives before the resume waits for it.
  let opened: () => void = () => {};
  let open = false;
  let failed = false;
  const opening = new Promise<void>((resolve) => (opened = resolve));
  const notStarted = () => Response.json({ error: "the broker could not start" }, { status: 503 });
  // A Host header that makes no URL (`a/b`, or none on HTTP/1.0) leaves the request's URL relative:
  // nothing in it could be routed.
  const badHost = (request: Request) =>
    Response.json({ error: `invalid request: its Host header (${JSON.stringify(request.headers.get("host"))}) does not make a URL` }, { status: 400 });
  const fetchWhenOpen = (request: Request, env: ServeEnv) => {
    if (!URL.canParse(request.url)) return badHost(request);
    return open ? app.fetch(request, env) : opening.then(() => (failed ? notStarted() : app.fetch(request, env)));
  };

  const host = options.host?.trim() || "127.0.0.1"; // empty would mean every interface
  let server;
  let redisRest: RedisRest | undefined;
  try {
    server = await serve({ fetch: fetchWhenOpen, port: options.port ?? 8080, hostname: host, maxBodyBytes: maxBodyBytes * 10 + 1024 * 1024 });
    if (options.redis) {
      // Loaded only when asked for: the Redis client is most of the broker's start-up time otherwise.
      const { startRedisRest } = await import("./redis-rest.ts");
      redisRest = await startRedisRest({
        redisUrl: options.redis.url,
        host,
        port: options.redis.port ?? 8079,
        ...(options.redis.token ? { token: options.redis.token } : {}),
        ...(options.redis.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.redis.commandTimeoutMs }),
        log: log ?? false,
      });
    }
    try {
      store.pruneEvents(maxEvents);
      engine.recover();
      schedules.load();
    } catch (error) {
      // Such as a file whose pages are damaged: readable at open, not when its rows are read.
      throw new Error(`cannot use the database ${path}: ${(error as Error).message}`, { cause: error });
    }
  } catch (error) {
    // Requests that waited for the start are answered, so closing the server does not wait on them.
    failed = true;
    opened();
    await redisRest?.close();
    await server?.close();
    await engine.stop(0);
    schedules.close();
    writer.close();
    db.close();
    throw error;
  }
  open = true;
  opened();
  const url = localUrl(host, server.port);

  let closing: Promise<void> | undefined;
  return {
    url,
    port: server.port,
    token: core.token,
    get signingKeys() {
      return { ...keys };
    },
    app,
    ...(redisRest ? { redis: { url: redisRest.url, port: redisRest.port, token: redisRest.token } } : {}),
    stats: () => ({ pending: engine.live.size, inFlight: engine.inFlight, delayed: engine.delayed }),
    close() {
      closing ??= (async () => {
        await redisRest?.close();
        schedules.close();
        const serverClosed = server.close();
        await engine.stop(CLOSE_GRACE_MS);
        writer.close();
        db.close();
        await Promise.race([serverClosed, new Promise((r) => setTimeout(r, 100))]);
      })();
      return closing;
    },
  };
}

async function ensureDirectory(file: string): Promise<void> {
  const slash = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
  if (slash <= 0) return;
  const { mkdir } = await import("node:fs/promises");
  await mkdir(file.slice(0, slash), { recursive: true });
}

/**
 * Throws once the database file is no longer the one opened (removed, or replaced by another):
 * SQLite would go on writing to the open, unlinked file, and acknowledged messages would vanish
 * with the process. Checked before every commit an acknowledgement waits for; once failed, always.
 */
async function fileGuard(path: string): Promise<() => void> {
  const { statSync } = await import("node:fs");
  const opened = statSync(path);
  let lost: Error | undefined;
  return () => {
    if (!lost) {
      const now = statSync(path, { throwIfNoEntry: false });
      if (!now || now.ino !== opened.ino || now.dev !== opened.dev) {
        lost = new Error(`the database file ${path} was removed or replaced while the broker ran: nothing more is stored; restart jobwire dev`);
      }
    }
    if (lost) throw lost;
  };
}
