// The behaviour every IdempotencyStore must have (DESIGN.md, "The idempotency protocol").
// Each store's test file calls `storeSuite(name, factory)`; the factory gives a fresh, empty store.
import { describe, expect, test } from "bun:test";
import type { IdempotencyStore } from "../src/idempotency.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let n = 0;
const key = () => `key-${Date.now()}-${n++}`;

export function storeSuite(name: string, makeStore: () => IdempotencyStore | Promise<IdempotencyStore>): void {
  describe(`${name}: idempotency store protocol`, () => {
    test("a fresh key is acquired", async () => {
      const store = await makeStore();
      expect(await store.claim(key(), "msg_a", 10_000)).toEqual({ state: "acquired" });
    });

    test("a completed key answers done with the stored result, for any owner", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      await store.complete(k, "msg_a", { sent: true, ids: [1, 2], note: "ok" });
      expect(await store.claim(k, "msg_a", 10_000)).toEqual({ state: "done", result: { sent: true, ids: [1, 2], note: "ok" } });
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result: { sent: true, ids: [1, 2], note: "ok" } });
    });

    test("results keep their JSON types (strings that look like numbers, null, booleans)", async () => {
      const store = await makeStore();
      for (const result of ["123", "true", "null", null, 0, false, [], "", { a: "1" }]) {
        const k = key();
        await store.claim(k, "msg_a", 10_000);
        await store.complete(k, "msg_a", result);
        expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result });
      }
    });

    test("an undefined result is stored as null", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      await store.complete(k, "msg_a", undefined);
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result: null });
    });

    test("a running key held by another owner answers running with that owner", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "running", owner: "msg_a" });
    });

    test("the same owner takes over its own running claim (a retry after a crash)", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      expect(await store.claim(k, "msg_a", 10_000)).toEqual({ state: "acquired" });
      await store.complete(k, "msg_a", 1);
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result: 1 });
    });

    test("an expired lease can be taken by another owner", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 150);
      await sleep(300);
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "acquired" });
      expect(await store.claim(k, "msg_a", 10_000)).toEqual({ state: "running", owner: "msg_b" });
    });

    test("complete does nothing when the owner no longer holds the key", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 150);
      await sleep(300);
      await store.claim(k, "msg_b", 10_000);
      await store.complete(k, "msg_a", "late");
      expect(await store.claim(k, "msg_c", 10_000)).toEqual({ state: "running", owner: "msg_b" });
      await store.complete(k, "msg_b", "winner");
      expect(await store.claim(k, "msg_c", 10_000)).toEqual({ state: "done", result: "winner" });
    });

    test("complete on a key never claimed does nothing", async () => {
      const store = await makeStore();
      const k = key();
      await store.complete(k, "msg_a", "x");
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "acquired" });
    });

    test("release frees the key for the next attempt", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      await store.release(k, "msg_a");
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "acquired" });
    });

    test("release by another owner leaves the claim in place", async () => {
      const store = await makeStore();
      const k = key();
      await store.claim(k, "msg_a", 10_000);
      await store.release(k, "msg_b");
      expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "running", owner: "msg_a" });
    });

    // A null result is checked on its own too: a store may keep it differently (memoryStore does).
    for (const result of ["r", null]) {
      test(`release does not undo a done entry (result ${JSON.stringify(result)})`, async () => {
        const store = await makeStore();
        const k = key();
        await store.claim(k, "msg_a", 10_000);
        await store.complete(k, "msg_a", result);
        await store.release(k, "msg_a");
        expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result });
      });

      test(`a done entry expires after its TTL (result ${JSON.stringify(result)})`, async () => {
        const store = await makeStore();
        const k = key();
        await store.claim(k, "msg_a", 10_000);
        await store.complete(k, "msg_a", result, 150);
        expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "done", result });
        await sleep(300);
        expect(await store.claim(k, "msg_b", 10_000)).toEqual({ state: "acquired" });
      });
    }

    test("concurrent claims of one key: exactly one owner acquires it", async () => {
      const store = await makeStore();
      const k = key();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.claim(k, `msg_${i}`, 10_000)),
      );
      const acquired = results.filter((r) => r.state === "acquired");
      expect(acquired).toHaveLength(1);
      const winner = `msg_${results.findIndex((r) => r.state === "acquired")}`;
      for (const r of results) if (r.state !== "acquired") expect(r).toEqual({ state: "running", owner: winner });
    });

    test("keys are independent", async () => {
      const store = await makeStore();
      const a = key();
      const b = key();
      await store.claim(a, "msg_a", 10_000);
      await store.complete(a, "msg_a", "a");
      expect(await store.claim(b, "msg_b", 10_000)).toEqual({ state: "acquired" });
    });
  });
}
