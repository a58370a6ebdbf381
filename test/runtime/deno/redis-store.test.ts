// upstashRedisStore on Deno (bundled; network and environment access, which @upstash/redis reads),
// against the REST endpoint in front of a real redis-server: the store's answers, and operations
// made together sharing requests.
import { afterAll, beforeAll, test } from "bun:test";
import { join } from "node:path";
import { type Stack, startStack } from "../../redis/stack.ts";
import { requireBinary, root } from "../harness.ts";
import { checkStoreIn } from "../store-script.ts";

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

test("upstashRedisStore in Deno: claims, duplicates, completion, and one request per batch of operations", () =>
  checkStoreIn(stack, "neutral", (file) => [deno, "run", "--quiet", "--no-config", "--allow-net=127.0.0.1", "--allow-env", file]), 30_000);
