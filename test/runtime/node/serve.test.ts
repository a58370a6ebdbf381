// The broker's node:http server path (src/broker/server.ts), in real Node: Bun and Deno serve with
// their own servers, and the broker itself cannot run on Node 20 (no node:sqlite), so this path is
// bundled with esbuild and run on `node` directly: request mapping, the caller's address, and the
// body limit, for a declared length and for a chunked body.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { requireBinary, root } from "../harness.ts";

const node = requireBinary("node", Bun.which("node"), "install Node.js >= 20 (https://nodejs.org)");
const scratch = mkdtempSync(join(tmpdir(), "jobwire-node-serve-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Serves an echo app with a 64-byte limit, makes requests with Node's own fetch and http, prints JSON.
const SCRIPT = `
import { request as httpRequest } from "node:http";
import { serve } from ${JSON.stringify(join(root, "src/broker/server.ts"))};

const server = await serve({
  port: 0,
  hostname: "127.0.0.1",
  maxBodyBytes: 64,
  fetch: async (request, env) =>
    Response.json(
      { method: request.method, url: request.url, body: await request.text(), caller: env.callerIp, a: request.headers.get("x-a") },
      { status: 201, headers: { "x-b": "2" } },
    ),
});
const base = "http://127.0.0.1:" + server.port;
const out = {};
const echoed = await fetch(base + "/v2/publish/http://x/y?q=1", { method: "POST", body: "hello", headers: { "x-a": "1" } });
out.echo = { status: echoed.status, b: echoed.headers.get("x-b"), json: await echoed.json() };
const declared = await fetch(base + "/big", { method: "POST", body: "x".repeat(65) });
out.declared = { status: declared.status, json: await declared.json() };
// A chunked body (no Content-Length) that passes the limit mid-stream.
out.chunked = await new Promise((resolve, reject) => {
  const req = httpRequest(base + "/chunked", { method: "POST" }, (res) => {
    let text = "";
    res.on("data", (d) => (text += d));
    res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
  });
  req.on("error", reject);
  req.write("y".repeat(40));
  setTimeout(() => req.end("y".repeat(40)), 50);
});
await server.close();
console.log(JSON.stringify(out));
`;

test("node:http server path: request mapping, caller address, and the body limit (declared and chunked)", async () => {
  const entry = join(scratch, "entry.mjs");
  writeFileSync(entry, SCRIPT);
  const bundle = join(scratch, "serve.mjs");
  await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile: bundle, logLevel: "silent" });
  const run = Bun.spawnSync([node, bundle], { cwd: scratch, timeout: 20_000 });
  const stderr = run.stderr.toString();
  expect(run.exitCode, stderr).toBe(0);
  const out = JSON.parse(run.stdout.toString().trim().split("\n").at(-1)!);
  expect(out.echo).toEqual({
    status: 201,
    b: "2",
    json: { method: "POST", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v2\/publish\/http:\/\/x\/y\?q=1$/), body: "hello", caller: "127.0.0.1", a: "1" },
  });
  expect(out.declared.status).toBe(413);
  expect(out.declared.json.error).toContain("limit of 64 bytes");
  expect(out.chunked.status).toBe(413);
  expect(out.chunked.json.error).toContain("limit of 64 bytes");
}, 30_000);
