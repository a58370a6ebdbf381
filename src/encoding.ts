import { sha256 } from "./sha256.ts";

const encoder = new TextEncoder();

/** UTF-8 bytes of a string; bytes pass through. */
export function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** Standard base64 of raw bytes (with padding). */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const URL_CODES = encoder.encode(URL_ALPHABET);
// The 6-bit value of each base64url character code below 128; 255 for any other character.
const URL_VALUES = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) URL_VALUES[URL_CODES[i]!] = i;
const ascii = new TextDecoder();
const scratch = new Uint8Array(1024);

/** base64url of raw bytes, without padding. */
export function base64url(bytes: Uint8Array): string {
  const n = bytes.length;
  const size = Math.ceil((n * 4) / 3);
  // Written as character codes and decoded once: cheaper than joining characters one by one.
  const out = size <= scratch.length ? scratch : new Uint8Array(size);
  const a = URL_CODES;
  let at = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[at++] = a[v >>> 18]!;
    out[at++] = a[(v >>> 12) & 63]!;
    out[at++] = a[(v >>> 6) & 63]!;
    out[at++] = a[v & 63]!;
  }
  if (i + 1 === n) {
    const v = bytes[i]!;
    out[at++] = a[v >>> 2]!;
    out[at++] = a[(v & 3) << 4]!;
  } else if (i + 2 === n) {
    const v = (bytes[i]! << 8) | bytes[i + 1]!;
    out[at++] = a[v >>> 10]!;
    out[at++] = a[(v >>> 4) & 63]!;
    out[at++] = a[(v & 15) << 2]!;
  }
  return ascii.decode(out.subarray(0, at));
}

/**
 * The bytes of base64url text (up to two trailing `=` allowed), or undefined when it is not
 * base64url. As `atob`, it ignores the unused low bits of the last character. With `into` large
 * enough, the bytes are written there and a view of them returned, instead of a new array.
 */
export function fromBase64url(text: string, into?: Uint8Array): Uint8Array | undefined {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  const rest = end % 4;
  if (rest === 1) return undefined;
  const size = (end * 3) >>> 2;
  const bytes = into && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
  const t = URL_VALUES;
  const full = end - rest;
  let at = 0;
  let i = 0;
  for (; i < full; i += 4) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    const c2 = text.charCodeAt(i + 2);
    const c3 = text.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) > 127) return undefined;
    const d0 = t[c0]!;
    const d1 = t[c1]!;
    const d2 = t[c2]!;
    const d3 = t[c3]!;
    if ((d0 | d1 | d2 | d3) > 63) return undefined;
    const v = (d0 << 18) | (d1 << 12) | (d2 << 6) | d3;
    bytes[at++] = v >>> 16;
    bytes[at++] = v >>> 8;
    bytes[at++] = v;
  }
  if (rest > 0) {
    let v = 0;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      const d = c > 127 ? 255 : t[c]!;
      if (d > 63) return undefined;
      v = (v << 6) | d;
    }
    if (rest === 2) bytes[at] = v >>> 4;
    else {
      bytes[at++] = v >>> 10;
      bytes[at] = v >>> 2;
    }
  }
  return bytes;
}

/**
 * Inputs up to this many bytes are hashed synchronously in JavaScript, larger ones by Web Crypto.
 * Measured on Bun: one at a time, a Web Crypto call costs as much as hashing about 4 KB here; with
 * many in flight (its work then runs on other threads), about 2 KB.
 */
export const SYNC_HASH_LIMIT = 2048;

// The synchronous path's digest, reused (read into base64url before the next call).
const syncDigest = new Uint8Array(32);

/**
 * base64url of the SHA-256 of the given bytes or UTF-8 text, without padding. Synchronous (a
 * string) up to {@link SYNC_HASH_LIMIT} bytes, a promise above.
 */
export function sha256Base64url(body: string | Uint8Array): string | Promise<string> {
  const bytes = toBytes(body);
  if (bytes.length <= SYNC_HASH_LIMIT) return base64url(sha256(bytes, syncDigest));
  return crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>).then((digest) => base64url(new Uint8Array(digest)));
}
