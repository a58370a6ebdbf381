// A local Upstash Redis REST endpoint (`jobwire dev --redis <url>`) in front of a real redis-server,
// so the unchanged `@upstash/redis` client, and `upstashRedisStore`, work offline.
//
// Why @redis/client (node-redis core) speaks RESP to Redis, and not another client:
// - It runs unchanged on Node, Bun and Deno (npm:), has no dependencies of its own, and the broker
//   already depends on it.
// - With `RESP: 2` its `sendCommand` passes the arguments through as given and returns the raw
//   reply with no per-command transforms, so any command the Upstash client sends (including ones
//   this file never heard of) keeps Redis's own reply shape. A `typeMapping` turns bulk strings into
//   Buffers, which keeps values binary-safe for `Upstash-Encoding: base64`, while simple strings
//   stay JS strings, so `+OK` and a stored "OK" can still be told apart. Errors nested in arrays
//   (EXEC, EVAL) arrive in place as `ErrorReply`s.
// - Commands queued in the same tick go out in one socket write: a `/pipeline` or `/multi-exec`
//   request is one round trip to Redis, and a `MULTI ... EXEC` block is written contiguously.
// ioredis also works, but its reply transformers are keyed by the exact command name (a lower-case
// `hgetall` comes back as an object) and binary replies need its separate `*Buffer` entry points;
// it also brings several dependencies. Bun's built-in client speaks only RESP3 (maps, booleans,
// doubles the REST API never returns) and only on Bun. A hand-written RESP parser would be one more
// thing to keep correct with no gain over these.
import { type RedisRestAppOptions, createRedisRestApp } from "./redis-rest-app.ts";
import { connectRedis } from "./redis-rest-connection.ts";
import { localUrl } from "../local-url.ts";
import { PortInUseError, serve } from "./server.ts";

export { createRedisRestApp, type RedisRestAppOptions } from "./redis-rest-app.ts";
export { connectRedis, type RedisRunner, RedisUnavailableError } from "./redis-rest-connection.ts";

/**
 * The token the local endpoint expects when none is given: a fixed, public development value
 * (like the QStash dev token), never a secret. Print it as `UPSTASH_REDIS_REST_TOKEN`.
 */
export const REDIS_REST_DEV_TOKEN = "jobwire-dev-redis-rest-token";

/** Options of {@link startRedisRest}. */
export interface RedisRestOptions {
  /** The Redis to serve, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** Port to listen on; 0 picks a free one. @default 8079 */
  port?: number;
  /** The Bearer token clients must send. @default {@link REDIS_REST_DEV_TOKEN} */
  token?: string;
  /** Receives a line when Redis goes away or comes back, and on unexpected errors; `false` for silence. @default console.log */
  log?: ((line: string) => void) | false;
  /** Largest request body accepted, in bytes. @default 64 MB */
  maxBodyBytes?: number;
  /** How long a request waits for Redis's reply before a 500 (a stalled Redis). @default 5000 */
  commandTimeoutMs?: number;
}

/** A running REST endpoint. */
export interface RedisRest {
  /** Base URL, e.g. `http://127.0.0.1:8079` (the `UPSTASH_REDIS_REST_URL`). */
  url: string;
  port: number;
  /** The `UPSTASH_REDIS_REST_TOKEN`. */
  token: string;
  /** Stops serving and closes the Redis connections. */
  close(): Promise<void>;
}

/**
 * Connects to Redis and serves the Upstash Redis REST API in front of it. Rejects when Redis cannot
 * be reached at start; later outages answer 500 until the connection is back.
 *
 * @example
 * const rest = await startRedisRest({ redisUrl: "redis://127.0.0.1:6379" });
 * const redis = new Redis({ url: rest.url, token: rest.token }); // from @upstash/redis
 */
export async function startRedisRest(options: RedisRestOptions): Promise<RedisRest> {
  const host = options.host?.trim() || "127.0.0.1"; // empty would mean every interface
  const token = options.token ?? REDIS_REST_DEV_TOKEN;
  const log = options.log === false ? () => {} : (options.log ?? console.log);
  const redis = await connectRedis(options.redisUrl, {
    log,
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
  });
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const appOptions: RedisRestAppOptions = {
    redis,
    token,
    maxBodyBytes,
    onError: (error) => log(`redis rest: ${error instanceof Error ? error.message : String(error)}`),
  };
  const app = createRedisRestApp(appOptions);
  try {
    const server = await serve({ fetch: app.fetch, hostname: host, port: options.port ?? 8079, maxBodyBytes });
    return {
      url: localUrl(host, server.port),
      port: server.port,
      token,
      async close() {
        await server.close();
        await redis.close();
      },
    };
  } catch (error) {
    await redis.close();
    if (error instanceof PortInUseError) error.message = error.message.replace("--port", "--redis-port");
    throw error;
  }
}
