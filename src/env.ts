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

/** The hosted QStash, where a client publishes unless told otherwise. */
export const HOSTED_QSTASH_URL = "https://qstash.upstash.io";

/**
 * The token of the QStash dev server, which `jobwire dev` uses by default and the official SDK's dev
 * mode hard-codes: only a local broker accepts it.
 */
export const DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

/**
 * A {@link ConfigError} for the local dev token bound for hosted QStash (a broker URL left unset or
 * misspelled): it would only be refused there, after every retry, and is a local setting leaking out.
 */
export function devTokenWithoutUrl(where: string): ConfigError {
  return new ConfigError(
    `QSTASH_TOKEN is the local dev token (jobwire dev's), but ${where}, so it would go to hosted QStash (${HOSTED_QSTASH_URL}). Set QSTASH_URL to the local broker's URL, as jobwire dev prints it (http://127.0.0.1:8080 by default).`,
  );
}

/**
 * Reads `QSTASH_URL` (optional; default `https://qstash.upstash.io`) and `QSTASH_TOKEN` (required).
 * Throws a {@link ConfigError} that names the missing variable, or when the token is the local dev
 * token and no `QSTASH_URL` says where the local broker is.
 */
export function readQStashEnv(get: EnvGetter): QStashEnv {
  const token = required(get, "QSTASH_TOKEN", "enqueueing needs the broker's token", "pass { token } to createClient");
  const url = get("QSTASH_URL")?.trim();
  if (!url && token === DEV_TOKEN) throw devTokenWithoutUrl("QSTASH_URL is not set");
  return { baseUrl: url || HOSTED_QSTASH_URL, token };
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
