// The Upstash Redis REST API (the part `@upstash/redis` uses) as a Hono app in front of a
// `RedisRunner`: `POST /`, `POST /pipeline`, `POST /multi-exec`. The statuses and encodings follow
// shared/upstash-redis-rest.md.
import { ErrorReply } from "@redis/client";
import { type Context, Hono } from "hono";
import { BodyTooLargeError, readBody } from "../body.ts";
import { isSelectZero, MalformedRequestError, parseBatch, parseCommand, parseJson, refusal } from "./redis-rest-command.ts";
import { type RedisRunner, RedisUnavailableError } from "./redis-rest-connection.ts";
import { encodeReply, replyJson, type JsonReply } from "./redis-rest-reply.ts";

/** Options of {@link createRedisRestApp}. */
export interface RedisRestAppOptions {
  /** Where the commands run (see `connectRedis`). */
  redis: RedisRunner;
  /** The token clients must send as `Authorization: Bearer <token>`. */
  token: string;
  /** Receives unexpected errors (answered 500); Redis outages are reported by the connection instead. */
  onError?: (error: unknown) => void;
  /** Largest request body read, in bytes; a larger one is answered 413 without being held whole. @default 64 MB */
  maxBodyBytes?: number;
}

type Entry = { result: JsonReply } | { error: string };

/**
 * The REST API as a Hono app, for in-process use (`app.request()`) or behind any server
 * (`startRedisRest` serves it). Every response is JSON; it never throws.
 */
export function createRedisRestApp(options: RedisRestAppOptions): Hono {
  const { redis } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const decoder = new TextDecoder();
  const text = async (c: Context) => decoder.decode(await readBody(c.req.raw, maxBodyBytes));
  const app = new Hono();
  // Results go through replyJson: integers past a JS number's exact range keep every digit.
  const answer = (c: Context, body: unknown) => c.body(replyJson(body), 200, { "content-type": "application/json" });

  // Before anything else, so an unauthenticated caller learns nothing and no body is read.
  app.use("*", async (c, next) => {
    // A Host header that makes no URL (`a/b`) leaves the request's URL relative: nothing routes it.
    if (!URL.canParse(c.req.url)) return c.json({ error: "invalid request: its Host header does not make a URL" }, 400);
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!sameText(token, options.token)) return c.json({ error: "Unauthorized" }, 401);
    await next();
  });

  app.post("/", async (c) => {
    const command = parseCommand(parseJson(await text(c)));
    const refused = refusal(command);
    if (refused) return c.json({ error: refused }, 400);
    if (isSelectZero(command)) return c.json({ result: "OK" });
    try {
      return answer(c, { result: encodeReply(await redis.command(command), base64(c)) });
    } catch (error) {
      if (error instanceof ErrorReply) return c.json({ error: error.message }, 400);
      throw error;
    }
  });

  app.post("/pipeline", async (c) => {
    const commands = parseBatch(parseJson(await text(c)));
    const refusals = commands.map(refusal);
    // A refused command gets its error in place; the others still run, as in any pipeline. A
    // `SELECT 0` is answered in place too, without reaching Redis.
    const sent = (i: number) => refusals[i] === undefined && !isSelectZero(commands[i]!);
    const allowed = commands.filter((_, i) => sent(i));
    const replies = allowed.length > 0 ? await redis.pipeline(allowed) : [];
    const encode = base64(c);
    let next = 0;
    return answer(
      c,
      refusals.map((refused, i) =>
        refused !== undefined ? { error: refused } : sent(i) ? entry(replies[next++], encode) : { result: "OK" },
      ),
    );
  });

  app.post("/multi-exec", async (c) => {
    const commands = parseBatch(parseJson(await text(c)));
    const refused = commands.map(refusal).find((reason) => reason !== undefined);
    // Refused like a command Redis rejects at queue time: the whole transaction is discarded.
    if (refused) return c.json({ error: `EXECABORT Transaction discarded because of previous errors. ${refused}` }, 400);
    try {
      const sent = commands.filter((command) => !isSelectZero(command));
      const replies = sent.length > 0 ? await redis.transaction(sent) : [];
      const encode = base64(c);
      let next = 0;
      return answer(c, commands.map((command) => (isSelectZero(command) ? { result: "OK" } : entry(replies[next++], encode))));
    } catch (error) {
      if (error instanceof ErrorReply) return c.json({ error: error.message }, 400);
      throw error;
    }
  });

  for (const path of ["/", "/pipeline", "/multi-exec"]) {
    app.all(path, (c) => c.json({ error: `method ${c.req.method} not allowed: send POST ${path}` }, 405));
  }
  app.notFound((c) => c.json({ error: `unknown path ${c.req.path}: use POST /, /pipeline or /multi-exec` }, 404));
  app.onError((error, c) => {
    if (error instanceof MalformedRequestError) return c.json({ error: error.message }, 400);
    if (error instanceof BodyTooLargeError) return c.json({ error: `request body is over the limit of ${error.limit} bytes` }, 413);
    // Outages are reported once by the connection, not once per request.
    if (error instanceof RedisUnavailableError) return c.json({ error: error.message }, 500);
    options.onError?.(error);
    return c.json({ error: `internal error: ${error instanceof Error ? error.message : String(error)}` }, 500);
  });
  return app;
}

/** One `/pipeline` or `/multi-exec` entry. */
function entry(reply: unknown, base64: boolean): Entry {
  if (reply instanceof ErrorReply) return { error: reply.message };
  return { result: encodeReply(reply, base64) };
}

function base64(c: Context): boolean {
  return c.req.header("upstash-encoding")?.toLowerCase() === "base64";
}

/** Compares without an early exit, so response timing does not reveal how much of a token matched. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i]!;
  return diff === 0;
}
