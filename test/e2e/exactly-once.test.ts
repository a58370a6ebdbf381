// Exactly-once effects, end to end: `jobwire dev` delivers to worker processes that share one
// idempotency store (upstashRedisStore) through the local Upstash REST endpoint in front of a real
// redis-server. Each handler's effect is an INCR in Redis; in every failure below it must be 1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { Client } from "@upstash/qstash";
import { Redis } from "@upstash/redis";
import { type Broker, type BrokerEvent, createBroker } from "../../src/broker/index.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

const fixture = join(import.meta.dir, "fixtures/effect-worker.ts");

interface WorkerProcess {
  url: string;
  port: number;
  lines: string[];
  proc: ReturnType<typeof Bun.spawn>;
  kill(): Promise<void>;
}

let redisServer: RedisServer;
let rest: { url: string; token: string };
let broker: Broker;
let qstash: Client;
let redis: Redis;
const events: BrokerEvent[] = [];
const workers: WorkerProcess[] = [];

async function startWorker(port = 0): Promise<WorkerProcess> {
  const proc = Bun.spawn([process.execPath, fixture], {
    env: {
      ...process.env,
      PORT: String(port),
      REDIS_REST_URL: rest.url,
      REDIS_REST_TOKEN: rest.token,
      QSTASH_CURRENT_SIGNING_KEY: broker.signingKeys.current,
      QSTASH_NEXT_SIGNING_KEY: broker.signingKeys.next,
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: string[] = [];
  (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const ready = await waitFor("the worker to be ready", () => lines.find((l) => l.startsWith("ready ")), 15_000);
  const url = ready.slice("ready ".length);
  const worker: WorkerProcess = {
    url,
    port: Number(new URL(url).port),
    lines,
    proc,
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  workers.push(worker);
  return worker;
}

const starts = (id: string) => workers.flatMap((w) => w.lines).filter((l) => l.startsWith(`start ${id} `));
const count = async (id: string) => Number((await redis.get<number>(`count:${id}`)) ?? 0);
const stateOf = (messageId: string) => events.filter((e) => e.messageId === messageId).map((e) => e.state);
const delivered = (messageId: string, timeoutMs = 15_000) =>
  waitFor(`message ${messageId} DELIVERED`, () => stateOf(messageId).includes("DELIVERED"), timeoutMs);

async function publish(url: string, id: string, holdMs = 0) {
  const { messageId } = await qstash.publish({
    url: `${url}/effect`,
    body: JSON.stringify({ id, holdMs }),
    headers: { "Content-Type": "application/json" },
    retries: 10,
    retryDelay: "200",
  });
  return messageId;
}

beforeAll(async () => {
  redisServer = await startRedisServer();
  broker = await createBroker({
    port: 0,
    memory: true,
    log: false,
    onEvent: (event) => events.push(event),
    redis: { url: redisServer.url, port: 0 }, // `jobwire dev --redis`: the Upstash REST endpoint
  });
  rest = broker.redis!;
  qstash = new Client({ baseUrl: broker.url, token: broker.token, enableTelemetry: false, retry: false });
  redis = new Redis({ url: rest.url, token: rest.token, retry: { retries: 0 }, enableTelemetry: false });
}, 30_000);

afterAll(async () => {
  for (const worker of workers) worker.proc.kill("SIGKILL");
  await broker?.close();
  await redisServer?.stop();
});

describe("exactly-once effects across processes (jobwire dev + redis-server + worker processes)", () => {
  test("the response is lost after the effect: the broker retries, the handler does not run again", async () => {
    const worker = await startWorker();
    // A TCP proxy that relays requests, but cuts the connection instead of relaying the first
    // response of each message: the worker has committed the effect, the broker sees a failure.
    const seen = new Set<string>();
    const proxy: Server = createServer((client: Socket) => {
      const upstream = connect(worker.port, "127.0.0.1");
      let cut = false;
      client.on("data", (chunk) => {
        const id = /upstash-message-id:\s*(\S+)/i.exec(chunk.toString("latin1"))?.[1];
        if (id && !seen.has(id)) {
          seen.add(id);
          cut = true;
        }
        upstream.write(chunk);
      });
      upstream.on("data", (chunk) => {
        if (cut) {
          client.destroy();
          upstream.destroy();
        } else client.write(chunk);
      });
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const messageId = await publish(proxyUrl, "lost-response");
      await delivered(messageId);
      expect(stateOf(messageId)).toContain("ERROR"); // the cut attempt failed in the broker's eyes
      expect(await count("lost-response")).toBe(1);
      expect(starts("lost-response")).toHaveLength(1);
    } finally {
      proxy.close();
    }
  }, 30_000);

  test("two messages with one idempotency key, delivered concurrently to two workers: one effect", async () => {
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    const [first, second] = await Promise.all([publish(a!.url, "concurrent", 600), publish(b!.url, "concurrent", 600)]);
    await Promise.all([delivered(first), delivered(second)]);
    expect(await count("concurrent")).toBe(1);
    expect(starts("concurrent")).toHaveLength(1);
  }, 30_000);

  test("a worker killed mid-handler: the retry takes the lease over and the effect happens once", async () => {
    const victim = await startWorker();
    const messageId = await publish(victim.url, "killed", 5_000);
    await waitFor("the handler to start", () => starts("killed").length === 1);
    await victim.kill();
    const revived = await startWorker(victim.port);
    await delivered(messageId);
    expect(await count("killed")).toBe(1);
    const [firstStart, secondStart] = starts("killed");
    expect(firstStart).toMatch(new RegExp(`^start killed ${messageId} 1$`));
    expect(secondStart).toMatch(new RegExp(`^start killed ${messageId} [2-9]`)); // same message, a later attempt
    expect(revived.lines.some((l) => l.startsWith("start killed "))).toBe(true);
  }, 30_000);

  test("Redis down: the worker answers 503, the broker retries, and every job completes once when it is back", async () => {
    const worker = await startWorker();
    await redisServer.kill();
    const ids = ["down-1", "down-2", "down-3", "down-4", "down-5"];
    const messageIds = await Promise.all(ids.map((id) => publish(worker.url, id)));
    await waitFor("a 503 for every message", () =>
      messageIds.every((m) => events.some((e) => e.messageId === m && e.state === "ERROR" && e.responseStatus === 503)),
    );
    expect(ids.flatMap((id) => starts(id))).toHaveLength(0);
    await redisServer.restart();
    await Promise.all(messageIds.map((m) => delivered(m, 20_000)));
    for (const id of ids) {
      expect(await count(id)).toBe(1);
      expect(starts(id)).toHaveLength(1);
    }
  }, 40_000);
});
