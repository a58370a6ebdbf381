import { afterAll, beforeAll, expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Callbacks (§4.3): new signed messages to the callback URL with the protocol's bodies.

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

const decode = (b64: string) => new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));

test("a callback gets the response of a delivered message", async () => {
  dest.respond((r) => (r.path === "/work" ? new Response('{"done":true}', { headers: { "x-result": "1" } }) : new Response("ok")));
  const response = await broker.api(`/v2/publish/${dest.url}/work`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "upstash-forward-x-source": "s",
      "upstash-callback": `${dest.url}/callback`,
      "upstash-callback-forward-x-cb-secret": "cb",
    },
    body: '{"job":1}',
  });
  const { messageId } = (await response.json()) as { messageId: string };
  const got = await waitUntil(() => dest.received.find((r) => r.path === "/callback"));
  expect(got.headers.get("x-cb-secret")).toBe("cb");
  expect(got.headers.get("content-type")).toBe("application/json");
  const receiver = new Receiver({ currentSigningKey: broker.signingKeys.current, nextSigningKey: broker.signingKeys.next });
  expect(await receiver.verify({ signature: got.headers.get("upstash-signature")!, body: got.body, url: got.url })).toBe(true);
  const body = JSON.parse(got.body);
  expect(body).toMatchObject({
    status: 200,
    retried: 0,
    maxRetries: 3,
    sourceMessageId: messageId,
    url: `${dest.url}/work`,
    method: "POST",
    sourceHeader: { "Content-Type": ["application/json"], "X-Source": ["s"] },
  });
  expect(decode(body.body)).toBe('{"done":true}');
  expect(decode(body.sourceBody)).toBe('{"job":1}');
  expect(body.header["X-Result"]).toEqual(["1"]);
  expect(typeof body.notBefore).toBe("number");
  expect(typeof body.createdAt).toBe("number");
  expect(body.dlqId).toBeUndefined();
});

test("a failure callback fires once, when the message failed for good, with its dlqId", async () => {
  dest.respond((r) => (r.path === "/broken" ? new Response("kaput", { status: 500 }) : new Response("ok")));
  const response = await broker.api(`/v2/publish/${dest.url}/broken`, {
    method: "POST",
    headers: {
      "upstash-retries": "1",
      "upstash-retry-delay": "10",
      "upstash-failure-callback": `${dest.url}/failed`,
      "upstash-callback": `${dest.url}/every-attempt`,
    },
    body: "b",
  });
  const { messageId } = (await response.json()) as { messageId: string };
  await broker.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
  const failed = await waitUntil(() => dest.received.find((r) => r.path === "/failed"));
  const body = JSON.parse(failed.body);
  expect(body).toMatchObject({ status: 500, retried: 1, maxRetries: 1, sourceMessageId: messageId });
  expect(decode(body.body)).toBe("kaput");
  const { messages } = (await (await broker.api(`/v2/dlq?messageId=${messageId}`)).json()) as { messages: { dlqId: string }[] };
  expect(body.dlqId).toBe(messages[0]!.dlqId);
  // The plain callback fired after each of the two attempts.
  await waitUntil(() => dest.received.filter((r) => r.path === "/every-attempt").length === 2);
  await Bun.sleep(100);
  expect(dest.received.filter((r) => r.path === "/failed")).toHaveLength(1);
});

test("a callback about a message with redacted fields shows its body redacted in the API, and delivers it whole", async () => {
  dest.respond((r) => (r.path.startsWith("/redacted-") ? new Response("no", { status: 500 }) : new Response("ok")));
  const response = await broker.api(`/v2/publish/${dest.url}/redacted-work`, {
    method: "POST",
    headers: {
      "upstash-redact-fields": "body, header[Authorization]",
      "upstash-forward-authorization": "Bearer SECRET-TOKEN",
      "upstash-retries": "0",
      "upstash-failure-callback": `${dest.url}/redacted-callback`,
      "upstash-failure-callback-retries": "0",
    },
    body: "SECRET-CARD",
  });
  const { messageId } = (await response.json()) as { messageId: string };
  const delivered = await waitUntil(() => dest.received.find((r) => r.path === "/redacted-callback"));
  const payload = JSON.parse(delivered.body) as { sourceMessageId: string; sourceBody: string; sourceHeader: Record<string, string[]> };
  expect(payload.sourceMessageId).toBe(messageId);
  expect(decode(payload.sourceBody)).toBe("SECRET-CARD");
  expect(payload.sourceHeader.Authorization).toEqual(["Bearer SECRET-TOKEN"]);
  // The callback failed too: both are in the DLQ, neither shows a secret.
  const entries = await waitUntil(async () => {
    const { messages } = (await (await broker.api("/v2/dlq")).json()) as { messages: { url: string; body?: string; bodyBase64?: string }[] };
    const mine = messages.filter((m) => m.url.includes("/redacted-"));
    return mine.length === 2 ? mine : undefined;
  });
  for (const entry of entries) {
    expect(entry.body).toBe("REDACTED");
    expect(JSON.stringify(entry)).not.toContain("SECRET");
    expect(JSON.stringify(entry)).not.toContain(btoa("SECRET-CARD").slice(0, 12));
  }
});
