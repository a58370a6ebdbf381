import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Outcomes and retries (§4.2): Retry-After > Upstash-Retry-Delay > default backoff; 489
// non-retryable; timeouts; the DLQ entry of a message that failed for good.

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

async function publish(path: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await broker.api(`/v2/publish/${dest.url}${path}`, { method: "POST", headers, body: "payload" });
  expect(response.status).toBe(201);
  return ((await response.json()) as { messageId: string }).messageId;
}

const attempts = (path: string) => dest.received.filter((r) => r.path === path);
const states = (id: string) => broker.events.filter((e) => e.messageId === id).map((e) => e.state);

async function dlqEntry(id: string): Promise<Record<string, unknown>> {
  const { messages } = (await (await broker.api(`/v2/dlq?messageId=${id}`)).json()) as { messages: Record<string, unknown>[] };
  expect(messages).toHaveLength(1);
  return messages[0]!;
}

describe("retries", () => {
  test("a retry-delay expression sets the gaps; Upstash-Retried counts; then FAILED into the DLQ", async () => {
    dest.respond((r) => (r.path === "/expr" ? new Response("nope", { status: 500, headers: { "x-why": "because" } }) : new Response("ok")));
    const id = await publish("/expr", { "upstash-retries": "2", "upstash-retry-delay": "100 * (retried + 1)" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "FAILED");
    const got = attempts("/expr");
    expect(got.map((r) => r.headers.get("upstash-retried"))).toEqual(["0", "1", "2"]);
    expect(new Set(got.map((r) => r.headers.get("upstash-message-id")))).toEqual(new Set([id]));
    const gap1 = got[1]!.at - got[0]!.at;
    const gap2 = got[2]!.at - got[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(90);
    expect(gap1).toBeLessThan(400);
    expect(gap2).toBeGreaterThanOrEqual(190);
    expect(gap2).toBeLessThan(500);
    expect(states(id)).toEqual(["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "FAILED"]);
    const retry = broker.events.find((e) => e.messageId === id && e.state === "RETRY")!;
    expect(retry.nextDeliveryTime).toBeGreaterThan(retry.time);
    const entry = await dlqEntry(id);
    expect(entry).toMatchObject({ messageId: id, responseStatus: 500, responseBody: "nope", body: "payload", maxRetries: 2 });
    expect((entry.responseHeader as Record<string, string[]>)["X-Why"]).toEqual(["because"]);
    expect(entry.dlqId).toStartWith("dlq_");
    await expect(broker.api(`/v2/messages/${id}`)).resolves.toHaveProperty("status", 404);
  });

  test("a large response body: the broker reads and keeps its first 256 KB only (HTTP/1.1 client and fetch)", async () => {
    const big = "0123456789abcdef".repeat(1024 * 1024); // 16 MB
    const streamed = () => {
      // Endless unless the broker stops reading: each pull is one 64 KB part, counted.
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(new TextEncoder().encode(big.slice(0, 64 * 1024)));
        },
      });
      return { response: new Response(body, { status: 500 }), pulls: () => pulls };
    };
    dest.respond((r) => (r.path === "/big" ? new Response(big, { status: 500 }) : new Response("ok")));
    const id = await publish("/big", { "upstash-retries": "0" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "FAILED");
    expect(await dlqEntry(id)).toMatchObject({ responseStatus: 500, responseBody: big.slice(0, 256 * 1024) });

    // Through fetch (Node, Deno, https): an endless body is cut the same way.
    let stream: ReturnType<typeof streamed> | undefined;
    const viaFetch = await startBroker({
      fetch: async () => {
        stream = streamed();
        return stream.response;
      },
    });
    try {
      const response = await viaFetch.api(`/v2/publish/${dest.url}/endless`, { method: "POST", headers: { "upstash-retries": "0" }, body: "x" });
      const { messageId } = (await response.json()) as { messageId: string };
      await viaFetch.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
      const { messages } = (await (await viaFetch.api(`/v2/dlq?messageId=${messageId}`)).json()) as { messages: { responseBody: string }[] };
      expect(messages[0]!.responseBody).toBe(big.slice(0, 64 * 1024).repeat(4));
      expect(stream!.pulls()).toBeLessThan(10);
    } finally {
      await viaFetch.close();
    }
  });

  test("Retry-After (seconds) wins over the expression", async () => {
    let calls = 0;
    dest.respond((r) => (r.path === "/retry-after" && ++calls === 1 ? new Response("later", { status: 429, headers: { "retry-after": "1" } }) : new Response("ok")));
    const id = await publish("/retry-after", { "upstash-retries": "1", "upstash-retry-delay": "60000" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED", 4000);
    const [first, second] = attempts("/retry-after");
    const gap = second!.at - first!.at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(2500);
  });

  test("Retry-After as a duration (1s)", async () => {
    let calls = 0;
    dest.respond((r) => (r.path === "/retry-after-duration" && ++calls === 1 ? new Response("", { status: 503, headers: { "retry-after": "1s" } }) : new Response("ok")));
    const id = await publish("/retry-after-duration", { "upstash-retry-delay": "60000" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED", 4000);
    const [first, second] = attempts("/retry-after-duration");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  test("489 with Upstash-NonRetryable-Error goes straight to the DLQ", async () => {
    dest.respond((r) =>
      r.path === "/poison" ? new Response('{"error":"bad input"}', { status: 489, headers: { "upstash-nonretryable-error": "true" } }) : new Response("ok"),
    );
    const id = await publish("/poison", { "upstash-retries": "5", "upstash-retry-delay": "10" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "FAILED");
    expect(attempts("/poison")).toHaveLength(1);
    expect(await dlqEntry(id)).toMatchObject({ responseStatus: 489, responseBody: '{"error":"bad input"}' });
  });

  test("489 without the header is retried like any failure", async () => {
    let calls = 0;
    dest.respond((r) => (r.path === "/489-plain" && ++calls === 1 ? new Response("", { status: 489 }) : new Response("ok")));
    const id = await publish("/489-plain", { "upstash-retry-delay": "10" });
    await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED");
    expect(attempts("/489-plain")).toHaveLength(2);
  });

  test("an attempt past Upstash-Timeout fails and is retried", async () => {
    let calls = 0;
    dest.respond(async (r) => {
      if (r.path === "/slow" && ++calls === 1) await Bun.sleep(2500);
      return new Response("ok");
    });
    const id = await publish("/slow", { "upstash-timeout": "1s", "upstash-retry-delay": "10" });
    const error = await broker.waitForEvent((e) => e.messageId === id && e.state === "ERROR", 3000);
    expect(error.error).toMatch(/timed out after 1s/);
    await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED", 3000);
  });

  test("an Upstash-Timeout beyond a timer's range (over 24.8 days) does not abort the attempt at once (fetch path)", async () => {
    const viaFetch = await startBroker({ fetch: ((input, init) => fetch(input, init)) as typeof fetch });
    try {
      dest.respond(async (r) => {
        if (r.path === "/long-timeout") await Bun.sleep(50);
        return new Response("ok");
      });
      const response = await viaFetch.api(`/v2/publish/${dest.url}/long-timeout`, {
        method: "POST",
        headers: { "upstash-timeout": "30d", "upstash-retries": "0" },
        body: "x",
      });
      const { messageId } = (await response.json()) as { messageId: string };
      const end = await viaFetch.waitForEvent((e) => e.messageId === messageId && (e.state === "DELIVERED" || e.state === "FAILED"));
      expect([end.state, end.error]).toEqual(["DELIVERED", undefined]);
    } finally {
      await viaFetch.close();
    }
  });

  test("a destination that refuses connections is retried, then failed with the error in the DLQ", async () => {
    const closed = startDestination();
    closed.close();
    const response = await broker.api(`/v2/publish/${closed.url}/down`, {
      method: "POST",
      headers: { "upstash-retries": "1", "upstash-retry-delay": "10" },
      body: "x",
    });
    const { messageId } = (await response.json()) as { messageId: string };
    await broker.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
    const entry = await dlqEntry(messageId);
    expect(entry.responseStatus).toBeUndefined();
    expect(String(entry.error)).not.toBe("");
  });

  test("a slow destination does not hold up other messages", async () => {
    dest.respond(async (r) => {
      if (r.path === "/hang") await Bun.sleep(3000);
      return new Response("ok");
    });
    await publish("/hang", { "upstash-timeout": "5s" });
    await waitUntil(() => attempts("/hang").length === 1);
    const id = await publish("/quick");
    const delivered = await broker.waitForEvent((e) => e.messageId === id && e.state === "DELIVERED", 1000);
    expect(delivered.responseStatus).toBe(200);
  });
});
