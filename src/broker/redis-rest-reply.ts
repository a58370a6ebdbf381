// Redis replies (RESP2, as decoded by @redis/client with bulk strings as Buffers) to the JSON the
// Upstash client expects, in plain or `Upstash-Encoding: base64` mode.
import { Buffer } from "node:buffer";
import { ErrorReply } from "@redis/client";

/** A JSON value as the REST API answers it: never booleans, never objects except `{error}`. */
export type JsonReply = string | number | null | JsonReply[] | { error: string };

const INTEGER = /^-?\d+$/;

// Integers arrive as their digits (decoding them as numbers rounds those past 2^53). One a JS number
// cannot hold exactly is carried to the JSON text as this marker and its digits, then written as a
// bare number by `replyJson`. The marker is random per process, so no stored value can spell it; it
// is letters, digits and dashes, which neither JSON nor a regular expression escapes.
const BIG = `jobwire-int-${crypto.randomUUID()}:`;
const BIG_IN_JSON = new RegExp(`"${BIG}(-?\\d+)"`, "g");

/** The JSON text of a response body, integers beyond a JS number's exact range written digit for digit. */
export function replyJson(body: unknown): string {
  const text = JSON.stringify(body);
  return text.includes(BIG) ? text.replace(BIG_IN_JSON, "$1") : text;
}

/** An integer reply (its digits) as JSON: a number, exact whatever its size. */
function integer(digits: string): JsonReply {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : BIG + digits;
}

/**
 * Encodes one reply. Bulk strings are Buffers (binary-safe), simple strings are JS strings. In base64
 * mode every string at every depth is base64 of its bytes, except a top-level `OK` (the client
 * passes it through as is, and base64 text can never equal "OK").
 */
export function encodeReply(reply: unknown, base64: boolean, top = true): JsonReply {
  if (reply === null || reply === undefined) return null;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (typeof reply === "string") {
    // Integers come as their digits; simple strings (OK, PONG, a TYPE's answer) are never all digits.
    if (INTEGER.test(reply)) return integer(reply);
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
