// upstashRedisStore on Node 20 (its global fetch and Web Crypto), against the REST endpoint in front
// of a real redis-server: the store's answers, and operations made together sharing requests.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Stack, startStack } from "../../redis/stack.ts";
import { requireBinary } from "../harness.ts";
import { expectedStoreAnswers, storeScript } from "../store-script.ts";

const node = requireBinary("node", Bun.which("node"), "install Node.js >= 20 (https://nodejs.org)");
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

test("upstashRedisStore in Node: claims, duplicates, completion, and one request per batch of operations", async () => {
  const script = await storeScript("node", stack, `node-${crypto.randomUUID()}:`);
  try {
    const before = stack.requests.length;
    const run = Bun.spawn([node, script.file], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual(expectedStoreAnswers());
    // 80 operations in 4 rounds of 20 made together: one request per round, or two when Redis learns
    // a script (EVALSHA, then EVAL), never one per operation.
    expect(stack.requests.length - before).toBeLessThanOrEqual(6);
  } finally {
    script.cleanup();
  }
}, 30_000);
