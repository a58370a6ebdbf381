// The REST endpoint driven by the unchanged @upstash/redis client, against a real redis-server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "@upstash/redis";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

let n = 0;
const key = (name: string) => `${name}:${n++}`;

for (const autoPipelining of [true, false]) {
  describe(`@upstash/redis client, auto-pipelining ${autoPipelining ? "on" : "off"} (real redis-server)`, () => {
    let redis: Redis;
    beforeAll(() => {
      redis = stack.client({ enableAutoPipelining: autoPipelining });
    });

    test("strings, numbers and nulls", async () => {
      const k = key("s");
      expect(await redis.set(k, "hello wörld ✓")).toBe("OK");
      expect(await redis.get<string>(k)).toBe("hello wörld ✓");
      expect(await redis.strlen(k)).toBe(Buffer.byteLength("hello wörld ✓"));
      expect(await redis.get(key("missing"))).toBeNull();
      const counter = key("n");
      expect(await redis.incr(counter)).toBe(1);
      expect(await redis.incrby(counter, 41)).toBe(42);
      expect(await redis.incrbyfloat(counter, 0.5)).toBe(42.5);
      expect(await redis.del(counter, key("missing"))).toBe(1);
      expect(await redis.set(k, "x", { nx: true })).toBeNull();
    });

    test("hashes, lists, sets and sorted sets (nested replies)", async () => {
      const h = key("h");
      expect(await redis.hset(h, { a: "1", b: "two" })).toBe(2);
      expect(await redis.hgetall(h)).toEqual({ a: 1, b: "two" });
      expect(await redis.hmget(h, "a", "b", "c")).toEqual({ a: 1, b: "two", c: null });
      const l = key("l");
      await redis.rpush(l, "x", "y", "z");
      expect(await redis.lrange(l, 0, -1)).toEqual(["x", "y", "z"]);
      const z = key("z");
      await redis.zadd(z, { score: 1, member: "one" }, { score: 2.5, member: "two" });
      expect(await redis.zrange(z, 0, -1, { withScores: true })).toEqual(["one", 1, "two", 2.5]);
      const s = key("set");
      await redis.sadd(s, "only");
      expect(await redis.smembers(s)).toEqual(["only"]);
      const [cursor, keys] = await redis.scan(0, { match: `${h}*`, count: 1000 });
      expect(String(cursor)).toMatch(/^\d+$/);
      expect(Array.isArray(keys)).toBe(true);
    });

    test("JSON values are serialized and deserialized by the client", async () => {
      const k = key("json");
      const value = { id: 7, tags: ["a", "b"], nested: { ok: true, none: null } };
      await redis.set(k, value);
      expect(await redis.get(k)).toEqual(value);
      // The documented client gotcha, kept as is: a string that looks like a number comes back a number.
      await redis.set(k, "123");
      expect(await redis.get(k)).toBe(123);
      const raw = stack.client({ enableAutoPipelining: autoPipelining, automaticDeserialization: false });
      expect(await raw.get(k)).toBe("123");
    });

    test("explicit pipelines run every command, in order, after an error too", async () => {
      const k = key("p");
      const p = redis.pipeline();
      p.set(k, "a");
      p.incr(k);
      p.append(k, "b");
      p.get(k);
      await expect(p.exec()).rejects.toThrow("ERR value is not an integer or out of range");
      expect(await redis.get(k)).toBe("ab");
      const q = redis.pipeline();
      q.set(k, 1);
      q.incr(k);
      q.get(k);
      expect(await q.exec()).toEqual(["OK", 2, 2]);
      const r = redis.pipeline();
      r.set(k, "a");
      r.incr(k);
      r.get(k);
      const results = await r.exec({ keepErrors: true });
      expect(results[1]!.error).toContain("ERR value is not an integer");
      expect(results[2]!.result).toBe("a");
    });

    test("transactions (multi-exec)", async () => {
      const k = key("tx");
      const tx = redis.multi();
      tx.set(k, 10);
      tx.incr(k);
      tx.get(k);
      tx.lrange(key("none"), 0, -1);
      expect(await tx.exec()).toEqual(["OK", 11, 11, []]);
      // A runtime error in a transaction fails that command only; the others are applied.
      const bad = redis.multi();
      bad.set(k, "text");
      bad.incr(k);
      bad.set(`${k}:after`, "applied");
      await expect(bad.exec()).rejects.toThrow("ERR value is not an integer or out of range");
      expect(await redis.get(`${k}:after`)).toBe("applied");
    });

    test("scripts: eval, evalsha, and the NOSCRIPT fallback of createScript", async () => {
      expect(await redis.eval("return {1, 'two', {3, 'four'}, KEYS[1], ARGV[1]}", ["k"], ["v"])).toEqual([1, "two", [3, "four"], "k", "v"]);
      await redis.scriptFlush();
      await expect(redis.evalsha("0123456789012345678901234567890123456789", [], [])).rejects.toThrow(/NOSCRIPT/);
      const script = redis.createScript<number>("return redis.call('INCRBY', KEYS[1], ARGV[1])");
      const k = key("script");
      expect(await script.exec([k], ["5"])).toBe(5);
      expect(await script.exec([k], ["5"])).toBe(10);
      const sha = await redis.scriptLoad("return 'loaded'");
      expect(await redis.evalsha(sha, [], [])).toBe("loaded");
    });

    test("Redis errors arrive verbatim", async () => {
      const k = key("wrong");
      await redis.set(k, "string");
      await expect(redis.lpush(k, "x")).rejects.toThrow("WRONGTYPE Operation against a key holding the wrong kind of value");
      await expect(redis.eval("return redis.error_reply('MYERR custom')", [], [])).rejects.toThrow("MYERR custom");
    });

    test("refused commands are errors, not hangs", async () => {
      await expect(redis.exec(["blpop", key("l"), 0])).rejects.toThrow(/ERR .*not supported/);
      await expect(redis.exec(["subscribe", "channel"])).rejects.toThrow(/ERR .*not supported/);
      await expect(redis.exec(["select", 1])).rejects.toThrow(/ERR .*not supported/);
      expect(await redis.exec(["select", 0])).toBe("OK");
    });
  });
}

test("auto-pipelining batches concurrent calls into /pipeline requests", async () => {
  const redis = stack.client({ enableAutoPipelining: true });
  const k = key("auto");
  const before = stack.requests.length;
  const results = await Promise.all([redis.set(k, 1), redis.incr(k), redis.incr(k), redis.get(k)]);
  expect(results).toEqual(["OK", 2, 3, 3]);
  const made = stack.requests.slice(before);
  expect(made.every((path) => path === "/pipeline")).toBe(true);
  expect(made.length).toBeLessThan(4);
});

test("without auto-pipelining each call is one request to /", async () => {
  const redis = stack.client({ enableAutoPipelining: false });
  const before = stack.requests.length;
  await redis.set(key("plain"), "v");
  await redis.get(key("plain"));
  expect(stack.requests.slice(before)).toEqual(["/", "/"]);
});
