import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Delay and not-before, cancel, the event log and its paging, labels and redaction.

let broker: TestBroker;
let dest: Destination;
beforeAll(async () => {
  broker = await startBroker();
  dest = startDestination();
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

async function publish(path: string, headers: Record<string, string> = {}, body = "b"): Promise<string> {
  const response = await broker.api(`/v2/publish/${dest.url}${path}`, { method: "POST", headers, body });
  expect(response.status).toBe(201);
  return ((await response.json()) as { messageId: string }).messageId;
}
const states = (id: string) => broker.events.filter((e) => e.messageId === id).map((e) => e.state);

describe("timing", () => {
  test("Upstash-Delay holds a message, and GET shows it meanwhile", async () => {
    const start = Date.now();
    const id = await publish("/delayed", { "upstash-delay": "1s" });
    const message = (await (await broker.api(`/v2/messages/${id}`)).json()) as { notBefore: number };
    expect(message.notBefore).toBeGreaterThanOrEqual(start + 1000);
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/delayed"), 3000);
    expect(got.at - start).toBeGreaterThanOrEqual(950);
  });

  test("Upstash-Not-Before (unix seconds) wins over the delay", async () => {
    const start = Date.now();
    const notBefore = Math.ceil(start / 1000) + 1;
    await publish("/not-before", { "upstash-delay": "1h", "upstash-not-before": String(notBefore) });
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/not-before"), 3000);
    expect(got.at).toBeGreaterThanOrEqual(notBefore * 1000 - 20);
  });
});

describe("cancel", () => {
  test("a delayed message: CANCEL_REQUESTED, CANCELED, never delivered", async () => {
    const id = await publish("/cancel-delayed", { "upstash-delay": "1s" });
    const response = await broker.api(`/v2/messages/${id}`, { method: "DELETE" });
    expect(await response.json()).toEqual({ cancelled: 1 });
    expect(states(id)).toEqual(["CREATED", "CANCEL_REQUESTED", "CANCELED"]);
    expect((await broker.api(`/v2/messages/${id}`)).status).toBe(404);
    await Bun.sleep(1200);
    expect(dest.received.some((r) => r.path === "/cancel-delayed")).toBe(false);
  });

  test("a message in flight finishes its attempt but is not retried", async () => {
    dest.respond(async (r) => {
      if (r.path === "/cancel-active") {
        await Bun.sleep(300);
        return new Response("", { status: 500 });
      }
      return new Response("ok");
    });
    const id = await publish("/cancel-active", { "upstash-retry-delay": "10" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "ACTIVE");
    expect((await broker.api(`/v2/messages/${id}`, { method: "DELETE" })).status).toBe(200);
    await broker.waitForEvent((e) => e.messageId === id && e.state === "CANCELED");
    expect(states(id)).toEqual(["CREATED", "ACTIVE", "CANCEL_REQUESTED", "ERROR", "CANCELED"]);
    await Bun.sleep(100);
    expect(dest.received.filter((r) => r.path === "/cancel-active")).toHaveLength(1);
    dest.respond(() => new Response("ok"));
  });

  test("bulk cancel by queue, and by JSON body ids", async () => {
    await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "to-cancel", parallelism: 1, paused: true }) });
    for (let i = 0; i < 3; i++) await broker.api(`/v2/enqueue/to-cancel/${dest.url}/q${i}`, { method: "POST", body: "" });
    const byQueue = await broker.api("/v2/messages?queueName=to-cancel", { method: "DELETE" });
    expect(await byQueue.json()).toEqual({ cancelled: 3 });
    const a = await publish("/bulk-a", { "upstash-delay": "1h" });
    const b = await publish("/bulk-b", { "upstash-delay": "1h" });
    const byBody = await broker.api("/v2/messages", { method: "DELETE", body: JSON.stringify({ messageIds: [a, b, "msg_unknown"] }) });
    expect(await byBody.json()).toEqual({ cancelled: 2 });
  });
});

describe("events", () => {
  test("paging with count and cursor returns every event once, newest first", async () => {
    const id = await publish("/paged");
    await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED");
    const first = (await (await broker.api(`/v2/events?messageIds=${id}&count=2`)).json()) as { events: { state: string }[]; cursor?: string };
    expect(first.events.map((e) => e.state)).toEqual(["DELIVERED", "ACTIVE"]);
    expect(first.cursor).toBeString();
    const second = (await (await broker.api(`/v2/events?messageIds=${id}&count=2&cursor=${first.cursor}`)).json()) as { events: { state: string }[]; cursor?: string };
    expect(second.events.map((e) => e.state)).toEqual(["CREATED"]);
    expect(second.cursor).toBeUndefined();
    const logs = (await (await broker.api(`/v2/logs?messageId=${id}&state=CREATED`)).json()) as { logs: { state: string; url: string }[] };
    expect(logs.logs).toEqual([expect.objectContaining({ state: "CREATED", url: `${dest.url}/paged` })]);
  });

  test("labels show in messages and events and filter them", async () => {
    const id = await publish("/labelled", { "upstash-label": "billing,urgent", "upstash-delay": "1h" });
    const message = (await (await broker.api(`/v2/messages/${id}`)).json()) as { label: string; labels: string[] };
    expect(message).toMatchObject({ label: "billing", labels: ["billing", "urgent"] });
    const events = (await (await broker.api("/v2/events?label=urgent")).json()) as { events: { messageId: string }[] };
    expect(events.events.map((e) => e.messageId)).toEqual([id]);
    await broker.api(`/v2/messages/${id}`, { method: "DELETE" });
  });

  test("a label filter matches the label exactly: no wildcards, no case folding", async () => {
    const ids: Record<string, string> = {};
    for (const label of ["lbl_x", "lblAx", "LBL_X", "lbl%"]) ids[label] = await publish(`/label/${label}`, { "upstash-label": label, "upstash-delay": "1h" });
    const labelled = async (label: string) =>
      ((await (await broker.api(`/v2/events?label=${encodeURIComponent(label)}&state=CREATED`)).json()) as { events: { messageId: string }[] }).events.map((e) => e.messageId);
    expect(await labelled("lbl_x")).toEqual([ids.lbl_x!]);
    expect(await labelled("lbl%")).toEqual([ids["lbl%"]!]);
    expect(await labelled("%")).toEqual([]);
    const cancel = await broker.api("/v2/messages?label=lbl_x", { method: "DELETE" });
    expect(await cancel.json()).toEqual({ cancelled: 1 });
    for (const label of ["lblAx", "LBL_X", "lbl%"]) expect((await broker.api(`/v2/messages/${ids[label]}`)).status).toBe(200);
    for (const label of ["lblAx", "LBL_X", "lbl%"]) await broker.api(`/v2/messages/${ids[label]}`, { method: "DELETE" });
  });

  test("Upstash-Caller-Ip: the publisher's address is delivered, shown and filterable (publish, enqueue, batch)", async () => {
    const id = await publish("/caller", { "upstash-delay": "1s" });
    const message = (await (await broker.api(`/v2/messages/${id}`)).json()) as { callerIp?: string };
    expect(message.callerIp).toBe("127.0.0.1");
    const enqueued = await broker.api(`/v2/enqueue/caller-queue/${dest.url}/caller-enqueued`, { method: "POST", body: "e" });
    expect(enqueued.status).toBe(201);
    const batch = await broker.api("/v2/batch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ destination: `${dest.url}/caller-batch`, body: "b" }]),
    });
    expect(batch.status).toBe(201);
    for (const path of ["/caller", "/caller-enqueued", "/caller-batch"]) {
      const got = await waitUntil(() => dest.received.find((r) => r.path === path), 3000);
      expect(got.headers.get("upstash-caller-ip")).toBe("127.0.0.1");
    }
    // A bulk cancel filters on it.
    const other = await publish("/caller-filtered", { "upstash-delay": "1h" });
    const cancel = async (query: string) =>
      ((await (await broker.api(`/v2/messages?${query}`, { method: "DELETE" })).json()) as { cancelled: number }).cancelled;
    expect(await cancel(`callerIp=10.9.9.9&url=${encodeURIComponent(`${dest.url}/caller-filtered`)}`)).toBe(0);
    expect(await cancel(`callerIp=127.0.0.1&url=${encodeURIComponent(`${dest.url}/caller-filtered`)}`)).toBe(1);
    expect((await broker.api(`/v2/messages/${other}`)).status).toBe(404);
    // So does the event log: an accepted filter always filters.
    const logged = async (query: string) =>
      ((await (await broker.api(`/v2/logs?${query}&messageId=${other}`)).json()) as { logs: { messageId: string; callerIp?: string }[] }).logs;
    expect(await logged("callerIp=10.9.9.9")).toEqual([]);
    const mine = await logged("callerIp=127.0.0.1");
    expect(mine.length).toBeGreaterThanOrEqual(2); // CREATED, CANCEL_REQUESTED, CANCELED
    expect(mine.every((e) => e.callerIp === "127.0.0.1")).toBe(true);
  });

  test("redacted fields are hidden in the API and delivered unchanged", async () => {
    const id = await publish(
      "/redacted",
      { "upstash-redact-fields": "body, header[Authorization]", "upstash-forward-authorization": "Bearer secret", "upstash-delay": "1s" },
      "secret body",
    );
    const message = (await (await broker.api(`/v2/messages/${id}`)).json()) as { body: string; header: Record<string, string[]> };
    expect(message.body).toBe("REDACTED");
    expect(message.header.Authorization).toEqual(["REDACTED"]);
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/redacted"), 3000);
    expect(got.body).toBe("secret body");
    expect(got.headers.get("authorization")).toBe("Bearer secret");
  });

  test("a non-UTF-8 body is shown as bodyBase64 and delivered byte for byte", async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0xfe, 0x41]);
    const response = await broker.api(`/v2/publish/${dest.url}/binary`, { method: "POST", headers: { "upstash-delay": "1s" }, body: bytes });
    const { messageId } = (await response.json()) as { messageId: string };
    const message = (await (await broker.api(`/v2/messages/${messageId}`)).json()) as { body?: string; bodyBase64?: string };
    expect(message.body).toBeUndefined();
    expect(message.bodyBase64).toBe(btoa(String.fromCharCode(...bytes)));
  });
});

describe("methods", () => {
  test("GET and HEAD are delivered without the body, signed over the empty body they carry", async () => {
    for (const method of ["GET", "HEAD"]) {
      const path = `/method-${method}`;
      await publish(path, { "upstash-method": method }, "a body a GET cannot carry");
      const got = await waitUntil(() => dest.received.find((r) => r.path === path), 3000);
      expect({ method: got.method, body: got.body }).toEqual({ method, body: "" });
      const receiver = new Receiver({ currentSigningKey: broker.signingKeys.current, nextSigningKey: broker.signingKeys.next });
      expect(await receiver.verify({ signature: got.headers.get("upstash-signature")!, body: "", url: got.url })).toBe(true);
    }
  });
});
