import { ConfigError } from "./errors.ts";
import type { SigningKeys } from "./signing.ts";

/** Reads one variable by name: from the Node, Bun or Deno environment, or from Workers bindings. */
export type EnvGetter = (name: string) => string | undefined;

/** What `createClient` needs from the environment. */
export interface QStashEnv {
  /** `QSTASH_URL`, default the hosted QStash. */
  baseUrl: string;
  /** `QSTASH_TOKEN`. */
  token: string;
}

function required(get: EnvGetter, name: string, purpose: string, instead: string): string {
  const value = get(name)?.trim();
  if (!value) throw new ConfigError(`${name} is not set: ${purpose}. Set it in the environment, or ${instead}.`);
  return value;
}

/**
 * Reads `QSTASH_URL` (optional; default `https://qstash.upstash.io`) and `QSTASH_TOKEN` (required).
 * Throws a {@link ConfigError} that names the missing variable.
 */
export function readQStashEnv(get: EnvGetter): QStashEnv {
  return {
    baseUrl: get("QSTASH_URL")?.trim() || "https://qstash.upstash.io",
    token: required(get, "QSTASH_TOKEN", "enqueueing needs the broker's token", "pass { token } to createClient"),
  };
}

/**
 * Reads `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY` (both required: a worker never
 * accepts unsigned deliveries). Throws a {@link ConfigError} that names the missing variable.
 */
export function readSigningKeys(get: EnvGetter): SigningKeys {
  const instead = "pass { signingKeys: { current, next } } to createWorker";
  return {
    current: required(get, "QSTASH_CURRENT_SIGNING_KEY", "the worker verifies every delivery with it", instead),
    next: required(get, "QSTASH_NEXT_SIGNING_KEY", "the worker verifies deliveries signed after a key rotation with it", instead),
  };
}
