import { describe, expect, test } from "bun:test";
import { storeSuite } from "../test/store-suite.ts";
import { memoryStore } from "./idempotency.ts";

storeSuite("memoryStore", () => memoryStore());

describe("memoryStore: maxEntries", () => {
  test("must be a whole number, at least 1", () => {
    for (const maxEntries of [0, -5, 1.5, Number.NaN]) {
      expect(() => memoryStore({ maxEntries }), String(maxEntries)).toThrow(/maxEntries must be a whole number, at least 1/);
    }
    expect(() => memoryStore({ maxEntries: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  const done = async (store: ReturnType<typeof memoryStore>, key: string, owner = `msg_${key}`) => {
    await store.claim(key, owner, 60_000);
    await store.complete(key, owner, key);
  };

  test("past the bound, the oldest done entries are dropped and their keys can run again", async () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d", "e"]) await done(store, key);
    expect(store.size).toBe(3);
    expect(await store.claim("c", "msg_x", 60_000)).toEqual({ state: "done", result: "c" });
    expect(await store.claim("e", "msg_x", 60_000)).toEqual({ state: "done", result: "e" });
    // "a" was dropped: a duplicate of it runs again. Claiming it drops "b", now the oldest done entry.
    expect(await store.claim("a", "msg_x", 60_000)).toEqual({ state: "acquired" });
    expect(await store.claim("b", "msg_x", 60_000)).toEqual({ state: "acquired" });
  });

  test("age counts from completion: an entry completed later outlives one claimed later", async () => {
    const store = memoryStore({ maxEntries: 2 });
    await store.claim("slow", "msg_slow", 60_000);
    await done(store, "fast");
    await store.complete("slow", "msg_slow", "slow");
    await done(store, "next");
    expect(await store.claim("slow", "msg_x", 60_000)).toEqual({ state: "done", result: "slow" });
    expect(await store.claim("fast", "msg_x", 60_000)).toEqual({ state: "acquired" });
  });

  test("running claims are never dropped, even past the bound", async () => {
    const store = memoryStore({ maxEntries: 2 });
    await done(store, "old");
    for (const key of ["r1", "r2", "r3"]) expect(await store.claim(key, `msg_${key}`, 60_000)).toEqual({ state: "acquired" });
    expect(store.size).toBe(3);
    for (const key of ["r1", "r2", "r3"]) {
      expect(await store.claim(key, "msg_other", 60_000)).toEqual({ state: "running", owner: `msg_${key}` });
    }
    expect(await store.claim("old", "msg_x", 60_000)).toEqual({ state: "acquired" });
  });

  test("done entries with a null result are bounded and dropped oldest first too", async () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) {
      await store.claim(key, `msg_${key}`, 60_000);
      await store.complete(key, `msg_${key}`, key === "c" ? "kept" : null);
    }
    expect(store.size).toBe(3);
    expect(await store.claim("b", "msg_x", 60_000)).toEqual({ state: "done", result: null });
    expect(await store.claim("c", "msg_x", 60_000)).toEqual({ state: "done", result: "kept" });
    expect(await store.claim("d", "msg_x", 60_000)).toEqual({ state: "done", result: null });
    expect(await store.claim("a", "msg_x", 60_000)).toEqual({ state: "acquired" });
  });

  test("by default it holds 100,000 entries", async () => {
    const store = memoryStore();
    for (let i = 0; i < 100_005; i++) await done(store, `k${i}`);
    expect(store.size).toBe(100_000);
    expect(await store.claim("k5", "msg_x", 60_000)).toEqual({ state: "done", result: "k5" });
    expect(await store.claim("k4", "msg_x", 60_000)).toEqual({ state: "acquired" });
  });
});
