// End to end: createClient → `jobwire dev` (a real broker on loopback) → a createWorker app served
// by Bun.serve. Nothing is faked: every delivery is signed by the broker and verified by the worker.
import { Client } from "@upstash/qstash";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { serve } from "../../adapters/bun.ts";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createClient, createWorker, defineJob, memoryStore, NonRetryableError, RetryLaterError } from "../../src/index.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

type Run = { job: string; input: unknown; attempt: number; messageId: string; at: number };
const runs: Run[] = [];
const runsOf = (job: string) => runs.filter((r) => r.job === job);

const ok = defineJob({ name: "ok", input: v.object({ n: v.number() }) });
const flaky = defineJob({ name: "flaky", input: v.object({ id: v.string() }), retries: 3, retryDelay: "50" });
const poison = defineJob({ name: "poison", input: v.object({ id: v.string() }), retries: 3, retryDelay: "50" });
const strict = defineJob({ name: "strict", input: v.object({ userId: v.number() }), retries: 3, retryDelay: "50" });
const later = defineJob({ name: "later", input: v.object({ id: v.string() }), retries: 2, retryDelay: "50" });
const keyed = defineJob({ name: "keyed", input: v.object({ orderId: v.string() }), idempotencyKey: (i) => `order:${i.orderId}` });
const tick = defineJob({ name: "tick", input: v.object({ label: v.string() }) });
const ordered = defineJob({ name: "ordered", input: v.object({ seq: v.number() }), queue: "e2e-fifo" });

let broker: Broker;
let server: { url: string; close(): Promise<void> };
let jobs: ReturnType<typeof createClient>;
let qstash: Client; // the official SDK, for what the job client does not do (DLQ, logs, raw publish)
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  broker = await createBroker({ port: 0, host: "127.0.0.1", memory: true, log: false });
  const record = (job: string) => (input: unknown, ctx: { attempt: number; messageId: string }) => {
    runs.push({ job, input, attempt: ctx.attempt, messageId: ctx.messageId, at: Date.now() });
  };
  const worker = createWorker({ signingKeys: broker.signingKeys, store: memoryStore(), log: false })
    .handle(ok, (input, ctx) => {
      record("ok")(input, ctx);
      return { doubled: input.n * 2 };
    })
    .handle(flaky, (input, ctx) => {
      record("flaky")(input, ctx);
      if (ctx.attempt < 3) throw new Error(`flaky failure ${ctx.attempt}`);
      return "third time lucky";
    })
    .handle(poison, (input, ctx) => {
      record("poison")(input, ctx);
      throw new NonRetryableError(`cannot process ${input.id}`);
    })
    .handle(strict, (input, ctx) => record("strict")(input, ctx))
    .handle(later, (input, ctx) => {
      record("later")(input, ctx);
      if (ctx.attempt === 1) throw new RetryLaterError("busy", { after: 1 });
      return "later done";
    })
    .handle(keyed, (input, ctx) => record("keyed")(input, ctx))
    .handle(tick, (input, ctx) => record("tick")(input, ctx))
    .handle(ordered, async (input, ctx) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      record("ordered")(input, ctx);
      await sleep(5 + ((input.seq * 7) % 15));
      inFlight--;
    });
  server = serve(worker.app, { port: 0 });
  jobs = createClient({ workerUrl: server.url, baseUrl: broker.url, token: broker.token, retry: false });
  qstash = new Client({ baseUrl: broker.url, token: broker.token, enableTelemetry: false, retry: false });
});

afterAll(async () => {
  await server?.close();
  await broker?.close();
});

async function dlqFor(messageId: string) {
  return waitFor(`message ${messageId} in the DLQ`, async () => {
    const { messages } = await qstash.dlq.listMessages();
    return messages.find((m) => m.messageId === messageId);
  });
}

describe("end to end through jobwire dev", () => {
  test("a job is delivered, verified, validated and run once", async () => {
    const { messageId, deduplicated } = await jobs.enqueue(ok, { n: 21 });
    expect(deduplicated).toBe(false);
    await waitFor("the ok job", () => runsOf("ok").length === 1);
    expect(runsOf("ok")[0]).toMatchObject({ input: { n: 21 }, attempt: 1, messageId });
    const message = await waitFor("DELIVERED", async () => {
      const { logs } = await qstash.logs({ filter: { messageId } });
      return logs.find((l) => l.state === "DELIVERED");
    });
    expect(message.messageId).toBe(messageId);
  });

  test("a workerUrl with a query string: the job's name goes before it, and the signature covers it", async () => {
    const withQuery = createClient({ workerUrl: `${server.url}/?bypass=s3cret&x=1`, baseUrl: broker.url, token: broker.token, retry: false });
    const { messageId } = await withQuery.enqueue(ok, { n: 7 });
    await waitFor("the ok job", () => runs.some((r) => r.messageId === messageId));
    const { logs } = await qstash.logs({ filter: { messageId } });
    expect(logs.find((l) => l.state === "CREATED")?.url).toBe(`${server.url}/ok?bypass=s3cret&x=1`);
  });

  test("a handler that fails twice succeeds on attempt 3", async () => {
    const { messageId } = await jobs.enqueue(flaky, { id: "f1" });
    await waitFor("three attempts", () => runsOf("flaky").length === 3);
    expect(runsOf("flaky").map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(new Set(runsOf("flaky").map((r) => r.messageId))).toEqual(new Set([messageId]));
    await sleep(300);
    expect(runsOf("flaky")).toHaveLength(3);
  });

  test("NonRetryableError goes straight to the DLQ after one attempt", async () => {
    const { messageId } = await jobs.enqueue(poison, { id: "p1" });
    const entry = await dlqFor(messageId);
    expect(entry.responseStatus).toBe(489);
    expect(runsOf("poison")).toHaveLength(1);
  });

  test("invalid input (published around the client's validation) goes straight to the DLQ, unrun", async () => {
    const { messageId } = await qstash.publish({
      url: `${server.url}/strict`,
      body: JSON.stringify({ userId: "not a number" }),
      headers: { "Content-Type": "application/json" },
      retries: 3,
    });
    const entry = await dlqFor(messageId);
    expect(entry.responseStatus).toBe(489);
    expect(entry.responseBody).toContain("userId");
    expect(runsOf("strict")).toHaveLength(0);
  });

  test("RetryLaterError: the broker waits Retry-After before the next attempt", async () => {
    await jobs.enqueue(later, { id: "l1" });
    await waitFor("two attempts", () => runsOf("later").length === 2, 10_000);
    const [first, second] = runsOf("later");
    expect(second!.attempt).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
  });

  test("the same idempotency key twice: deduplicated at publish, run once", async () => {
    const a = await jobs.enqueue(keyed, { orderId: "A-1" });
    const b = await jobs.enqueue(keyed, { orderId: "A-1" });
    expect(b).toEqual({ messageId: a.messageId, deduplicated: true });
    await waitFor("the keyed job", () => runsOf("keyed").length === 1);
    await sleep(300);
    expect(runsOf("keyed")).toHaveLength(1);
  });

  test("a delay holds the job back", async () => {
    const start = Date.now();
    await jobs.enqueue(ok, { n: 1000 }, { delay: "2s" });
    const run = await waitFor("the delayed job", () => runsOf("ok").find((r) => (r.input as { n: number }).n === 1000), 10_000);
    expect(run.at - start).toBeGreaterThanOrEqual(1900);
  });

  test("a cron schedule fires (6-field cron: every second, a jobwire dev extension)", async () => {
    const { scheduleId } = await jobs.schedule(tick, { id: "e2e-tick", cron: "* * * * * *", input: { label: "t" } });
    expect(scheduleId).toBe("e2e-tick");
    await waitFor("two ticks", () => runsOf("tick").length >= 2, 10_000);
    await jobs.unschedule("e2e-tick");
    await sleep(200);
    const count = runsOf("tick").length;
    await sleep(1500);
    expect(runsOf("tick").length).toBe(count);
  });

  test("a FIFO queue with parallelism 1 runs strictly in order, one at a time", async () => {
    await jobs.enqueueMany(Array.from({ length: 12 }, (_, seq) => ordered.with({ seq })));
    await waitFor("12 ordered jobs", () => runsOf("ordered").length === 12, 15_000);
    expect(runsOf("ordered").map((r) => (r.input as { seq: number }).seq)).toEqual([...Array(12).keys()]);
    expect(maxInFlight).toBe(1);
  });
});
