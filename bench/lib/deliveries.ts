/**
 * Pre-signed deliveries for the in-process benchmarks. Signing happens before any timed loop:
 * `signPool` signs `size` distinct bodies for one URL with jobwire's `signDelivery` (the same
 * tokens `jobwire dev` and QStash send; the official `Receiver` accepts them). A `Request` body
 * can be read only once, so the timed loops build a fresh `Request` per delivery with
 * `deliveryRequest`, from a pooled body/signature pair and a message id made up front.
 */
import { signDelivery } from "../../src/signing.ts";

const encoder = new TextEncoder();

/** QStash's development signing keys (also `jobwire dev`'s). */
export const DEV_KEYS = { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" } as const;

export interface Signed {
  body: string;
  signature: string;
  /** The body's length in bytes, as `Content-Length` declares it (counted here, not per request). */
  contentLength: string;
}

/** `{"id":i,"email":"user-i@example.com"}`: what one bench job takes. */
export function benchBody(i: number): string {
  return JSON.stringify({ id: i, email: `user-${i}@example.com` });
}

/** Signs `size` distinct bodies for `url` with the current dev key, `ttl` seconds valid. */
export async function signPool(url: string, size: number, ttl = 600): Promise<Signed[]> {
  const pool: Signed[] = [];
  for (let i = 0; i < size; i++) {
    const body = benchBody(i);
    const contentLength = String(encoder.encode(body).byteLength);
    pool.push({ body, signature: await signDelivery(DEV_KEYS.current, { url, body, ttl }), contentLength });
  }
  return pool;
}

/** Distinct message ids, `msg_<tag>_<i>`, made before the timed loop. */
export function messageIds(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `msg_${tag}_${i}`);
}

/** A fresh POST, as the broker sends it (QStash and `jobwire dev` both declare the body's length). */
export function deliveryRequest(url: string, signed: Signed, messageId: string): Request {
  return new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": signed.contentLength,
      "user-agent": "Upstash-QStash",
      "upstash-message-id": messageId,
      "upstash-retried": "0",
      "upstash-signature": signed.signature,
    },
    body: signed.body,
  });
}
