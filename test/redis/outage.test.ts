// `startRedisRest` itself, and Redis outages behind it: a 500 JSON error while Redis is down, the
// endpoint still serving, and recovery once redis-server is back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "@upstash/redis";
import { REDIS_REST_DEV_TOKEN, type RedisRest, startRedisRest } from "../../src/broker/redis-rest.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { waitFor } from "../helpers/wait.ts";

let server: RedisServer;
let rest: RedisRest;
const lines: string[] = [];
beforeAll(async () => {
  server = await startRedisServer();
  rest = await startRedisRest({ redisUrl: server.url, port: 0, log: (line) => lines.push(line) });
});
afterAll(async () => {
  await rest?.close();
  await server?.stop();
});

const post = (path: string, body: unknown) =>
  fetch(rest.url + path, { method: "POST", headers: { authorization: `Bearer ${rest.token}` }, body: JSON.stringify(body) });

test("a body over maxBodyBytes is a JSON 413, declared or streamed, and nothing of it runs", async () => {
  const small = await startRedisRest({ redisUrl: server.url, port: 0, log: false, maxBodyBytes: 1024 });
  try {
    const big = JSON.stringify(["set", "o:big", "x".repeat(4096)]);
    const headers = { authorization: `Bearer ${small.token}` };
    const declared = await fetch(small.url, { method: "POST", headers, body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: "request body is over the limit of 1024 bytes" });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const streamed = await fetch(`${small.url}/pipeline`, { method: "POST", headers, body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get("content-type")).toContain("application/json");
    const check = await fetch(small.url, { method: "POST", headers, body: JSON.stringify(["exists", "o:big"]) });
    expect(await check.json()).toEqual({ result: 0 });
  } finally {
    await small.close();
  }
});

test("SELECT 0 is the served database, whichever the URL names: it never switches a connection", async () => {
  const onDb3 = await startRedisRest({ redisUrl: `${server.url}/3`, port: 0, log: false });
  try {
    const call = async (path: string, body: unknown) =>
      (await fetch(onDb3.url + path, { method: "POST", headers: { authorization: `Bearer ${onDb3.token}` }, body: JSON.stringify(body) })).json();
    expect(await call("/", ["set", "o:db3", "here"])).toEqual({ result: "OK" });
    expect(await call("/", ["select", "0"])).toEqual({ result: "OK" });
    expect(await call("/pipeline", [["select", "0"], ["get", "o:db3"]])).toEqual([{ result: "OK" }, { result: "here" }]);
    expect(await call("/multi-exec", [["select", "0"], ["get", "o:db3"]])).toEqual([{ result: "OK" }, { result: "here" }]);
    expect(await call("/", ["get", "o:db3"])).toEqual({ result: "here" });
    // Redis's own database 0 never saw it.
    expect(await post("/", ["exists", "o:db3"]).then((r) => r.json())).toEqual({ result: 0 });
  } finally {
    await onDb3.close();
  }
});

test("startRedisRest serves on loopback with the documented dev token by default", async () => {
  expect(rest.url).toBe(`http://127.0.0.1:${rest.port}`);
  expect(rest.token).toBe(REDIS_REST_DEV_TOKEN);
  const redis = new Redis({ url: rest.url, token: rest.token, retry: { retries: 0 }, enableTelemetry: false });
  expect(await redis.set("o:k", "v")).toBe("OK");
  expect(await redis.get("o:k")).toBe("v");
});

test("Redis down → 500 JSON on every path, no crash; back → requests succeed again", async () => {
  await server.kill();
  for (const [path, body] of [["/", ["get", "o:k"]], ["/pipeline", [["get", "o:k"]]], ["/multi-exec", [["incr", "o:n"]]]] as const) {
    const res = await post(path, body);
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/) });
  }
  const redis = new Redis({ url: rest.url, token: rest.token, retry: { retries: 0 }, enableTelemetry: false });
  await expect(redis.get("o:k")).rejects.toThrow(/unreachable/);
  // Malformed requests are still answered as such while Redis is down.
  expect((await post("/", [])).status).toBe(400);

  await server.restart();
  await waitFor("the endpoint to reach Redis again", async () => (await post("/", ["ping"])).status === 200, 10_000);
  expect(await redis.set("o:k", "again")).toBe("OK");
  expect(await redis.incr("o:n")).toBe(1);
  const tx = redis.multi();
  tx.incr("o:n");
  expect(await tx.exec()).toEqual([2]);
  expect(lines.some((line) => /lost the shared connection/.test(line))).toBe(true);
  expect(lines.some((line) => /shared connection .* is back/.test(line))).toBe(true);
});

test("a stalled Redis (SIGSTOP): 500 JSON after the command timeout on every path; resumed: right replies again", async () => {
  const stalled = await startRedisServer();
  const quick = await startRedisRest({ redisUrl: stalled.url, port: 0, log: false, commandTimeoutMs: 300 });
  const send = (path: string, body: unknown) =>
    fetch(quick.url + path, { method: "POST", headers: { authorization: `Bearer ${quick.token}` }, body: JSON.stringify(body) });
  try {
    expect(await (await send("/", ["set", "s:a", "1"])).json()).toEqual({ result: "OK" });
    stalled.pause();
    for (const [path, body] of [["/", ["get", "s:a"]], ["/pipeline", [["get", "s:a"]]], ["/multi-exec", [["incr", "s:n"]]]] as const) {
      const started = Date.now();
      const res = await send(path, body);
      expect([path, res.status]).toEqual([path, 500]);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({ error: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+\/? did not answer within 300 ms/) });
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    stalled.resume();
    // The connections that timed out were replaced: no late reply reaches any of these requests.
    expect(await (await send("/", ["set", "s:b", "2"])).json()).toEqual({ result: "OK" });
    expect(await (await send("/", ["get", "s:a"])).json()).toEqual({ result: "1" });
    // The stalled transaction may or may not have run once Redis resumed ("the command may still run").
    const { result: n } = (await (await send("/", ["get", "s:n"])).json()) as { result: string | null };
    const before = Number(n ?? 0);
    expect([0, 1]).toContain(before);
    expect(await (await send("/pipeline", [["get", "s:b"], ["incr", "s:n"]])).json()).toEqual([{ result: "2" }, { result: before + 1 }]);
    expect(await (await send("/multi-exec", [["incr", "s:n"]])).json()).toEqual([{ result: before + 2 }]);
  } finally {
    stalled.resume();
    await quick.close();
    await stalled.stop();
  }
});

test("close() with a stalled Redis finishes within the command timeout instead of waiting for Redis", async () => {
  const stalled = await startRedisServer();
  const quick = await startRedisRest({ redisUrl: stalled.url, port: 0, log: false, commandTimeoutMs: 300 });
  try {
    stalled.pause();
    // A command in flight that Redis will not answer while stalled.
    const inFlight = fetch(quick.url + "/", { method: "POST", headers: { authorization: `Bearer ${quick.token}` }, body: '["get","c:a"]' }).catch(() => undefined);
    await Bun.sleep(50);
    const started = Date.now();
    await quick.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await inFlight;
  } finally {
    stalled.resume();
    await stalled.stop();
  }
});

test("a command that never finishes (an endless script) does not hold the endpoint: SCRIPT KILL gets through after the timeout", async () => {
  const busy = await startRedisServer();
  const lines: string[] = [];
  const quick = await startRedisRest({ redisUrl: busy.url, port: 0, log: (line) => lines.push(line), commandTimeoutMs: 500 });
  const send = (path: string, body: unknown) =>
    fetch(quick.url + path, { method: "POST", headers: { authorization: `Bearer ${quick.token}` }, body: JSON.stringify(body) });
  try {
    // Redis answers other connections with BUSY after this long (default 5 s) rather than not at all.
    expect(await (await send("/", ["config", "set", "busy-reply-threshold", "100"])).json()).toEqual({ result: "OK" });
    expect(await (await send("/", ["set", "e:a", "1"])).json()).toEqual({ result: "OK" });
    const endless = await send("/", ["eval", "while true do end", "0"]);
    expect(endless.status).toBe(500);
    expect(((await endless.json()) as { error: string }).error).toMatch(/did not answer within 500 ms/);
    // Without a new connection SCRIPT KILL would wait behind the script for ever.
    await waitFor("SCRIPT KILL to get through", async () => {
      const res = await send("/", ["script", "kill"]);
      return res.status === 200 && ((await res.json()) as { result: unknown }).result === "OK";
    }, 10_000);
    expect(await (await send("/", ["get", "e:a"])).json()).toEqual({ result: "1" });
    expect(await (await send("/multi-exec", [["incr", "e:n"]])).json()).toEqual([{ result: 1 }]);
    expect(lines.some((line) => /a command on the shared connection .* did not answer within 500 ms; opened a new connection/.test(line))).toBe(true);
  } finally {
    await quick.close();
    await busy.stop();
  }
}, 20_000);

test("a command timeout that is not a positive number is refused at start; a very long one works", async () => {
  for (const commandTimeoutMs of [0, -1, Number.NaN]) {
    await expect(startRedisRest({ redisUrl: server.url, port: 0, log: false, commandTimeoutMs })).rejects.toThrow(RangeError);
  }
  // 30 days: beyond setTimeout's range, which must not make every command time out at once.
  const patient = await startRedisRest({ redisUrl: server.url, port: 0, log: false, commandTimeoutMs: 30 * 86_400_000 });
  try {
    const res = await fetch(`${patient.url}/`, { method: "POST", headers: { authorization: `Bearer ${patient.token}` }, body: '["ping"]' });
    expect(await res.json()).toEqual({ result: "PONG" });
  } finally {
    await patient.close();
  }
});

test("startRedisRest rejects at start when Redis is not there, saying so", async () => {
  const gone = await startRedisServer();
  const url = gone.url;
  await gone.stop();
  const error = (await startRedisRest({ redisUrl: url, port: 0, log: false }).catch((e: unknown) => e)) as Error;
  expect(error.message).toMatch(/^cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*is redis-server running\?$/);
  // Said once, not wrapped in itself.
  expect(error.message.split("cannot connect to Redis")).toHaveLength(2);
});

test("a taken port is reported with the flag to change it", async () => {
  await expect(startRedisRest({ redisUrl: server.url, port: rest.port, log: false })).rejects.toThrow(/--redis-port/);
});

test("close() stops serving", async () => {
  const other = await startRedisRest({ redisUrl: server.url, port: 0, log: false });
  await other.close();
  await expect(fetch(`${other.url}/`, { method: "POST", body: "[]" })).rejects.toThrow();
});
