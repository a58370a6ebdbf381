import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Flow control: at most `parallelism` in flight and `rate` starts per `period`, per key.

let broker: TestBroker;
let dest: Destination;
const inFlight = new Map<string, number>();
const maxInFlight = new Map<string, number>();
beforeAll(async () => {
  broker = await startBroker();
  dest = startDestination();
  dest.respond(async (r) => {
    const key = r.path.split("/")[1]!;
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, inFlight.get(key)!));
    await Bun.sleep(50);
    inFlight.set(key, inFlight.get(key)! - 1);
    return new Response("ok");
  });
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

const publish = (key: string, value: string, i: number) =>
  broker.api(`/v2/publish/${dest.url}/${key}/${i}`, {
    method: "POST",
    headers: { "upstash-flow-control-key": key, "upstash-flow-control-value": value },
    body: String(i),
  });
const arrivals = (key: string) => dest.received.filter((r) => r.path.startsWith(`/${key}/`));

test("parallelism=2 keeps at most two deliveries of the key in flight", async () => {
  await Promise.all(Array.from({ length: 8 }, (_, i) => publish("par", "parallelism=2", i)));
  await waitUntil(() => arrivals("par").length === 8, 5000, "8 deliveries");
  expect(maxInFlight.get("par")).toBe(2);
});

test("rate=3 per 1s starts three, then waits for the next period", async () => {
  const start = Date.now();
  await Promise.all(Array.from({ length: 6 }, (_, i) => publish("rate", "rate=3, period=1s", i)));
  await waitUntil(() => arrivals("rate").length === 6, 5000, "6 deliveries");
  const times = arrivals("rate").map((r) => r.at - start).sort((a, b) => a - b);
  expect(times[2]!).toBeLessThan(500);
  expect(times[3]!).toBeGreaterThanOrEqual(900);
});

test("a paused key holds its messages until resumed", async () => {
  expect((await broker.api("/v2/flowControl/held/pause", { method: "POST" })).status).toBe(200);
  await publish("held", "parallelism=5", 0);
  await Bun.sleep(150);
  expect(arrivals("held")).toHaveLength(0);
  const info = (await (await broker.api("/v2/flowControl/held")).json()) as { waitListSize: number; isPaused: boolean };
  expect(info).toMatchObject({ waitListSize: 1, isPaused: true });
  await broker.api("/v2/flowControl/held/resume", { method: "POST" });
  await waitUntil(() => arrivals("held").length === 1);
});

test("a pinned parallelism overrides the messages' own", async () => {
  await broker.api("/v2/flowControl/pinned/pin?parallelism=1", { method: "POST" });
  await Promise.all(Array.from({ length: 4 }, (_, i) => publish("pinned", "parallelism=4", i)));
  await waitUntil(() => arrivals("pinned").length === 4, 5000, "4 deliveries");
  expect(maxInFlight.get("pinned")).toBe(1);
  const info = (await (await broker.api("/v2/flowControl/pinned")).json()) as { isPinnedParallelism: boolean; parallelismMax: number };
  expect(info).toMatchObject({ isPinnedParallelism: true, parallelismMax: 1 });
});

test("a period longer than one timer can wait (over 24.8 days) waits in capped steps, without spinning", async () => {
  const longDelays: number[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number, ...rest: unknown[]) => {
    if (typeof ms === "number" && ms > 1e9) longDelays.push(ms);
    return original(handler, ms, ...rest);
  }) as typeof setTimeout;
  try {
    for (const i of [0, 1]) expect((await publish("long", "rate=1, period=100d", i)).status).toBe(201);
    await waitUntil(() => arrivals("long").length === 1, 5000, "the first delivery");
    await Bun.sleep(100);
  } finally {
    globalThis.setTimeout = original;
  }
  // The second message waits for the next window, 100 days away: one timer, within setTimeout's range
  // (an overflowing delay fires after 1 ms, and the flow would be re-checked a thousand times a second).
  expect(arrivals("long")).toHaveLength(1);
  expect(longDelays.length).toBeGreaterThanOrEqual(1);
  expect(longDelays.length).toBeLessThanOrEqual(2);
  expect(Math.max(...longDelays)).toBeLessThan(2 ** 31);
});

test("a queue message canceled while it waits at a paused key frees its queue for the next one", async () => {
  expect((await broker.api("/v2/flowControl/held-queue/pause", { method: "POST" })).status).toBe(200);
  const enqueue = async (path: string, headers: Record<string, string> = {}) => {
    const response = await broker.api(`/v2/enqueue/behind-a-key/${dest.url}/held-queue/${path}`, { method: "POST", headers, body: path });
    expect(response.status).toBe(201);
    return ((await response.json()) as { messageId: string }).messageId;
  };
  // The first holds the queue's one slot while it waits at the paused key; the second has no key.
  const first = await enqueue("0", { "upstash-flow-control-key": "held-queue", "upstash-flow-control-value": "parallelism=1" });
  await enqueue("1");
  await Bun.sleep(150);
  expect(arrivals("held-queue")).toHaveLength(0);
  expect((await broker.api(`/v2/messages/${first}`, { method: "DELETE" })).status).toBe(200);
  await waitUntil(() => arrivals("held-queue").length === 1, 3000, "the second message, with the key still paused");
  expect(arrivals("held-queue")[0]!.body).toBe("1");
  await broker.api("/v2/flowControl/held-queue/resume", { method: "POST" });
  await Bun.sleep(150);
  expect(arrivals("held-queue").map((r) => r.body)).toEqual(["1"]);
});

test("keys nothing uses any more are forgotten; a key inside its rate window is kept until it ends", async () => {
  const before = new Set(((await (await broker.api("/v2/flowControl")).json()) as { flowControlKey: string }[]).map((f) => f.flowControlKey));
  const batch = Array.from({ length: 1500 }, (_, i) => ({
    destination: `${dest.url}/many-keys/${i}`,
    headers: { "upstash-flow-control-key": `many-keys-${i}`, "upstash-flow-control-value": "parallelism=1" },
    body: String(i),
  }));
  expect((await broker.api("/v2/batch", { method: "POST", body: JSON.stringify(batch) })).status).toBe(201);
  expect((await publish("windowed", "rate=1,period=60s", 0)).status).toBe(201);
  await waitUntil(() => arrivals("many-keys").length === 1500 && arrivals("windowed").length === 1, 10_000, "every delivery");
  const listed = async () => ((await (await broker.api("/v2/flowControl")).json()) as { flowControlKey: string }[]).map((f) => f.flowControlKey);
  // Each delivery's outcome is recorded just after the destination answers it.
  const left = await waitUntil(async () => {
    const keys = (await listed()).filter((k) => !before.has(k));
    return keys.some((k) => k.startsWith("many-keys-")) ? undefined : keys;
  }, 3000, "the used-up keys to be forgotten");
  // Forgotten now, its next message would start at once: more than rate=1 per 60 s.
  expect(left).toContain("windowed");
  expect((await publish("windowed", "rate=1,period=60s", 1)).status).toBe(201);
  await Bun.sleep(300);
  expect(arrivals("windowed")).toHaveLength(1);
  await broker.api("/v2/flowControl/windowed/resetRate", { method: "POST" });
  await waitUntil(() => arrivals("windowed").length === 2, 3000, "the second start after the reset");
}, 20_000);

test("a pin of one field leaves the messages' other settings in force (rate pinned, parallelism from the messages)", async () => {
  expect((await broker.api("/v2/flowControl/half-pinned/pin?rate=100", { method: "POST" })).status).toBe(200);
  for (let i = 0; i < 4; i++) expect((await publish("half-pinned", "parallelism=1", i)).status).toBe(201);
  await waitUntil(() => arrivals("half-pinned").length === 4, 3000, "four deliveries");
  expect(maxInFlight.get("half-pinned")).toBe(1);
  const info = (await (await broker.api("/v2/flowControl/half-pinned")).json()) as { parallelismMax: number; rateMax: number };
  expect(info).toMatchObject({ parallelismMax: 1, rateMax: 100 });
});

test("a pin with a shorter period takes effect at once, not when the longer window would have ended", async () => {
  for (let i = 0; i < 2; i++) expect((await publish("shortened", "rate=1,period=20s", i)).status).toBe(201);
  await waitUntil(() => arrivals("shortened").length === 1, 3000, "the first start");
  const pinned = Date.now();
  expect((await broker.api("/v2/flowControl/shortened/pin?rate=1&period=1", { method: "POST" })).status).toBe(200);
  await waitUntil(() => arrivals("shortened").length === 2, 3000, "the second start, one short period later");
  expect(Date.now() - pinned).toBeLessThan(2500);
});

test("canceled messages waiting at a paused key are not counted as waiting, and hold nothing there", async () => {
  expect((await broker.api("/v2/flowControl/paused-for-good/pause", { method: "POST" })).status).toBe(200);
  for (let i = 0; i < 5; i++) expect((await publish("paused-for-good", "parallelism=1", i)).status).toBe(201);
  const before = (await (await broker.api("/v2/flowControl/paused-for-good")).json()) as { waitListSize: number };
  expect(before.waitListSize).toBe(5);
  const cancel = await broker.api("/v2/messages?flowControlKey=paused-for-good", { method: "DELETE" });
  expect(await cancel.json()).toEqual({ cancelled: 5 });
  const after = (await (await broker.api("/v2/flowControl/paused-for-good")).json()) as { waitListSize: number };
  expect(after.waitListSize).toBe(0);
  await broker.api("/v2/flowControl/paused-for-good/resume", { method: "POST" });
  await Bun.sleep(150);
  expect(arrivals("paused-for-good")).toHaveLength(0);
});

test("with the global bound full, a rate still counts starts: no burst once a slot frees", async () => {
  const tight = await startBroker({ maxConcurrency: 1 });
  const slow = startDestination();
  slow.respond(async (r) => {
    if (r.path === "/blocker") await Bun.sleep(1500);
    return new Response("ok");
  });
  try {
    const send = (path: string, headers: Record<string, string> = {}) =>
      tight.api(`/v2/publish/${slow.url}${path}`, { method: "POST", headers, body: "x" });
    expect((await send("/blocker")).status).toBe(201);
    await waitUntil(() => slow.received.length === 1, 3000, "the blocker");
    for (let i = 0; i < 3; i++) expect((await send(`/rated/${i}`, { "upstash-flow-control-key": "rated-global", "upstash-flow-control-value": "rate=1,period=1s" })).status).toBe(201);
    await waitUntil(() => slow.received.filter((r) => r.path.startsWith("/rated/")).length === 3, 8000, "the three rated starts");
    const starts = slow.received.filter((r) => r.path.startsWith("/rated/")).map((r) => r.at);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(900);
  } finally {
    await tight.close();
    slow.close();
  }
}, 15_000);

test("a pause and a resume of one key failing together in one batch leave the key as stored (not paused)", async () => {
  const { Store } = await import("../../src/broker/store/store.ts");
  const own = await startBroker();
  const putFlow = Store.prototype.putFlow;
  // Fault injection at the storage seam: the write fails as a full disk would.
  Store.prototype.putFlow = () => {
    throw new Error("disk I/O error");
  };
  try {
    const auth = { authorization: `Bearer ${own.token}` };
    const answers = await Promise.all([
      own.app.request("/v2/flowControl/both-failed/pause", { method: "POST", headers: auth }),
      own.app.request("/v2/flowControl/both-failed/resume", { method: "POST", headers: auth }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([500, 500]);
  } finally {
    Store.prototype.putFlow = putFlow;
  }
  try {
    const info = await own.api("/v2/flowControl/both-failed");
    expect(info.status === 404 || ((await info.json()) as { isPaused: boolean }).isPaused === false).toBe(true);
  } finally {
    await own.close();
  }
});

test("changes of one key answered together take effect in the order asked, in memory as on disk", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "jobwire-flow-order-"));
  const db = join(dir, "broker.sqlite");
  let own = await startBroker({ memory: false, db });
  try {
    const auth = { authorization: `Bearer ${own.token}` };
    const both = (first: string, second: string) =>
      Promise.all([
        own.app.request(`/v2/flowControl/${first}`, { method: "POST", headers: auth }),
        own.app.request(`/v2/flowControl/${second}`, { method: "POST", headers: auth }),
      ]);
    // One commit each time: the second change used to be compared with the settings from before
    // the first, found unchanged, and skipped in memory (stored all the same).
    expect((await both("ordered/pause", "ordered/resume")).map((r) => r.status)).toEqual([200, 200]);
    expect((await both("pinned/pin?parallelism=1", "pinned/unpin")).map((r) => r.status)).toEqual([200, 200]);
    expect((await both("kept/resume", "kept/pause")).map((r) => r.status)).toEqual([200, 200]);
    const state = async () => {
      const read = async (key: string) => {
        const response = await own.api(`/v2/flowControl/${key}`);
        return response.status === 404 ? "unknown" : ((await response.json()) as { isPaused: boolean; isPinnedParallelism: boolean });
      };
      const [ordered, pinned, kept] = await Promise.all([read("ordered"), read("pinned"), read("kept")]);
      return {
        ordered: ordered === "unknown" ? false : ordered.isPaused,
        pinned: pinned === "unknown" ? false : pinned.isPinnedParallelism,
        kept: kept === "unknown" ? false : kept.isPaused,
      };
    };
    expect(await state()).toEqual({ ordered: false, pinned: false, kept: true });
    // The resumed key delivers.
    const response = await own.api(`/v2/publish/${dest.url}/ordered/1`, {
      method: "POST",
      headers: { "upstash-flow-control-key": "ordered", "upstash-flow-control-value": "parallelism=1" },
      body: "x",
    });
    expect(response.status).toBe(201);
    await waitUntil(() => dest.received.some((r) => r.path === "/ordered/1"), 5000, "the resumed key's delivery");
    await own.close();
    own = await startBroker({ memory: false, db });
    expect(await state()).toEqual({ ordered: false, pinned: false, kept: true });
  } finally {
    await own.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
