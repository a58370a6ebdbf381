// Redis replies (RESP2, as decoded by @redis/client with bulk strings as Buffers) to the JSON the
// Upstash client expects, in plain or `Upstash-Encoding: base64` mode.
import { Buffer } from "node:buffer";
import { ErrorReply } from "@redis/client";

/** A JSON value as the REST API answers it: never booleans, never objects except `{error}`. */
export type JsonReply = string | number | null | JsonReply[] | { error: string };

/**
 * Encodes one reply. Bulk strings are Buffers (binary-safe), simple strings are JS strings. In base64
 * mode every string at every depth is base64 of its bytes, except a top-level `OK` (the client
 * passes it through as is, and base64 text can never equal "OK").
 */
export function encodeReply(reply: unknown, base64: boolean, top = true): JsonReply {
  if (reply === null || reply === undefined) return null;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (typeof reply === "string") {
    if (!base64 || (top && reply === "OK")) return reply;
    return Buffer.from(reply, "utf8").toString("base64");
  }
  if (typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64, false));
  if (reply instanceof ErrorReply) return { error: reply.message };
  // RESP2 has no other types; anything else would be a library change, so keep it visible as text.
  const text = String(reply);
  return base64 ? Buffer.from(text, "utf8").toString("base64") : text;
}
