import { afterAll, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBroker } from "../../src/broker/index.ts";
import { startDestination, waitUntil } from "./helpers.ts";

// `close()` lets the attempts in flight settle, but starts no new ones: a message not started yet
// stays pending in the database, and the next broker on that file delivers it.

const dir = mkdtempSync(join(tmpdir(), "jobwire-close-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("close() starts no new attempt; what was waiting is delivered by the next broker on the file", async () => {
  const db = join(dir, "close.sqlite");
  const dest = startDestination();
  let slowOnce = true;
  dest.respond(async (request) => {
    // The first attempt of "first" is still in flight when close() is called, and settles within
    // the grace period: that frees the queue's slot while the broker is stopping.
    if (request.body === "first" && slowOnce) {
      slowOnce = false;
      await Bun.sleep(400);
    }
    return new Response("ok");
  });
  try {
    const broker = await createBroker({ port: 0, db, log: false });
    const enqueue = async (body: string) => {
      const response = await fetch(`${broker.url}/v2/enqueue/one-at-a-time/${dest.url}/job`, {
        method: "POST",
        headers: { authorization: `Bearer ${broker.token}` },
        body,
      });
      expect(response.status).toBe(201);
    };
    await enqueue("first");
    await enqueue("second");
    await waitUntil(() => dest.received.length === 1, 5000, "the first attempt to start");
    await broker.close();
    await Bun.sleep(300);
    expect(dest.received.map((r) => r.body)).toEqual(["first"]);

    const next = await createBroker({ port: 0, db, log: false });
    try {
      await waitUntil(() => dest.received.some((r) => r.body === "second"), 5000, "the second message after the restart");
      // "first" settled before the database closed: it is not delivered again.
      await Bun.sleep(200);
      expect(dest.received.map((r) => r.body)).toEqual(["first", "second"]);
    } finally {
      await next.close();
    }
  } finally {
    dest.close();
  }
});

test("after a restart, a paused queue still holds the retry of the message that kept its slot", async () => {
  const db = join(dir, "paused.sqlite");
  const dest = startDestination();
  dest.respond((request) => (request.headers.get("upstash-retried") === "0" ? new Response("no", { status: 500 }) : new Response("ok")));
  try {
    const broker = await createBroker({ port: 0, db, log: false });
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${broker.url}${path}`, { ...init, headers: { authorization: `Bearer ${broker.token}`, ...(init.headers as Record<string, string>) } });
    expect((await api(`/v2/enqueue/paused-on-restart/${dest.url}/job`, { method: "POST", body: "x", headers: { "upstash-retry-delay": "300" } })).status).toBe(201);
    await waitUntil(() => dest.received.length === 1, 5000, "the first, failing attempt");
    expect((await api("/v2/queues/paused-on-restart/pause", { method: "POST" })).status).toBe(200);
    await broker.close();

    const next = await createBroker({ port: 0, db, log: false });
    try {
      await Bun.sleep(800);
      expect(dest.received).toHaveLength(1);
      const resumed = await fetch(`${next.url}/v2/queues/paused-on-restart/resume`, { method: "POST", headers: { authorization: `Bearer ${next.token}` } });
      expect(resumed.status).toBe(200);
      await waitUntil(() => dest.received.length === 2, 3000, "the retry after the resume");
      expect(dest.received[1]!.headers.get("upstash-retried")).toBe("1");
    } finally {
      await next.close();
    }
  } finally {
    dest.close();
  }
});

test("after a restart, a flow-control key has its newest message's settings, as before it", async () => {
  const db = join(dir, "flow.sqlite");
  const broker = await createBroker({ port: 0, db, log: false });
  const publish = (headers: Record<string, string>) =>
    fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/never`, { method: "POST", body: "x", headers: { authorization: `Bearer ${broker.token}`, ...headers } });
  // The older message is due first: the order of recovery (by due time) is not the order of publishing.
  expect((await publish({ "upstash-delay": "30m", "upstash-flow-control-key": "restart-key", "upstash-flow-control-value": "parallelism=1" })).status).toBe(201);
  expect((await publish({ "upstash-delay": "1h", "upstash-flow-control-key": "restart-key", "upstash-flow-control-value": "parallelism=5,rate=10,period=1m" })).status).toBe(201);
  const info = async (b: typeof broker) =>
    (await (await fetch(`${b.url}/v2/flowControl/restart-key`, { headers: { authorization: `Bearer ${b.token}` } })).json()) as Record<string, unknown>;
  const before = await info(broker);
  expect(before).toMatchObject({ parallelismMax: 5, rateMax: 10, ratePeriod: 60 });
  await broker.close();
  const next = await createBroker({ port: 0, db, log: false });
  try {
    expect(await info(next)).toMatchObject({ parallelismMax: 5, rateMax: 10, ratePeriod: 60 });
  } finally {
    await next.close();
  }
});

test("a broker that cannot start (its port taken) delivers nothing of its file first", async () => {
  const db = join(dir, "cannot-start.sqlite");
  const dest = startDestination();
  dest.respond(async () => {
    await Bun.sleep(2500); // outlives close()'s grace: the message stays pending in the file
    return new Response("ok");
  });
  const before = await createBroker({ port: 0, db, log: false });
  const published = await fetch(`${before.url}/v2/publish/${dest.url}/slow`, { method: "POST", body: "x", headers: { authorization: `Bearer ${before.token}` } });
  expect(published.status).toBe(201);
  await waitUntil(() => dest.received.length === 1, 3000, "the attempt");
  await before.close();
  const other = await createBroker({ port: 0, memory: true, log: false });
  try {
    await expect(createBroker({ port: other.port, db, log: false })).rejects.toThrow(/already in use/);
    await Bun.sleep(300);
    expect(dest.received).toHaveLength(1);
  } finally {
    await other.close();
    dest.close();
  }
});

test("one broker per database file: a second one is refused at once, naming the cause", async () => {
  const db = join(dir, "shared.sqlite");
  const first = await createBroker({ port: 0, db, log: false });
  try {
    const started = Date.now();
    await expect(createBroker({ port: 0, db, log: false })).rejects.toThrow(/cannot use the database .*shared\.sqlite: .*another process has it open: is another jobwire dev running on it\?/);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    await first.close();
  }
  // Closed, it is released: the next broker opens it.
  const next = await createBroker({ port: 0, db, log: false });
  await next.close();
});

test("the event log keeps about maxEvents, within a run and across short runs", async () => {
  const db = join(dir, "events.sqlite");
  const count = async (b: Awaited<ReturnType<typeof createBroker>>) =>
    ((await (await fetch(`${b.url}/v2/events?count=1000`, { headers: { authorization: `Bearer ${b.token}` } })).json()) as { events: unknown[] }).events.length;
  for (let run = 0; run < 3; run++) {
    const broker = await createBroker({ port: 0, db, log: false, maxEvents: 50 });
    try {
      // Each run starts within the bound: what earlier runs left was pruned at start.
      expect(await count(broker)).toBeLessThanOrEqual(50);
      for (let i = 0; i < 60; i++) {
        const r = await fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/x`, { method: "POST", body: "x", headers: { authorization: `Bearer ${broker.token}`, "upstash-delay": "1h" } });
        expect(r.status).toBe(201);
      }
      // Pruned every 50 events: at most 50 kept, plus those since the last prune.
      expect(await count(broker)).toBeLessThan(100);
      // 120 events in one write batch: the pruning sees them, so 50 are left.
      const items = Array.from({ length: 120 }, () => ({ destination: "http://127.0.0.1:9/x", headers: { "upstash-delay": "1h" }, body: "x" }));
      const batch = await fetch(`${broker.url}/v2/batch`, { method: "POST", body: JSON.stringify(items), headers: { authorization: `Bearer ${broker.token}` } });
      expect(batch.status).toBe(201);
      expect(await count(broker)).toBeLessThanOrEqual(50);
    } finally {
      await broker.close();
    }
  }
});

test("a database whose pages are damaged is refused at start, naming the file", async () => {
  const db = join(dir, "damaged.sqlite");
  const broker = await createBroker({ port: 0, db, log: false });
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/m${i}`, { method: "POST", body: "y".repeat(500), headers: { authorization: `Bearer ${broker.token}`, "upstash-delay": "1h" } });
    expect(r.status).toBe(201);
  }
  await broker.close();
  const { Database } = await import("bun:sqlite");
  const plain = new Database(db);
  plain.run("PRAGMA wal_checkpoint(TRUNCATE)");
  plain.run("PRAGMA journal_mode = DELETE");
  plain.close();
  // Junk over three pages in the middle of the file: the header still reads as SQLite.
  const fd = openSync(db, "r+");
  writeSync(fd, Buffer.alloc(3 * 4096, 0x41), 0, 3 * 4096, Math.floor(statSync(db).size / 2 / 4096) * 4096);
  closeSync(fd);
  await expect(createBroker({ port: 0, db, log: false })).rejects.toThrow(/^cannot use the database .*damaged\.sqlite: /);
});

test("a cancel acknowledged while the attempt is in flight holds across a restart", async () => {
  const db = join(dir, "cancel-in-flight.sqlite");
  const dest = startDestination();
  dest.respond(async () => {
    await Bun.sleep(2500); // outlives close()'s grace
    return new Response("no", { status: 500 });
  });
  try {
    const broker = await createBroker({ port: 0, db, log: false });
    const auth = { authorization: `Bearer ${broker.token}` };
    const published = await fetch(`${broker.url}/v2/publish/${dest.url}/doomed`, { method: "POST", body: "x", headers: auth });
    const { messageId } = (await published.json()) as { messageId: string };
    await waitUntil(() => dest.received.length === 1, 3000, "the attempt");
    const cancel = await fetch(`${broker.url}/v2/messages/${messageId}`, { method: "DELETE", headers: auth });
    expect(await cancel.json()).toEqual({ cancelled: 1 });
    await broker.close();
    // Its log ends CANCELED once, though the attempt that would have logged it never ended.
    const states = async (b: Awaited<ReturnType<typeof createBroker>>) => {
      const response = await fetch(`${b.url}/v2/events?messageId=${messageId}`, { headers: { authorization: `Bearer ${b.token}` } });
      return ((await response.json()) as { events: { state: string }[] }).events.map((e) => e.state).reverse();
    };
    const next = await createBroker({ port: 0, db, log: false });
    try {
      await Bun.sleep(500);
      expect(dest.received).toHaveLength(1);
      expect((await fetch(`${next.url}/v2/messages/${messageId}`, { headers: { authorization: `Bearer ${next.token}` } })).status).toBe(404);
      expect(await states(next)).toEqual(["CREATED", "ACTIVE", "CANCEL_REQUESTED", "CANCELED"]);
    } finally {
      await next.close();
    }
    const third = await createBroker({ port: 0, db, log: false });
    try {
      expect(await states(third)).toEqual(["CREATED", "ACTIVE", "CANCEL_REQUESTED", "CANCELED"]);
    } finally {
      await third.close();
    }
  } finally {
    dest.close();
  }
});

test("a database file removed while the broker runs: publishes are refused (500), never acknowledged into nowhere", async () => {
  const db = join(dir, "removed", "gone.sqlite");
  const broker = await createBroker({ port: 0, db, log: false });
  try {
    const publish = () =>
      fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/x`, { method: "POST", body: "x", headers: { authorization: `Bearer ${broker.token}`, "upstash-delay": "1h" } });
    expect((await publish()).status).toBe(201);
    rmSync(join(dir, "removed"), { recursive: true, force: true });
    const refused = await publish();
    expect(refused.status).toBe(500);
    expect(((await refused.json()) as { error: string }).error).toMatch(/gone\.sqlite was removed or replaced while the broker ran/);
    expect((await publish()).status).toBe(500);
  } finally {
    await broker.close();
  }
});

test("a queue created through the API while an enqueue to it is staged keeps the API's settings, after a restart too", async () => {
  const db = join(dir, "queue-race.sqlite");
  const broker = await createBroker({ port: 0, db, log: false });
  const auth = { authorization: `Bearer ${broker.token}` };
  const names = Array.from({ length: 10 }, (_, i) => `raced-${i}`);
  await Promise.all(
    names.flatMap((name) => [
      fetch(`${broker.url}/v2/queues`, { method: "POST", headers: auth, body: JSON.stringify({ queueName: name, parallelism: 5, paused: true }) }),
      fetch(`${broker.url}/v2/enqueue/${name}/http://127.0.0.1:9/x`, { method: "POST", headers: auth, body: "x" }),
    ]),
  );
  const settings = async (b: Awaited<ReturnType<typeof createBroker>>) =>
    Promise.all(names.map(async (name) => (await (await fetch(`${b.url}/v2/queues/${name}`, { headers: { authorization: `Bearer ${b.token}` } })).json()) as { parallelism: number; paused: boolean }));
  for (const queue of await settings(broker)) expect(queue).toMatchObject({ parallelism: 5, paused: true });
  await broker.close();
  const next = await createBroker({ port: 0, db, log: false });
  try {
    for (const queue of await settings(next)) expect(queue).toMatchObject({ parallelism: 5, paused: true });
  } finally {
    await next.close();
  }
});
