// upstashRedisStore on Node 20 (its global fetch and Web Crypto), against the REST endpoint in front
// of a real redis-server: the store's answers, and operations made together sharing requests.
import { afterAll, beforeAll, test } from "bun:test";
import { type Stack, startStack } from "../../redis/stack.ts";
import { requireBinary } from "../harness.ts";
import { checkStoreIn } from "../store-script.ts";

const node = requireBinary("node", Bun.which("node"), "install Node.js >= 20 (https://nodejs.org)");
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

test("upstashRedisStore in Node: claims, duplicates, completion, and one request per batch of operations", () =>
  checkStoreIn(stack, "node", (file) => [node, file]), 30_000);
