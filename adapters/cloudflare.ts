/**
 * Cloudflare Workers: configuration from the Worker's `env` bindings, which only exist per request,
 * and `waitUntil` for enqueues that should not delay the response.
 * @module
 */
import type { Context } from "hono";
import { readQStashEnv, readSigningKeys, type QStashEnv } from "../src/env.ts";
import type { SigningKeys } from "../src/signing.ts";

/** The bindings jobwire reads; declare them in `wrangler.toml` (`[vars]`) or as secrets. */
export interface QStashBindings {
  QSTASH_URL?: string;
  QSTASH_TOKEN?: string;
  QSTASH_CURRENT_SIGNING_KEY?: string;
  QSTASH_NEXT_SIGNING_KEY?: string;
}

const getter = (bindings: object | undefined) => (name: string): string | undefined => {
  const value = (bindings as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
};

/** `{ baseUrl, token }` for `createClient`, from the `QSTASH_URL` and `QSTASH_TOKEN` bindings. */
export function qstashFromBindings(env: object | undefined): QStashEnv {
  return readQStashEnv(getter(env));
}

/** `{ current, next }` from the `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY` bindings. */
export function signingKeysFromBindings(env: object | undefined): SigningKeys {
  return readSigningKeys(getter(env));
}

/**
 * For `createWorker({ signingKeys })`: reads the keys from each request's bindings.
 * @example createWorker({ signingKeys: signingKeysFromContext })
 */
export function signingKeysFromContext(c: Context): SigningKeys {
  return signingKeysFromBindings(c.env as object | undefined);
}

/**
 * Lets `promise` (an enqueue, say) finish after the response is sent, with `executionCtx.waitUntil`;
 * its failure is logged rather than lost. Where there is no execution context (tests, other
 * runtimes) the promise is awaited instead, so nothing is dropped.
 */
export async function waitUntil(c: Context, promise: Promise<unknown>): Promise<void> {
  const logged = promise.then(
    () => undefined,
    (error: unknown) => console.error("[jobwire] background work failed:", error),
  );
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined; // Hono throws when there is no execution context
  }
  if (ctx) ctx.waitUntil(logged);
  else await logged;
}
