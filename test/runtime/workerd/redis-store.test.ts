// upstashRedisStore in real workerd (Miniflare): a Worker that builds the store and its Redis client
// per request from its bindings (`@upstash/redis/cloudflare`), talking to `jobwire dev --redis` in
// front of a real redis-server. The broker delivers two messages for each idempotency key at once;
// each key's effect (an INCR) must happen once, and the store must hold its done entry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { type Broker, createBroker } from "../../../src/broker/index.ts";
import { type RedisServer, startRedisServer } from "../../helpers/redis-server.ts";
import { waitFor } from "../../helpers/wait.ts";
import { events, randomKeys, waitDelivered } from "../harness.ts";
import { bundle, expectNoNodeImports, freePort, startWorkerd, type Workerd } from "./workerd.ts";

describe("upstashRedisStore in workerd (Miniflare), through jobwire dev --redis", () => {
  let script = "";
  let redisServer: RedisServer;
  let broker: Broker;
  let redis: Redis;
  let mf: Workerd | undefined;
  let workerUrl = "";
  const lines: string[] = [];

  beforeAll(async () => {
    script = await bundle(join(import.meta.dir, "fixtures/redis-store-worker.ts"));
    redisServer = await startRedisServer();
    broker = await createBroker({ port: 0, host: "127.0.0.1", memory: true, log: false, signingKeys: randomKeys(), redis: { url: redisServer.url, port: 0 } });
    const rest = broker.redis!;
    redis = new Redis({ url: rest.url, token: rest.token, retry: { retries: 0 }, enableTelemetry: false });
    const port = await freePort();
    workerUrl = `http://127.0.0.1:${port}`;
    mf = await startWorkerd(
      script,
      {
        UPSTASH_REDIS_REST_URL: rest.url,
        UPSTASH_REDIS_REST_TOKEN: rest.token,
        QSTASH_CURRENT_SIGNING_KEY: broker.signingKeys.current,
        QSTASH_NEXT_SIGNING_KEY: broker.signingKeys.next,
      },
      port,
      lines,
    );
  }, 60_000);

  afterAll(async () => {
    await mf?.dispose();
    await broker?.close();
    await redisServer?.stop();
  });

  test("the bundle needs no Node polyfills", () => expectNoNodeImports(script));

  test("two messages per key, delivered at once: one effect per key, a done entry in Redis, both acknowledged", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `order-${i}-${crypto.randomUUID().slice(0, 8)}`);
    // Raw batch, no deduplication ids: the broker accepts both copies, so only the store stops the second.
    const batch = ids.flatMap((id) => [0, 1].map(() => ({ destination: `${workerUrl}/effect`, body: JSON.stringify({ id }) })));
    const response = await fetch(`${broker.url}/v2/batch`, {
      method: "POST",
      headers: { Authorization: `Bearer ${broker.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(batch),
    });
    expect(response.status).toBe(201);
    const messageIds = ((await response.json()) as { messageId: string }[]).map((m) => m.messageId);
    expect(new Set(messageIds).size).toBe(20);

    const states = await waitDelivered(broker, messageIds, 20_000);
    for (const id of messageIds) expect(states.get(id), lines.join("\n")).not.toContain("RETRY");
    for (const id of ids) {
      expect(await redis.get<number>(`count:${id}`)).toBe(1);
      const entry = await redis.get<{ state: string; result: unknown }>(`jobwire:idem:effect:${id}`);
      expect(entry).toMatchObject({ state: "done", result: { count: 1 } });
    }
  }, 40_000);

  test("Redis gone: the Worker answers 503 and runs nothing; back: the retry runs the job once", async () => {
    const id = `late-${crypto.randomUUID().slice(0, 8)}`;
    await redisServer.kill();
    let restarted = false;
    try {
      const published = await fetch(`${broker.url}/v2/publish/${workerUrl}/effect`, {
        method: "POST",
        headers: { Authorization: `Bearer ${broker.token}`, "Content-Type": "application/json", "Upstash-Retry-Delay": "300" },
        body: JSON.stringify({ id }),
      });
      expect(published.status).toBe(201);
      const { messageId } = (await published.json()) as { messageId: string };
      const error = await waitFor("a failed attempt", async () => (await events(broker, messageId)).find((e) => e.state === "ERROR"), 15_000);
      expect(error.responseStatus).toBe(503);
      await redisServer.restart();
      restarted = true;
      const states = await waitDelivered(broker, [messageId], 20_000);
      expect(states.get(messageId)).toContain("RETRY");
      expect(await redis.get<number>(`count:${id}`)).toBe(1);
    } finally {
      if (!restarted) await redisServer.restart();
    }
  }, 40_000);
});
