// workerd through Miniflare, for the tests in this folder: a Worker bundled as wrangler bundles it,
// started on a given port with its bindings, its console output collected line by line.
import { expect } from "bun:test";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { requireBinary, root } from "../harness.ts";

const INSTALL = "install it with `npm install` (the `miniflare` devDependency brings workerd)";
requireBinary("workerd", join(root, "node_modules/.bin/workerd"), INSTALL);
const { Miniflare } = await import("miniflare").catch((error: unknown) => {
  throw new Error(`miniflare could not be loaded: ${INSTALL}`, { cause: error });
});
const esbuild = await import("esbuild");

const COMPATIBILITY_DATE = "2025-06-01"; // as examples/cloudflare/wrangler.toml

/** A Worker (by default examples/cloudflare), bundled the way wrangler bundles it: ESM, for workerd, no Node polyfills. */
export async function bundle(entry = join(root, "examples/cloudflare/worker.ts")): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    target: "es2022",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Fails unless the bundle imports nothing from Node (no `node:` module, no `require`). */
export function expectNoNodeImports(script: string): void {
  expect(script).not.toMatch(/from\s*["']node:/);
  expect(script).not.toMatch(/require\(\s*["']/);
}

/** A port the OS says is free now (Miniflare's must be known before start: WORKER_URL names it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type Workerd = InstanceType<typeof Miniflare>;

/** The Worker in workerd; its console output goes to `lines`. */
export async function startWorkerd(script: string, bindings: Record<string, string>, port: number, lines: string[]): Promise<Workerd> {
  const collect = (prefix: string) => (stream: Readable) => {
    let buffer = "";
    stream.on("data", (chunk: Buffer | string) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        lines.push(prefix + buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    });
  };
  const mf = new Miniflare({
    // The bundled example, as one module (as wrangler deploys it).
    modules: [{ type: "ESModule", path: "worker.mjs", contents: script }],
    compatibilityDate: COMPATIBILITY_DATE,
    host: "127.0.0.1",
    port,
    bindings,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      collect("")(stdout);
      collect("stderr: ")(stderr);
    },
  });
  await mf.ready;
  return mf;
}
