/**
 * Node.js: configuration from `process.env`, and a server for a worker app (`@hono/node-server`).
 * @module
 */
import { serve as honoServe } from "@hono/node-server";
import type { Hono } from "hono";
import { readQStashEnv, readSigningKeys, type QStashEnv } from "../src/env.ts";
import type { SigningKeys } from "../src/signing.ts";
import { localUrl } from "../src/local-url.ts";
import type { Served } from "./served.ts";

export type { Served } from "./served.ts";

function env(): Record<string, string | undefined> {
  if (typeof process === "undefined" || !process.env) {
    throw new Error(
      "jobwire/adapters/node reads process.env, which this runtime does not have: on Cloudflare Workers use jobwire/adapters/cloudflare, on Deno jobwire/adapters/deno",
    );
  }
  return process.env;
}

/** `{ baseUrl, token }` for `createClient`, from `QSTASH_URL` and `QSTASH_TOKEN`. */
export function qstashFromEnv(vars: Record<string, string | undefined> = env()): QStashEnv {
  return readQStashEnv((name) => vars[name]);
}

/** `{ current, next }` for `createWorker`, from `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY`. */
export function signingKeysFromEnv(vars: Record<string, string | undefined> = env()): SigningKeys {
  return readSigningKeys((name) => vars[name]);
}


/** Serves a Hono app on Node's `http` module. `port: 0` picks a free port. */
export function serve(app: Hono<any>, options: { port?: number; hostname?: string } = {}): Promise<Served> {
  const hostname = options.hostname?.trim() || "127.0.0.1"; // empty would mean every interface
  return new Promise((resolve, reject) => {
    // overrideGlobalObjects: false, so serving does not replace the global Request/Response.
    const server = honoServe({ fetch: app.fetch, port: options.port ?? 3000, hostname, overrideGlobalObjects: false }, (info) => {
      resolve({
        url: localUrl(hostname, info.port),
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once("error", reject);
  });
}
