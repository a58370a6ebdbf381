// upstashRedisStore on Deno (bundled; network and environment access, which @upstash/redis reads),
// against the REST endpoint in front of a real redis-server: the store's answers, and operations
// made together sharing requests.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type Stack, startStack } from "../../redis/stack.ts";
import { requireBinary, root } from "../harness.ts";
import { expectedStoreAnswers, storeScript } from "../store-script.ts";

const deno = requireBinary(
  "deno",
  join(root, "node_modules/.bin/deno"),
  "install it with `npm install` (the `deno` npm package is a devDependency), or see https://docs.deno.com/runtime/getting_started/installation/",
);
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

test("upstashRedisStore in Deno: claims, duplicates, completion, and one request per batch of operations", async () => {
  const script = await storeScript("neutral", stack, `deno-${crypto.randomUUID()}:`);
  try {
    const before = stack.requests.length;
    const run = Bun.spawn([deno, "run", "--quiet", "--no-config", "--allow-net=127.0.0.1", "--allow-env", script.file], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual(expectedStoreAnswers());
    expect(stack.requests.length - before).toBeLessThanOrEqual(6);
  } finally {
    script.cleanup();
  }
}, 30_000);
