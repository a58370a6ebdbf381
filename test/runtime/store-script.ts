// upstashRedisStore outside Bun: one script, bundled with esbuild for a runtime (`@upstash/redis`
// and jobwire's adapter inside), run there against the REST endpoint in front of a real
// redis-server (test/redis/stack.ts, in the test's own process). It prints one JSON line of what
// the store answered, which `checkStoreIn` compares, for the runtime tests in node/ and deno/.
import { expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Stack } from "../redis/stack.ts";
import { root } from "./harness.ts";

const SCRIPT = `
import { Redis } from "@upstash/redis";
import { upstashRedisStore } from ${JSON.stringify(join(root, "adapters/upstash-redis.ts"))};

// STORE_URL, STORE_TOKEN and STORE_PREFIX are replaced by the bundler (esbuild's define).
const store = upstashRedisStore(new Redis({ url: STORE_URL, token: STORE_TOKEN, retry: { retries: 0 }, enableTelemetry: false }), { prefix: STORE_PREFIX });
const out = {};
// Twenty jobs at once; then each key claimed again by another message, completed, claimed once more.
const keys = Array.from({ length: 20 }, (_, i) => "k" + i);
out.first = await Promise.all(keys.map((key) => store.claim(key, "msg_" + key, 10_000)));
out.other = await Promise.all(keys.map((key) => store.claim(key, "msg_other", 10_000)));
await Promise.all(keys.map((key, i) => store.complete(key, "msg_" + key, { n: i })));
out.done = await Promise.all(keys.map((key) => store.claim(key, "msg_late", 10_000)));
console.log(JSON.stringify(out));
`;

/** Bundles the script for `platform`, with the endpoint's URL and token and a fresh key prefix baked in. */
async function storeScript(platform: "node" | "neutral", endpoint: { url: string; token: string }, prefix: string): Promise<{ file: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-store-script-"));
  const entry = join(dir, "entry.mjs");
  writeFileSync(entry, SCRIPT);
  const file = join(dir, "store.mjs");
  await build({
    entryPoints: [entry],
    bundle: true,
    platform,
    format: "esm",
    target: "es2022",
    outfile: file,
    define: { STORE_URL: JSON.stringify(endpoint.url), STORE_TOKEN: JSON.stringify(endpoint.token), STORE_PREFIX: JSON.stringify(prefix) },
    nodePaths: [join(root, "node_modules")], // the script sits in a temp dir
    logLevel: "silent",
    ...(platform === "neutral" ? { conditions: ["deno", "worker", "browser"], mainFields: ["module", "main"] } : {}),
  });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs the script in a runtime (`command` gets the bundle's path) and checks what the store answered,
 * and that operations made together shared requests.
 */
export async function checkStoreIn(stack: Stack, platform: "node" | "neutral", command: (file: string) => string[]): Promise<void> {
  const script = await storeScript(platform, stack, `${platform}-${crypto.randomUUID()}:`);
  try {
    const before = stack.requests.length;
    const run = Bun.spawn(command(script.file), { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual(expectedStoreAnswers());
    // 80 operations in 4 rounds of 20 made together: one request per round, or two when Redis learns
    // a script (EVALSHA, then EVAL), never one per operation.
    expect(stack.requests.length - before).toBeLessThanOrEqual(6);
  } finally {
    script.cleanup();
  }
}

/** What the script must print, for `prefix`'s fresh keys. */
function expectedStoreAnswers() {
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  return {
    first: keys.map(() => ({ state: "acquired" })),
    other: keys.map((key) => ({ state: "running", owner: `msg_${key}` })),
    done: keys.map((_, i) => ({ state: "done", result: { n: i } })),
  };
}
