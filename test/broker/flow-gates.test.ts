import { expect, test } from "bun:test";
import { startBroker, startDestination, waitUntil } from "./helpers.ts";

// A flow-control key's limits at the other gates: a key waits for a global slot in its messages'
// stead, so its messages are taken (and counted against its parallelism and rate) only when they
// start, and a pause or a pin made while they wait applies to them; a start a paused queue stops is
// not counted against the key's rate.

// Before: a queue message taken from its rate-limited key as its queue was paused was counted, held
// by the queue, and counted again when the queue was resumed.
test("one start of a queue message diverted by a paused queue counts once against its key's rate", async () => {
  const broker = await startBroker();
  const dest = startDestination();
  dest.respond(async (r) => {
    if (r.path === "/m0") await Bun.sleep(600);
    return new Response("ok");
  });
  const fc = { "upstash-flow-control-key": "dbl", "upstash-flow-control-value": "parallelism=1, rate=2, period=60s" };
  try {
    expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "dq", parallelism: 1, paused: false }) })).status).toBe(200);
    // M0 takes the key's one parallel slot (1st start of the window).
    expect((await broker.api(`/v2/publish/${dest.url}/m0`, { method: "POST", headers: fc, body: "0" })).status).toBe(201);
    await waitUntil(() => dest.received.length === 1, 3000, "m0");
    // A (queue dq) waits at the key (parallelism full), holding the queue's slot.
    expect((await broker.api(`/v2/enqueue/dq/${dest.url}/a`, { method: "POST", headers: fc, body: "a" })).status).toBe(201);
    expect((await broker.api("/v2/queues/dq/pause", { method: "POST" })).status).toBe(200);
    // M0 ends: A is taken from the key (counted), then diverted to the paused queue.
    await Bun.sleep(900);
    expect(dest.received.map((r) => r.path)).toEqual(["/m0"]);
    const during = (await (await broker.api("/v2/flowControl/dbl")).json()) as { rateCount: number };
    expect((await broker.api("/v2/queues/dq/resume", { method: "POST" })).status).toBe(200);
    // Only one start (M0) happened in this 60 s window; rate=2 leaves room for A now.
    await waitUntil(() => dest.received.length === 2, 3000, "A after the resume (rate 2 per 60s, 1 used)");
    const after = (await (await broker.api("/v2/flowControl/dbl")).json()) as { rateCount: number };
    expect(after.rateCount).toBe(2);
  } finally {
    await broker.close();
    dest.close();
  }
}, 15_000);

test("a paused queue's message taken at a shared rate-limited key does not use up the key's rate for others", async () => {
  const broker = await startBroker();
  const dest = startDestination();
  dest.respond(async (r) => {
    if (r.path === "/m0") await Bun.sleep(600);
    return new Response("ok");
  });
  const fc = { "upstash-flow-control-key": "eat", "upstash-flow-control-value": "parallelism=1, rate=2, period=60s" };
  try {
    expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "eq", parallelism: 1, paused: false }) })).status).toBe(200);
    expect((await broker.api(`/v2/publish/${dest.url}/m0`, { method: "POST", headers: fc, body: "0" })).status).toBe(201);
    await waitUntil(() => dest.received.length === 1, 3000, "m0");
    expect((await broker.api(`/v2/enqueue/eq/${dest.url}/a`, { method: "POST", headers: fc, body: "a" })).status).toBe(201);
    expect((await broker.api("/v2/queues/eq/pause", { method: "POST" })).status).toBe(200);
    // B has no queue: once M0 ends it is the key's only deliverable message, and 1 of 2 starts is used.
    expect((await broker.api(`/v2/publish/${dest.url}/b`, { method: "POST", headers: fc, body: "b" })).status).toBe(201);
    await waitUntil(() => dest.received.length === 2, 3000, "B (the 2nd start of the window)");
    expect(dest.received.map((r) => r.path)).toEqual(["/m0", "/b"]);
  } finally {
    await broker.close();
    dest.close();
  }
}, 15_000);

/**
 * A broker whose `slots` global slots are all held by slow "blocker" messages (each answered after
 * `blockMs`), and a destination that answers everything else with `respond` (default: at once).
 */
async function behindBlockers(slots: number, blockMs: number, respond: (path: string) => Promise<Response> | Response = () => new Response("ok")) {
  const broker = await startBroker({ maxConcurrency: slots });
  const dest = startDestination();
  dest.respond(async (r) => {
    if (!r.path.startsWith("/blocker")) return respond(r.path);
    await Bun.sleep(blockMs);
    return new Response("ok");
  });
  for (let i = 0; i < slots; i++) expect((await broker.api(`/v2/publish/${dest.url}/blocker${i}`, { method: "POST", body: "x" })).status).toBe(201);
  await waitUntil(() => dest.received.length === slots, 3000, "the blockers");
  /** Publishes one message of `key` (flow-control value `value`) to `/path`; answers its id. */
  const send = async (key: string, value: string, path: string) => {
    const headers = { "upstash-flow-control-key": key, "upstash-flow-control-value": value };
    const response = await broker.api(`/v2/publish/${dest.url}${path}`, { method: "POST", headers, body: "x" });
    expect(response.status).toBe(201);
    return ((await response.json()) as { messageId: string }).messageId;
  };
  const close = async () => {
    await broker.close();
    dest.close();
  };
  return { broker, dest, send, close };
}

// Before: a key without a rate had its messages taken as soon as they were due and queued for a
// global slot, where a pause or a pin made meanwhile did not reach them.
test("a key paused while its message waits for a global slot delivers nothing until resumed", async () => {
  const { broker, dest, send, close } = await behindBlockers(1, 600);
  try {
    await send("pg", "parallelism=5", "/keyed");
    const paused = (await (await broker.api("/v2/flowControl/pg/pause", { method: "POST" })).json()) as { isPaused: boolean };
    expect(paused.isPaused).toBe(true);
    await Bun.sleep(900); // the blocker is done: the global slot is free
    expect(dest.received.map((r) => r.path)).toEqual(["/blocker0"]);
    await broker.api("/v2/flowControl/pg/resume", { method: "POST" });
    await waitUntil(() => dest.received.length === 2, 3000, "the keyed message after the resume");
  } finally {
    await close();
  }
});

test("a parallelism pinned while the key's messages wait for global slots is not exceeded", async () => {
  let inKey = 0;
  let maxInKey = 0;
  const { broker, dest, send, close } = await behindBlockers(3, 600, async () => {
    inKey++;
    maxInKey = Math.max(maxInKey, inKey);
    await Bun.sleep(300);
    inKey--;
    return new Response("ok");
  });
  try {
    for (let i = 0; i < 3; i++) await send("pin-g", "parallelism=5", `/k${i}`);
    expect((await broker.api("/v2/flowControl/pin-g/pin?parallelism=1", { method: "POST" })).status).toBe(200);
    await waitUntil(() => dest.received.length === 6, 5000, "the key's three messages");
    expect(maxInKey).toBe(1);
  } finally {
    await close();
  }
});

test("a rate pinned while the key's messages wait for global slots is not exceeded", async () => {
  const { broker, dest, send, close } = await behindBlockers(1, 600);
  try {
    for (let i = 0; i < 3; i++) await send("rate-g", "parallelism=5", `/k${i}`);
    expect((await broker.api("/v2/flowControl/rate-g/pin?rate=1&period=60", { method: "POST" })).status).toBe(200);
    await Bun.sleep(1500);
    expect(dest.received.filter((r) => r.path.startsWith("/k")).length).toBeLessThanOrEqual(1);
  } finally {
    await close();
  }
});

test("a key whose last message was canceled while waiting for a global slot is forgotten, like a delivered one", async () => {
  const { broker, dest, send, close } = await behindBlockers(1, 500);
  try {
    const a = await send("gone-par", "parallelism=1", "/gone-par");
    const b = await send("gone-rate", "rate=100", "/gone-rate");
    await send("delivered-key", "parallelism=1", "/delivered-key");
    for (const id of [a, b]) expect((await broker.api(`/v2/messages/${id}`, { method: "DELETE" })).status).toBe(200);
    await waitUntil(() => dest.received.some((r) => r.path === "/delivered-key"), 3000, "the delivered key");
    await waitUntil(() => broker.stats().pending === 0 && broker.stats().inFlight === 0, 2000, "all done");
    const status = async (k: string) => (await broker.api(`/v2/flowControl/${k}`)).status;
    expect({ delivered: await status("delivered-key"), par: await status("gone-par"), rate: await status("gone-rate") }).toEqual({ delivered: 404, par: 404, rate: 404 });
  } finally {
    await close();
  }
});

test("a key whose last message was canceled while waiting for its rate window is forgotten", async () => {
  const broker = await startBroker();
  const dest = startDestination();
  const headers = { "upstash-flow-control-key": "rt", "upstash-flow-control-value": "rate=1, period=1s" };
  try {
    expect((await broker.api(`/v2/publish/${dest.url}/a`, { method: "POST", headers, body: "a" })).status).toBe(201);
    await waitUntil(() => dest.received.length === 1, 3000, "a");
    const b = await broker.api(`/v2/publish/${dest.url}/b`, { method: "POST", headers, body: "b" });
    const { messageId } = (await b.json()) as { messageId: string };
    const waiting = (await (await broker.api("/v2/flowControl/rt")).json()) as { waitListSize: number };
    expect(waiting.waitListSize).toBe(1); // b waits for the window (timer armed)
    expect((await broker.api(`/v2/messages/${messageId}`, { method: "DELETE" })).status).toBe(200);
    await Bun.sleep(1500); // the window ends, the timer fires and pops the canceled b
    const keys = ((await (await broker.api("/v2/flowControl")).json()) as { flowControlKey: string }[]).map((k) => k.flowControlKey);
    expect({ received: dest.received.length, listed: keys.includes("rt"), get: (await broker.api("/v2/flowControl/rt")).status }).toEqual({
      received: 1,
      listed: false,
      get: 404,
    });
  } finally {
    await broker.close();
    dest.close();
  }
});
