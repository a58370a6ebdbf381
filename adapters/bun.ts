/**
 * Bun: configuration from `Bun.env`, and `Bun.serve` for a worker app.
 * @module
 */
import type { Hono } from "hono";
import { readQStashEnv, readSigningKeys, type QStashEnv } from "../src/env.ts";
import type { SigningKeys } from "../src/signing.ts";
import { localUrl } from "../src/local-url.ts";
import type { Served } from "./served.ts";

export type { Served } from "./served.ts";

function bun(): typeof Bun {
  if (typeof Bun === "undefined") {
    throw new Error(
      "jobwire/adapters/bun needs the Bun runtime: on Node.js use jobwire/adapters/node, on Deno jobwire/adapters/deno, on Cloudflare Workers jobwire/adapters/cloudflare",
    );
  }
  return Bun;
}

function env(): Record<string, string | undefined> {
  return bun().env;
}

/** `{ baseUrl, token }` for `createClient`, from `QSTASH_URL` and `QSTASH_TOKEN`. */
export function qstashFromEnv(vars: Record<string, string | undefined> = env()): QStashEnv {
  return readQStashEnv((name) => vars[name]);
}

/** `{ current, next }` for `createWorker`, from `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY`. */
export function signingKeysFromEnv(vars: Record<string, string | undefined> = env()): SigningKeys {
  return readSigningKeys((name) => vars[name]);
}


/** Serves a Hono app with `Bun.serve`. `port: 0` picks a free port. */
export function serve(app: Hono<any>, options: { port?: number; hostname?: string } = {}): Served {
  const hostname = options.hostname?.trim() || "127.0.0.1"; // empty would mean every interface
  const server = bun().serve({ fetch: app.fetch, port: options.port ?? 3000, hostname });
  const port = server.port ?? 0;
  return { url: localUrl(hostname, port), port, close: () => server.stop(true) };
}
