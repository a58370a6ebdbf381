// upstashRedisStore against a real redis-server through the local REST endpoint: the shared store
// suite unchanged (with the client's defaults and with its conveniences off), then what only this
// store has: key prefix, stored shapes, TTLs, requests per operation (one each, or shared under load),
// and outages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "@upstash/redis";
import { upstashRedisStore } from "../../adapters/upstash-redis.ts";
import { StoreUnavailableError } from "../../src/errors.ts";
import { DEFAULT_DONE_TTL_MS } from "../../src/idempotency.ts";
import { storeSuite } from "../store-suite.ts";
import { waitFor } from "../helpers/wait.ts";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

storeSuite("upstashRedisStore (real redis-server, client defaults)", () => upstashRedisStore(stack.client()));
storeSuite("upstashRedisStore (real redis-server, no auto-pipelining, no deserialization)", () =>
  upstashRedisStore(stack.client({ enableAutoPipelining: false, automaticDeserialization: false })),
);

describe("upstashRedisStore specifics (real redis-server)", () => {
  let raw: Redis;
  beforeAll(() => {
    raw = stack.client({ enableAutoPipelining: false, automaticDeserialization: false });
  });
  let n = 0;
  const key = () => `spec-${n++}`;

  test("entries live under the prefix as JSON objects, never bare tokens", async () => {
    const store = upstashRedisStore(stack.client());
    const k = key();
    await store.claim(k, "msg_a", 10_000);
    const running = JSON.parse((await raw.get<string>(`jobwire:idem:${k}`))!);
    expect(running).toEqual({ state: "running", owner: "msg_a", until: expect.any(Number) });
    await store.complete(k, "msg_a", { n: "123" });
    const done = JSON.parse((await raw.get<string>(`jobwire:idem:${k}`))!);
    expect(done).toEqual({ state: "done", result: { n: "123" }, at: expect.any(Number) });
    // Times come from Redis's clock.
    const [seconds] = await raw.time();
    expect(Math.abs(done.at - seconds * 1000)).toBeLessThan(5_000);
    expect(running.until - done.at).toBeGreaterThan(9_000);
  });

  test("the prefix option", async () => {
    const store = upstashRedisStore(stack.client(), { prefix: "custom:" });
    const k = key();
    await store.claim(k, "msg_a", 10_000);
    expect(await raw.exists(`custom:${k}`)).toBe(1);
    expect(await raw.exists(`jobwire:idem:${k}`)).toBe(0);
    // Another prefix is another namespace.
    expect(await upstashRedisStore(stack.client()).claim(k, "msg_b", 10_000)).toEqual({ state: "acquired" });
  });

  test("TTLs: the lease while running, 7 days or the option or the argument when done", async () => {
    const k = key();
    const store = upstashRedisStore(stack.client());
    await store.claim(k, "msg_a", 30_000);
    expect(await raw.pttl(`jobwire:idem:${k}`)).toBeWithin(25_000, 30_001);
    await store.complete(k, "msg_a", "r");
    expect(await raw.pttl(`jobwire:idem:${k}`)).toBeWithin(DEFAULT_DONE_TTL_MS - 5_000, DEFAULT_DONE_TTL_MS + 1);

    const short = upstashRedisStore(stack.client(), { ttlMs: 60_000 });
    const k2 = key();
    await short.claim(k2, "msg_a", 1_000);
    await short.complete(k2, "msg_a", "r");
    expect(await raw.pttl(`jobwire:idem:${k2}`)).toBeWithin(55_000, 60_001);

    const k3 = key();
    await short.claim(k3, "msg_a", 1_000);
    await short.complete(k3, "msg_a", "r", 5_000);
    expect(await raw.pttl(`jobwire:idem:${k3}`)).toBeWithin(1_000, 5_001);

    // Fractions are rounded up, and a zero lease still expires rather than failing.
    const k4 = key();
    expect(await store.claim(k4, "msg_a", 0.4)).toEqual({ state: "acquired" });
    await expect(store.claim(key(), "msg_a", Number.NaN)).rejects.toThrow(RangeError);
  });

  test("owners with quotes, slashes and non-ASCII text are matched exactly", async () => {
    const store = upstashRedisStore(stack.client());
    const k = key();
    const owner = `msg "quoted" / back\\slash é ✓ 123`;
    expect(await store.claim(k, owner, 10_000)).toEqual({ state: "acquired" });
    expect(await store.claim(k, owner, 10_000)).toEqual({ state: "acquired" });
    expect(await store.claim(k, "123", 10_000)).toEqual({ state: "running", owner });
    await store.complete(k, owner, "ok");
    expect(await store.claim(k, "123", 10_000)).toEqual({ state: "done", result: "ok" });
  });

  test("each operation is one HTTP request once the scripts are loaded", async () => {
    const store = upstashRedisStore(stack.client({ enableAutoPipelining: false }));
    await store.claim(key(), "warm", 1_000);
    const before = stack.requests.length;
    for (let i = 0; i < 10; i++) {
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      await store.complete(k, "msg_a", i);
    }
    await store.release(key(), "msg_a");
    expect(stack.requests.length - before).toBe(21);
  });

  test("operations made in one tick share one request", async () => {
    const store = upstashRedisStore(stack.client({ enableAutoPipelining: false }));
    await store.claim(key(), "warm", 1_000);
    const before = stack.requests.length;
    const keys = Array.from({ length: 10 }, key);
    const claims = await Promise.all(keys.map((k) => store.claim(k, "msg_a", 10_000)));
    expect(claims).toEqual(keys.map(() => ({ state: "acquired" })));
    expect(stack.requests.slice(before)).toEqual(["/pipeline"]);
  });

  test("operations made while every request is in flight wait, then go together in the next one", async () => {
    const store = upstashRedisStore(stack.client({ enableAutoPipelining: false }), { maxInFlight: 2 });
    await store.claim(key(), "warm", 1_000);
    const before = stack.requests.length;
    stack.server.pause();
    try {
      // Each operation in its own macrotask, as deliveries arriving one by one make them.
      const operations: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        operations.push(store.claim(key(), `msg_${i}`, 10_000));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Two requests are out (Redis answers neither); the other six operations wait in this process.
      expect(stack.requests.length - before).toBe(2);
      stack.server.resume();
      expect(await Promise.all(operations)).toEqual(operations.map(() => ({ state: "acquired" })));
    } finally {
      stack.server.resume();
    }
    // The six waiting operations went in one request once a slot was free.
    expect(stack.requests.length - before).toBe(3);
  });

  test("a request Redis does not answer in time fails its operations and frees its slot; the retry takes the late claim over", async () => {
    const store = upstashRedisStore(stack.client(), { maxInFlight: 1, requestTimeoutMs: 200 });
    await store.claim(key(), "warm", 1_000);
    const [k1, k2] = [key(), key()];
    stack.server.pause();
    let outcomes: unknown[];
    try {
      const first = store.claim(k1, "msg_a", 10_000).then(() => undefined, (e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = store.claim(k2, "msg_b", 10_000).then(() => undefined, (e: unknown) => e); // waits for the slot
      outcomes = await Promise.all([first, second]);
    } finally {
      stack.server.resume();
    }
    for (const error of outcomes) {
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(/did not answer within 200 ms/);
    }
    // The first claim reached Redis after all: the same message's retry takes it over, another waits.
    await waitFor("the late claim to land", async () => (await raw.exists(`jobwire:idem:${k1}`)) === 1, 5_000);
    expect(await store.claim(k1, "msg_other", 10_000)).toEqual({ state: "running", owner: "msg_a" });
    expect(await store.claim(k1, "msg_a", 10_000)).toEqual({ state: "acquired" });
  });

  test("something other than an @upstash/redis client is refused at once, naming what is expected", () => {
    for (const wrong of [undefined, {}, { get: () => null }]) {
      expect(() => upstashRedisStore(wrong as unknown as Redis)).toThrow(/expected an @upstash\/redis `Redis` instance/);
    }
  });

  test("requestTimeoutMs must be a positive number of milliseconds", () => {
    for (const requestTimeoutMs of [0, -5, Number.NaN]) {
      expect(() => upstashRedisStore(stack.client(), { requestTimeoutMs })).toThrow(RangeError);
    }
  });

  test("maxInFlight must be a whole number of requests, at least 1, or Infinity", () => {
    for (const maxInFlight of [0, -1, 1.5, Number.NaN]) {
      expect(() => upstashRedisStore(stack.client(), { maxInFlight })).toThrow(RangeError);
    }
    expect(() => upstashRedisStore(stack.client(), { maxInFlight: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  test("a command failing inside a shared request fails only its own operation", async () => {
    const store = upstashRedisStore(stack.client());
    const broken = key();
    await raw.hset(`jobwire:idem:${broken}`, { not: "a string" }); // GET in the script → WRONGTYPE
    const keys = [key(), broken, key()];
    const before = stack.requests.length;
    const results = await Promise.allSettled(keys.map((k) => store.claim(k, "msg_a", 10_000)));
    expect(stack.requests.length - before).toBe(1);
    expect(results[0]).toEqual({ status: "fulfilled", value: { state: "acquired" } });
    expect(results[2]).toEqual({ status: "fulfilled", value: { state: "acquired" } });
    expect(results[1]!.status).toBe("rejected");
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/WRONGTYPE/);
  });

  test("concurrent claims while Redis does not know the scripts yet: still exactly one owner", async () => {
    await raw.scriptFlush();
    const store = upstashRedisStore(stack.client());
    const k = key();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claim(k, `msg_${i}`, 10_000)));
    expect(results.filter((r) => r.state === "acquired")).toHaveLength(1);
  });

  test("a store that cannot be reached throws StoreUnavailableError with the cause", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const url = `http://127.0.0.1:${closed.port}`;
    await closed.stop(true);
    const store = upstashRedisStore(new Redis({ url, token: "t", retry: { retries: 0 }, enableTelemetry: false }));
    for (const operation of [() => store.claim("k", "o", 1_000), () => store.complete("k", "o", 1), () => store.release("k", "o")]) {
      const error = await operation().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(/^idempotency store \(Upstash Redis\) unavailable/);
      expect((error as Error).cause).toBeDefined();
    }
    // Operations sharing the failed request each fail with it.
    const shared = await Promise.allSettled([store.claim("a", "o", 1_000), store.complete("b", "o", 1), store.release("c", "o")]);
    for (const result of shared) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }
  });

  test("Redis down behind the endpoint → StoreUnavailableError; back → the store works again", async () => {
    const store = upstashRedisStore(stack.client());
    const k = key();
    await store.claim(k, "msg_a", 10_000);
    await stack.server.kill();
    const error = await store.claim(key(), "msg_b", 10_000).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/unreachable/);
    await stack.server.restart();
    // The restarted Redis is empty (nothing persisted), and it no longer knows the scripts.
    await waitFor("the store to answer again", () => store.claim(k, "msg_b", 10_000).then(() => true, () => false), 10_000);
    expect(await store.claim(k, "msg_c", 10_000)).toEqual({ state: "running", owner: "msg_b" });
  });
});
