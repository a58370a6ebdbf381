import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, Receiver } from "@upstash/qstash";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "../broker/helpers.ts";

// The official @upstash/qstash Client and Receiver, unchanged, against `jobwire dev`.

let broker: TestBroker;
let dest: Destination;
let client: Client;
let receiver: Receiver;

beforeAll(async () => {
  broker = await startBroker();
  dest = startDestination();
  client = new Client({ baseUrl: broker.url, token: broker.token, enableTelemetry: true });
  receiver = new Receiver({ currentSigningKey: broker.signingKeys.current, nextSigningKey: broker.signingKeys.next });
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

const deliveredTo = (path: string) => waitUntil(() => dest.received.find((r) => r.path === path), 5000, `a delivery to ${path}`);

describe("publish", () => {
  test("publish delivers the raw destination (query kept, // kept) with the headers of the protocol, signed", async () => {
    const path = "/raw//double?x=1&y=two";
    const res = await client.publish({
      url: `${dest.url}${path}`,
      body: "plain body ✓",
      headers: { "Content-Type": "text/plain", "X-Custom": "yes" },
      method: "PUT",
    });
    expect(res.messageId).toStartWith("msg_");
    expect(res.url).toBe(`${dest.url}${path}`);
    const got = await deliveredTo(path);
    expect(got.method).toBe("PUT");
    expect(got.body).toBe("plain body ✓");
    expect(got.headers.get("content-type")).toBe("text/plain");
    expect(got.headers.get("x-custom")).toBe("yes");
    expect(got.headers.get("user-agent")).toBe("Upstash-QStash");
    expect(got.headers.get("upstash-message-id")).toBe(res.messageId);
    expect(got.headers.get("upstash-retried")).toBe("0");
    expect(got.headers.get("upstash-telemetry-sdk")).toBeNull();
    expect(await receiver.verify({ signature: got.headers.get("upstash-signature")!, body: got.body, url: got.url })).toBe(true);
    // The signature is bound to the body and the URL.
    await expect(receiver.verify({ signature: got.headers.get("upstash-signature")!, body: `${got.body}!`, url: got.url })).rejects.toThrow();
  });

  test("publishJSON sends JSON, and messages.get shows the stored message", async () => {
    const res = await client.publishJSON({ url: `${dest.url}/json`, body: { hello: "world" }, delay: 60, retries: 2, label: "lbl" });
    const message = await client.messages.get(res.messageId);
    expect(message.messageId).toBe(res.messageId);
    expect(message.url).toBe(`${dest.url}/json`);
    expect(message.body).toBe('{"hello":"world"}');
    expect(message.header?.["Content-Type"]).toEqual(["application/json"]);
    expect(message.maxRetries).toBe(2);
    expect(message.method).toBe("POST");
    expect(message.notBefore).toBeGreaterThan(Date.now() + 50_000);
    expect(message.labels).toEqual(["lbl"]);
    await client.messages.delete(res.messageId);
    await expect(client.messages.get(res.messageId)).rejects.toThrow(/not found/);
  });

  test("batchJSON publishes each item and answers one entry per item", async () => {
    const res = await client.batchJSON([
      { url: `${dest.url}/batch/1`, body: { n: 1 } },
      { url: `${dest.url}/batch/2`, body: { n: 2 } },
      { url: `${dest.url}/batch/3`, body: { n: 3 }, queueName: "batch-queue" },
    ]);
    expect(res).toHaveLength(3);
    for (const r of res) expect((r as { messageId: string }).messageId).toStartWith("msg_");
    const third = await deliveredTo("/batch/3");
    expect(JSON.parse(third.body)).toEqual({ n: 3 });
    await deliveredTo("/batch/1");
    await deliveredTo("/batch/2");
    expect((await client.queue({ queueName: "batch-queue" }).get()).name).toBe("batch-queue");
  });

  test("a deduplication id makes the second publish a no-op answering the first id", async () => {
    const first = await client.publishJSON({ url: `${dest.url}/dedup`, body: {}, deduplicationId: "same", delay: 30 });
    const second = await client.publishJSON({ url: `${dest.url}/dedup`, body: {}, deduplicationId: "same", delay: 30 });
    expect(second.messageId).toBe(first.messageId);
    expect(second.deduplicated).toBe(true);
    await client.messages.cancel(first.messageId);
  });
});

describe("queues", () => {
  test("upsert, get, list, pause, enqueue (held), resume (delivered), delete", async () => {
    const queue = client.queue({ queueName: "compat-q" });
    await queue.upsert({ parallelism: 2 });
    const info = await queue.get();
    expect(info).toMatchObject({ name: "compat-q", parallelism: 2, paused: false, lag: 0 });
    expect((await queue.list()).map((q) => q.name)).toContain("compat-q");
    await queue.pause();
    expect((await queue.get()).paused).toBe(true);
    const res = await queue.enqueueJSON({ url: `${dest.url}/queued`, body: { q: 1 } });
    await Bun.sleep(150);
    expect(dest.received.some((r) => r.path === "/queued")).toBe(false);
    expect((await queue.get()).lag).toBe(1);
    expect((await client.messages.get(res.messageId)).queueName).toBe("compat-q");
    await queue.resume();
    await deliveredTo("/queued");
    await queue.delete();
    await expect(queue.get()).rejects.toThrow(/not found/);
  });
});

describe("messages", () => {
  test("cancel many by id and by filter", async () => {
    const a = await client.publishJSON({ url: `${dest.url}/cancel/a`, body: {}, delay: 60 });
    const b = await client.publishJSON({ url: `${dest.url}/cancel/b`, body: {}, delay: 60 });
    const c = await client.publishJSON({ url: `${dest.url}/cancel/c`, body: {}, delay: 60, label: "to-cancel" });
    expect(await client.messages.cancel([a.messageId, b.messageId])).toEqual({ cancelled: 2 });
    expect(await client.messages.cancel({ filter: { label: "to-cancel" } })).toEqual({ cancelled: 1 });
    await expect(client.messages.get(c.messageId)).rejects.toThrow();
  });
});

describe("DLQ", () => {
  test("a failing message lands in the DLQ; list, retry (delivered again), delete", async () => {
    dest.respond((r) => (r.path.startsWith("/fails") && !r.path.includes("fixed") ? new Response("boom", { status: 500 }) : new Response("ok")));
    try {
      const one = await client.publishJSON({ url: `${dest.url}/fails/1`, body: { x: 1 }, retries: 0 });
      const two = await client.publishJSON({ url: `${dest.url}/fails/2`, body: { x: 2 }, retries: 0 });
      await broker.waitForEvent((e) => e.messageId === two.messageId && e.state === "FAILED");
      await broker.waitForEvent((e) => e.messageId === one.messageId && e.state === "FAILED");
      const { messages } = await client.dlq.listMessages({ filter: { url: `${dest.url}/fails/1` } });
      expect(messages).toHaveLength(1);
      const entry = messages[0]!;
      expect(entry.messageId).toBe(one.messageId);
      expect(entry.responseStatus).toBe(500);
      expect(entry.responseBody).toBe("boom");
      expect(entry.body).toBe('{"x":1}');

      dest.respond(() => new Response("ok"));
      const retried = await client.dlq.retry(entry.dlqId);
      expect(retried.responses).toHaveLength(1);
      await broker.waitForEvent((e) => e.messageId === retried.responses[0]!.messageId && e.state === "DELIVERED");
      expect((await client.dlq.listMessages({ filter: { url: `${dest.url}/fails/1` } })).messages).toHaveLength(0);

      const other = (await client.dlq.listMessages({ filter: { url: `${dest.url}/fails/2` } })).messages[0]!;
      expect(await client.dlq.delete(other.dlqId)).toEqual({ deleted: 1 });
      await expect(client.dlq.delete(other.dlqId)).rejects.toThrow(/not found/);
    } finally {
      dest.respond(() => new Response("ok"));
    }
  });

  test("a retry loop over a filter ends, even when the retried messages fail back into the DLQ", async () => {
    dest.respond(() => new Response("still failing", { status: 500 }));
    try {
      const url = `${dest.url}/fails-again`;
      for (let i = 0; i < 3; i++) {
        const { messageId } = await client.publishJSON({ url, body: { i }, retries: 0 });
        await broker.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
      }
      let cursor: string | undefined;
      let calls = 0;
      let retried = 0;
      do {
        const result = await client.dlq.retry({ filter: { url }, count: 1, cursor });
        retried += result.responses.length;
        for (const { messageId } of result.responses) await broker.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
        cursor = result.cursor;
      } while (cursor && ++calls < 10);
      expect({ calls, retried, cursor }).toEqual({ calls: 2, retried: 3, cursor: undefined });
      // Each failed again: three entries, all new.
      expect((await client.dlq.listMessages({ filter: { url } })).messages).toHaveLength(3);
    } finally {
      dest.respond(() => new Response("ok"));
    }
  });

  test("listMessages pages with a cursor", async () => {
    dest.respond(() => new Response("no", { status: 400 }));
    try {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await client.publishJSON({ url: `${dest.url}/page`, body: { i }, retries: 0 })).messageId);
      for (const id of ids) await broker.waitForEvent((e) => e.messageId === id && e.state === "FAILED");
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await client.dlq.listMessages({ count: 2, cursor, filter: { url: `${dest.url}/page` } });
        seen.push(...page.messages.map((m) => m.messageId));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual([...ids].sort());
      const deleted = await client.dlq.delete({ all: true, count: 100 });
      expect(deleted.deleted).toBeGreaterThanOrEqual(5);
    } finally {
      dest.respond(() => new Response("ok"));
    }
  });

  test("order=latestFirst lists newest first, paging downwards; earliestFirst is the default; another order is a 400", async () => {
    const url = "http://127.0.0.1:9/ordered";
    const items = Array.from({ length: 5 }, (_, i) => ({ destination: `${url}/${i}`, headers: { "upstash-retries": "0" }, body: String(i) }));
    expect((await broker.api("/v2/batch", { method: "POST", body: JSON.stringify(items) })).status).toBe(201);
    const page = async (order: string, cursor?: string) => {
      const response = await broker.api(`/v2/dlq?count=2${order}${cursor ? `&cursor=${cursor}` : ""}`);
      return (await response.json()) as { messages: { dlqId: string }[]; cursor?: string };
    };
    const walk = async (order: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const p = await page(order, cursor);
        ids.push(...p.messages.map((m) => m.dlqId));
        cursor = p.cursor;
      } while (cursor);
      return ids;
    };
    await waitUntil(async () => (await walk("")).length >= 5, 10_000, "5 DLQ entries");
    const earliest = await walk("");
    expect(await walk("&order=earliestFirst")).toEqual(earliest);
    expect(await walk("&order=latestFirst")).toEqual([...earliest].reverse());
    expect((await broker.api("/v2/dlq?order=newest")).status).toBe(400);
    await client.dlq.delete(earliest);
  }, 20_000);

  test("retry and delete by a list of ids act on every id, however many (the SDK sends no count and does not page)", async () => {
    const url = "http://127.0.0.1:9/refused";
    const items = Array.from({ length: 150 }, (_, i) => ({ destination: `${url}/${i}`, headers: { "upstash-retries": "0" }, body: String(i) }));
    const published = (await (await broker.api("/v2/batch", { method: "POST", body: JSON.stringify(items) })).json()) as { messageId: string }[];
    expect(published).toHaveLength(150);
    const dlqIds = async (): Promise<string[]> => {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.dlq.listMessages({ cursor, count: 100 });
        all.push(...page.messages.filter((m) => m.url.startsWith(url)).map((m) => m.dlqId));
        cursor = page.cursor;
      } while (cursor);
      return all;
    };
    await waitUntil(async () => (await dlqIds()).length === 150, 10_000, "150 DLQ entries");
    const retried = await client.dlq.retry(await dlqIds());
    expect(retried.responses).toHaveLength(150);
    await waitUntil(async () => (await dlqIds()).length === 150, 10_000, "the 150 retried messages back in the DLQ");
    const deleted = await client.dlq.delete(await dlqIds());
    expect(deleted.deleted).toBe(150);
    expect(await dlqIds()).toEqual([]);
  }, 30_000);
});

describe("logs", () => {
  test("logs by message id show the states in order, newest first", async () => {
    const res = await client.publishJSON({ url: `${dest.url}/logged`, body: {} });
    await broker.waitForEvent((e) => e.messageId === res.messageId && e.state === "DELIVERED");
    const { logs } = await client.logs({ messageIds: [res.messageId] });
    expect(logs.map((l) => l.state)).toEqual(["DELIVERED", "ACTIVE", "CREATED"]);
    const delivered = await client.logs({ filter: { state: "DELIVERED", url: `${dest.url}/logged` } });
    expect(delivered.logs).toHaveLength(1);
  });
});

describe("schedules", () => {
  test("create, get, list, pause, resume, delete", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${dest.url}/scheduled`,
      cron: "CRON_TZ=Europe/Berlin 0 9 * * 1",
      body: JSON.stringify({ s: 1 }),
      retries: 1,
      delay: 5,
      label: "sched",
    });
    expect(scheduleId).toStartWith("scd_");
    const schedule = await client.schedules.get(scheduleId);
    expect(schedule).toMatchObject({
      scheduleId,
      cron: "CRON_TZ=Europe/Berlin 0 9 * * 1",
      destination: `${dest.url}/scheduled`,
      method: "POST",
      body: '{"s":1}',
      retries: 1,
      delay: 5,
      isPaused: false,
      label: "sched",
    });
    expect(schedule.nextScheduleTime).toBeGreaterThan(Date.now());
    expect((await client.schedules.list()).map((s) => s.scheduleId)).toContain(scheduleId);
    await client.schedules.pause({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(true);
    await client.schedules.resume({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(false);
    await client.schedules.delete(scheduleId);
    await expect(client.schedules.get(scheduleId)).rejects.toThrow(/not found/);
  });

  test("a schedule with a given id is overwritten; a seconds cron fires with Upstash-Schedule-Id", async () => {
    await client.schedules.create({ destination: `${dest.url}/tick-old`, cron: "0 0 1 1 *", scheduleId: "every-second" });
    await client.schedules.create({ destination: `${dest.url}/tick`, cron: "* * * * * *", scheduleId: "every-second" });
    expect((await client.schedules.get("every-second")).destination).toBe(`${dest.url}/tick`);
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/tick"), 3000, "a scheduled delivery");
    expect(got.headers.get("upstash-schedule-id")).toBe("every-second");
    await client.schedules.delete("every-second");
  });
});

describe("URL groups", () => {
  test("addEndpoints, get, list, publish fans out, removeEndpoints, delete", async () => {
    await client.urlGroups.addEndpoints({
      name: "group",
      endpoints: [{ name: "one", url: `${dest.url}/group/1` }, { url: `${dest.url}/group/2` }],
    });
    const group = await client.urlGroups.get("group");
    expect(group.endpoints).toEqual([{ name: "one", url: `${dest.url}/group/1` }, { url: `${dest.url}/group/2` }]);
    expect((await client.urlGroups.list()).map((g) => g.name)).toContain("group");

    const res = await client.publishJSON({ urlGroup: "group", body: { fan: "out" } });
    expect(res).toHaveLength(2);
    expect(res.map((r) => r.url).sort()).toEqual([`${dest.url}/group/1`, `${dest.url}/group/2`]);
    const one = await deliveredTo("/group/1");
    expect(one.headers.get("upstash-topic-name")).toBe("group");
    await deliveredTo("/group/2");
    // The event log filters by endpoint name.
    const named = async (name: string) =>
      ((await (await broker.api(`/v2/events?topicName=group&endpointName=${name}`)).json()) as { events: { url: string }[] }).events;
    const ofOne = await named("one");
    expect(ofOne.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ofOne.map((e) => e.url))).toEqual(new Set([`${dest.url}/group/1`]));
    expect(await named("zzz")).toEqual([]);

    await client.urlGroups.removeEndpoints({ name: "group", endpoints: [{ name: "one" }] });
    expect((await client.urlGroups.get("group")).endpoints).toEqual([{ url: `${dest.url}/group/2` }]);
    await client.urlGroups.delete("group");
    await expect(client.urlGroups.get("group")).rejects.toThrow(/not found/);
  });
});

describe("flow control", () => {
  test("flowControl.get and getGlobalParallelism answer what the broker tracks", async () => {
    await client.publishJSON({ url: `${dest.url}/flow`, body: {}, flowControl: { key: "fc-compat", parallelism: 3, rate: 10, period: "1m" } });
    await deliveredTo("/flow");
    const info = await client.flowControl.get("fc-compat");
    expect(info).toMatchObject({ flowControlKey: "fc-compat", parallelismMax: 3, rateMax: 10, ratePeriod: 60, isPaused: false });
    await client.flowControl.pause("fc-compat");
    expect((await client.flowControl.get("fc-compat")).isPaused).toBe(true);
    await client.flowControl.resume("fc-compat");
    const global = await client.flowControl.getGlobalParallelism();
    expect(global.parallelismMax).toBe(256);
  });
});
