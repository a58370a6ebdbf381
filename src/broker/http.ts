import type { Context } from "hono";
import { BodyTooLargeError, readBody as readLimited } from "../body.ts";
import { ApiError, badRequest } from "./errors.ts";
import type { ServeEnv } from "./server.ts";

/** The IP address the request came from, when the server tells (`Upstash-Caller-Ip` of its messages). */
export function callerIp(c: Context): string | undefined {
  return (c.env as ServeEnv | undefined)?.callerIp;
}

/**
 * The raw request target after `prefix`, query string included: the destination of a publish is
 * taken from here rather than from a router's parsed path, which may collapse `//` or decode
 * escapes. A `qstash_token` query parameter (our auth) is removed.
 */
export function rawRest(c: Context, prefix: string): string {
  const url = c.req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const target = start < 0 ? "/" : url.slice(start);
  if (!target.startsWith(prefix)) return "";
  const rest = target.slice(prefix.length);
  const q = rest.indexOf("?");
  if (q < 0 || !rest.includes("qstash_token=")) return rest;
  const query = rest
    .slice(q + 1)
    .split("&")
    .filter((part) => !part.startsWith("qstash_token="))
    .join("&");
  return query ? `${rest.slice(0, q)}?${query}` : rest.slice(0, q);
}

/**
 * The request body as bytes, refused with 413 over `limit`: a declared length before reading, a
 * chunked body as soon as it passes the limit (it is never held whole).
 */
export async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  try {
    return await readLimited(c.req.raw, limit);
  } catch (error) {
    // The client stopped sending (it closed the connection mid-body): nothing was taken.
    if (!(error instanceof BodyTooLargeError)) throw badRequest(`could not read the request body: ${(error as Error)?.message || String(error)}`);
    const length = c.req.header("content-length");
    throw new ApiError(413, `request body${length ? ` of ${length} bytes` : ""} is over the limit of ${limit} bytes`);
  }
}

/** The request body parsed as JSON; 400 when it is not JSON. Undefined for an empty body. */
export async function readJson(c: Context, limit: number): Promise<unknown> {
  const bytes = await readBody(c, limit);
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A whole number from a query parameter or JSON field, or a 400 naming it. */
export function wholeNumber(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw badRequest(`invalid ${name} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Ids given in a JSON body as `{ [key]: [...] }`, for the bulk endpoints. */
export async function bodyIds(c: Context, key: string, limit: number): Promise<string[] | undefined> {
  const json = await readJson(c, limit);
  if (json === undefined) return undefined;
  // Anything but an object is refused: read as "no ids", it would select every entry.
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw badRequest(`request body must be a JSON object such as {"${key}": ["..."]}, got ${JSON.stringify(json).slice(0, 40)}`);
  }
  const ids = (json as Record<string, unknown>)[key];
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
    throw badRequest(`invalid "${key}" in the body: expected an array of strings`);
  }
  return ids;
}
