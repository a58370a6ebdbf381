/**
 * Deno: configuration from `Deno.env`, and `Deno.serve` for a worker app.
 * @module
 */
import type { Hono } from "hono";
import { readQStashEnv, readSigningKeys, type QStashEnv } from "../src/env.ts";
import type { SigningKeys } from "../src/signing.ts";
import { localUrl } from "../src/local-url.ts";
import type { Served } from "./served.ts";

export type { Served } from "./served.ts";

interface DenoLike {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void> };
}

function deno(): DenoLike {
  const runtime = (globalThis as { Deno?: DenoLike }).Deno;
  if (!runtime) {
    throw new Error(
      "jobwire/adapters/deno needs the Deno runtime: on Node.js use jobwire/adapters/node, on Bun jobwire/adapters/bun, on Cloudflare Workers jobwire/adapters/cloudflare",
    );
  }
  return runtime;
}

const fromDeno = (name: string): string | undefined => deno().env.get(name);

/** `{ baseUrl, token }` for `createClient`, from `QSTASH_URL` and `QSTASH_TOKEN`. */
export function qstashFromEnv(get: (name: string) => string | undefined = fromDeno): QStashEnv {
  return readQStashEnv(get);
}

/** `{ current, next }` for `createWorker`, from `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY`. */
export function signingKeysFromEnv(get: (name: string) => string | undefined = fromDeno): SigningKeys {
  return readSigningKeys(get);
}


/** Serves a Hono app with `Deno.serve`. `port: 0` picks a free port. */
export function serve(app: Hono<any>, options: { port?: number; hostname?: string } = {}): Promise<Served> {
  const hostname = options.hostname?.trim() || "127.0.0.1"; // empty would mean every interface
  return new Promise((resolve) => {
    const server = deno().serve(
      {
        port: options.port ?? 3000,
        hostname,
        onListen: ({ port }) => resolve({ url: localUrl(hostname, port), port, close: () => server.shutdown() }),
      },
      (request) => app.fetch(request),
    );
  });
}
