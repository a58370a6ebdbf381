import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// FIFO queues: parallelism slots held until delivered or failed for good; pause holds delivery.

let broker: TestBroker;
let dest: Destination;
const active = new Map<string, number>();
const maxActive = new Map<string, number>();
beforeAll(async () => {
  broker = await startBroker();
  dest = startDestination();
  dest.respond(async (r) => {
    const queue = r.path.split("/")[1]!;
    active.set(queue, (active.get(queue) ?? 0) + 1);
    maxActive.set(queue, Math.max(maxActive.get(queue) ?? 0, active.get(queue)!));
    await Bun.sleep(30);
    active.set(queue, active.get(queue)! - 1);
    return r.headers.get("x-fail-once") === "yes" && r.headers.get("upstash-retried") === "0" ? new Response("", { status: 500 }) : new Response("ok");
  });
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

const enqueue = async (queue: string, n: number, headers: Record<string, string> = {}) => {
  const response = await broker.api(`/v2/enqueue/${queue}/${dest.url}/${queue}/${n}`, { method: "POST", headers, body: String(n) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { messageId: string }).messageId;
};
const order = (queue: string) => dest.received.filter((r) => r.path.startsWith(`/${queue}/`)).map((r) => Number(r.body));

test("parallelism 1 delivers strictly in order, one at a time", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(await enqueue("fifo", i));
  await broker.waitForEvent((e) => e.messageId === ids[9] && e.state === "DELIVERED", 5000);
  expect(order("fifo")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(maxActive.get("fifo")).toBe(1);
  const info = (await (await broker.api("/v2/queues/fifo")).json()) as { parallelism: number; lag: number };
  expect(info).toMatchObject({ parallelism: 1, lag: 0 });
});

test("a retrying message keeps its slot: the next one waits until it is delivered", async () => {
  const first = await enqueue("retrying", 0, { "x-fail-once": "yes", "upstash-forward-x-fail-once": "yes", "upstash-retry-delay": "200" });
  await enqueue("retrying", 1);
  await broker.waitForEvent((e) => e.messageId === first && e.state === "DELIVERED", 3000);
  await waitUntil(() => order("retrying").length === 3);
  expect(order("retrying")).toEqual([0, 0, 1]);
});

test("a paused queue holds the retry of a message that keeps its slot, until it is resumed", async () => {
  await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "paused-retry", parallelism: 1, paused: false }) });
  const first = await enqueue("paused-retry", 0, { "upstash-forward-x-fail-once": "yes", "upstash-retry-delay": "300" });
  await enqueue("paused-retry", 1);
  await broker.waitForEvent((e) => e.messageId === first && e.state === "RETRY", 3000);
  expect((await broker.api("/v2/queues/paused-retry/pause", { method: "POST" })).status).toBe(200);
  await Bun.sleep(800); // the retry fell due 300 ms after the failure
  expect(order("paused-retry")).toEqual([0]);
  expect((await broker.api("/v2/queues/paused-retry/resume", { method: "POST" })).status).toBe(200);
  await waitUntil(() => order("paused-retry").length === 3, 3000, "the retry, then the next message");
  expect(order("paused-retry")).toEqual([0, 0, 1]);
});

test("parallelism 3 runs up to three at once", async () => {
  await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "wide", parallelism: 3, paused: false }) });
  for (let i = 0; i < 9; i++) await enqueue("wide", i);
  await waitUntil(() => order("wide").length === 9, 5000, "9 deliveries");
  expect(maxActive.get("wide")).toBe(3);
});

test("a paused queue accepts but delivers nothing until resumed, then in order", async () => {
  await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "held", parallelism: 1, paused: true }) });
  for (let i = 0; i < 3; i++) await enqueue("held", i);
  await Bun.sleep(200);
  expect(order("held")).toEqual([]);
  expect(((await (await broker.api("/v2/queues/held")).json()) as { lag: number }).lag).toBe(3);
  expect((await broker.api("/v2/queues/held/resume", { method: "POST" })).status).toBe(200);
  await waitUntil(() => order("held").length === 3);
  expect(order("held")).toEqual([0, 1, 2]);
});

test("enqueue creates a missing queue with parallelism 1", async () => {
  await enqueue("auto-created", 0);
  const info = (await (await broker.api("/v2/queues/auto-created")).json()) as { name: string; parallelism: number; paused: boolean };
  expect(info).toMatchObject({ name: "auto-created", parallelism: 1, paused: false });
});

test("a queue paused while its message waits at its flow-control key delivers nothing until resumed", async () => {
  await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "gated", parallelism: 1, paused: false }) });
  expect((await broker.api("/v2/flowControl/gated-key/pause", { method: "POST" })).status).toBe(200);
  await enqueue("gated", 0, { "upstash-flow-control-key": "gated-key", "upstash-flow-control-value": "parallelism=1" });
  await Bun.sleep(100); // it holds the queue's slot, waiting at the paused key
  expect((await broker.api("/v2/queues/gated/pause", { method: "POST" })).status).toBe(200);
  expect((await broker.api("/v2/flowControl/gated-key/resume", { method: "POST" })).status).toBe(200);
  await Bun.sleep(300);
  expect(order("gated")).toEqual([]);
  expect((await broker.api("/v2/queues/gated/resume", { method: "POST" })).status).toBe(200);
  await waitUntil(() => order("gated").length === 1, 3000, "the delivery after the resume");
});

test("a queue paused while its message waits for a global slot delivers nothing until resumed", async () => {
  const tight = await startBroker({ maxConcurrency: 1 });
  const slow = startDestination();
  slow.respond(async (r) => {
    if (r.path === "/blocker") await Bun.sleep(600);
    return new Response("ok");
  });
  try {
    expect((await tight.api(`/v2/publish/${slow.url}/blocker`, { method: "POST", body: "x" })).status).toBe(201);
    await waitUntil(() => slow.received.length === 1, 3000, "the blocker");
    expect((await tight.api(`/v2/enqueue/waiting-global/${slow.url}/queued`, { method: "POST", body: "x" })).status).toBe(201);
    expect((await tight.api("/v2/queues/waiting-global/pause", { method: "POST" })).status).toBe(200);
    await Bun.sleep(900); // the blocker is done: the global slot is free
    expect(slow.received.map((r) => r.path)).toEqual(["/blocker"]);
    expect((await tight.api("/v2/queues/waiting-global/resume", { method: "POST" })).status).toBe(200);
    await waitUntil(() => slow.received.length === 2, 3000, "the queued message after the resume");
  } finally {
    await tight.close();
    slow.close();
  }
});

test("changes of one queue answered together all hold: a pause and a parallelism change, in either order", async () => {
  const auth = { authorization: `Bearer ${broker.token}` };
  const upsert = (body: Record<string, unknown>) =>
    broker.app.request("/v2/queues", { method: "POST", headers: auth, body: JSON.stringify(body) });
  const pause = (name: string) => broker.app.request(`/v2/queues/${name}/pause`, { method: "POST", headers: auth });
  for (const name of ["both-a", "both-b"]) expect((await upsert({ queueName: name, parallelism: 1 })).status).toBe(200);
  // One commit each time: each change used to re-send the other field as read before the first
  // was stored, undoing it (parallelism 5 came back as 1, a pause came back unpaused).
  const answers = await Promise.all([upsert({ queueName: "both-a", parallelism: 5 }), pause("both-a"), pause("both-b"), upsert({ queueName: "both-b", parallelism: 3 })]);
  expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  const info = async (name: string) => (await (await broker.api(`/v2/queues/${name}`)).json()) as { parallelism: number; paused: boolean };
  expect(await info("both-a")).toMatchObject({ parallelism: 5, paused: true });
  expect(await info("both-b")).toMatchObject({ parallelism: 3, paused: true });
  // A field left out keeps its value; a new queue starts at parallelism 1, not paused.
  expect(await (await upsert({ queueName: "both-a", paused: false })).json()).toMatchObject({ parallelism: 5, paused: false });
  expect(await (await upsert({ queueName: "both-new" })).json()).toMatchObject({ parallelism: 1, paused: false });
});
