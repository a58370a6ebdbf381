import { describe, expect, test } from "bun:test";
import { base64, base64url, fromBase64url, SYNC_HASH_LIMIT, sha256Base64url } from "./encoding.ts";

const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 151 + 7 * n) & 0xff);

describe("base64url", () => {
  test("encodes as node:crypto's Buffer does, without padding, for every length up to 2000", () => {
    for (let n = 0; n <= 2000; n++) {
      const bytes = bytesOf(n);
      expect(base64url(bytes), `length ${n}`).toBe(Buffer.from(bytes).toString("base64url"));
    }
  });

  test("standard base64 keeps its padding", () => {
    expect(base64(new Uint8Array([0xfb, 0xff]))).toBe("+/8=");
  });
});

describe("fromBase64url", () => {
  test("decodes what it encodes, with or without padding, for every length up to 2000", () => {
    for (let n = 0; n <= 2000; n++) {
      const bytes = bytesOf(n);
      const padded = Buffer.from(bytes).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
      expect(fromBase64url(base64url(bytes)), `length ${n}`).toEqual(bytes);
      expect(fromBase64url(padded), `length ${n}, padded`).toEqual(bytes);
    }
  });

  test("refuses what is not base64url", () => {
    for (const text of ["a", "abcde", "ab+d", "ab/d", "abé", "abcdé", "ab=c", "ab===", "a b", "\u0141bc"]) {
      expect(fromBase64url(text), text).toBeUndefined();
    }
  });
});

describe("sha256Base64url", () => {
  test("hashes synchronously up to the limit and by Web Crypto above, to the same answers", async () => {
    for (const n of [0, 3, 64, SYNC_HASH_LIMIT, SYNC_HASH_LIMIT + 1, 50_000]) {
      const bytes = bytesOf(n);
      const hash = sha256Base64url(bytes);
      expect(typeof hash === "string", `length ${n}`).toBe(n <= SYNC_HASH_LIMIT);
      const expected = Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("base64url");
      expect(await hash).toBe(expected);
    }
    expect(sha256Base64url("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });
});

describe("fromBase64url into a given buffer", () => {
  test("writes into it when it is large enough, and makes a new array when not", () => {
    const text = base64url(new TextEncoder().encode("hello, buffers"));
    const roomy = new Uint8Array(64).fill(0xee);
    const view = fromBase64url(text, roomy)!;
    expect(view.buffer).toBe(roomy.buffer);
    expect(new TextDecoder().decode(view)).toBe("hello, buffers");
    expect(roomy[view.length]).toBe(0xee);
    const tight = new Uint8Array(4);
    const fresh = fromBase64url(text, tight)!;
    expect(fresh.buffer).not.toBe(tight.buffer);
    expect(new TextDecoder().decode(fresh)).toBe("hello, buffers");
    expect(fromBase64url("a*b=", roomy)).toBeUndefined();
  });
});
