import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
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

test("a broker that cannot start (its port taken by another on the same file) delivers nothing of that file", async () => {
  const db = join(dir, "second.sqlite");
  const dest = startDestination();
  dest.respond(async () => {
    await Bun.sleep(1000);
    return new Response("ok");
  });
  const first = await createBroker({ port: 0, db, log: false });
  try {
    const published = await fetch(`${first.url}/v2/publish/${dest.url}/slow`, { method: "POST", body: "x", headers: { authorization: `Bearer ${first.token}` } });
    expect(published.status).toBe(201);
    await waitUntil(() => dest.received.length === 1, 3000, "the first broker's attempt");
    await expect(createBroker({ port: first.port, db, log: false })).rejects.toThrow(/already in use/);
    await Bun.sleep(300);
    expect(dest.received).toHaveLength(1);
  } finally {
    await first.close();
    dest.close();
  }
});
