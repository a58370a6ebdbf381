import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Destination, startBroker, startDestination, type TestBroker } from "./helpers.ts";

// Deduplication ids and content-based deduplication, within a configurable window.

let broker: TestBroker;
let dest: Destination;
beforeAll(async () => {
  broker = await startBroker({ dedupWindow: 300 });
  dest = startDestination();
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

const publish = async (path: string, headers: Record<string, string>, body = "same") => {
  const response = await broker.api(`/v2/publish/${dest.url}${path}`, { method: "POST", headers, body });
  return { status: response.status, json: (await response.json()) as { messageId: string; url: string; deduplicated?: boolean } };
};

test("a second publish with the same id inside the window answers 202 with the first id, and is not delivered", async () => {
  const first = await publish("/dedup-id", { "upstash-deduplication-id": "job-1" });
  const second = await publish("/dedup-id", { "upstash-deduplication-id": "job-1" }, "other body");
  expect(first.status).toBe(201);
  expect(first.json.deduplicated).toBeUndefined();
  expect(second.status).toBe(202);
  expect(second.json).toEqual({ messageId: first.json.messageId, url: `${dest.url}/dedup-id`, deduplicated: true });
  const other = await publish("/dedup-id", { "upstash-deduplication-id": "job-2" });
  expect(other.status).toBe(201);
  await Bun.sleep(100);
  expect(dest.received.filter((r) => r.path === "/dedup-id")).toHaveLength(2);
});

test("after the window the same id is a new message", async () => {
  const first = await publish("/dedup-window", { "upstash-deduplication-id": "w" });
  await Bun.sleep(350);
  const again = await publish("/dedup-window", { "upstash-deduplication-id": "w" });
  expect(again.status).toBe(201);
  expect(again.json.messageId).not.toBe(first.json.messageId);
});

test("content-based deduplication: same destination, body and headers dedupe; a different body does not", async () => {
  const headers = { "upstash-content-based-deduplication": "true", "content-type": "text/plain" };
  const first = await publish("/content", headers, "A");
  const same = await publish("/content", headers, "A");
  const different = await publish("/content", headers, "B");
  const otherType = await publish("/content", { ...headers, "content-type": "application/json" }, "A");
  expect(first.status).toBe(201);
  expect(same.status).toBe(202);
  expect(same.json.messageId).toBe(first.json.messageId);
  expect(different.status).toBe(201);
  expect(otherType.status).toBe(201);
});

test("duplicates inside one batch are deduplicated too", async () => {
  const items = [1, 2].map(() => ({ destination: `${dest.url}/batch-dedup`, headers: { "upstash-deduplication-id": "b" }, body: "x" }));
  const response = await broker.api("/v2/batch", { method: "POST", body: JSON.stringify(items) });
  const [a, b] = (await response.json()) as { messageId: string; deduplicated?: boolean }[];
  expect(b!.messageId).toBe(a!.messageId);
  expect(b!.deduplicated).toBe(true);
});
