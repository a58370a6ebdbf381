import { describe, expect, test } from "bun:test";
import { hmacKey, hmacSha256, sha256, timingSafeEqual } from "./sha256.ts";

const hex = (bytes: Uint8Array | ArrayBuffer) => Buffer.from(bytes as Uint8Array).toString("hex");
const utf8 = (text: string) => new TextEncoder().encode(text);

// A deterministic generator, so a failure names an input that can be reproduced.
function randomBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

async function webHmac(key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<string> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", imported, data));
}

describe("sha256", () => {
  test("the FIPS 180-2 examples", () => {
    expect(hex(sha256(utf8("")))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(sha256(utf8("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(hex(sha256(new Uint8Array(1_000_000).fill(0x61)))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  test("equals Web Crypto's digest for every length from 0 to 300 bytes, and multi-block inputs", async () => {
    const lengths = [...Array.from({ length: 301 }, (_, n) => n), 447, 448, 511, 512, 513, 1000, 4095, 4096, 4097, 65_537];
    for (const length of lengths) {
      const data = randomBytes(length, length + 1);
      expect(hex(sha256(data)), `length ${length}`).toBe(hex(await crypto.subtle.digest("SHA-256", data)));
    }
  });

  test("hashes a view of a larger buffer by its own bytes only", async () => {
    const whole = randomBytes(200, 7);
    const view = whole.subarray(13, 150);
    expect(hex(sha256(view))).toBe(hex(await crypto.subtle.digest("SHA-256", view.slice())));
  });
});

describe("digests into a given array", () => {
  test("sha256 and hmacSha256 write into `out`, return it, and equal the default result", () => {
    const data = new TextEncoder().encode("x".repeat(200));
    const key = hmacKey(new TextEncoder().encode("sig_key"));
    for (const [into, fresh] of [
      [(out: Uint8Array) => sha256(data, out), () => sha256(data)],
      [(out: Uint8Array) => hmacSha256(key, data, out), () => hmacSha256(key, data)],
    ] as const) {
      const out = new Uint8Array(32);
      expect(into(out)).toBe(out);
      expect([...out]).toEqual([...fresh()]);
      // A second call overwrites it: the caller owns the array between calls.
      into(out);
      expect([...out]).toEqual([...fresh()]);
    }
  });
});

describe("hmacSha256", () => {
  test("the RFC 4231 test cases 1, 2 and 6 (a key longer than a block)", () => {
    const case1 = hmacSha256(hmacKey(new Uint8Array(20).fill(0x0b)), utf8("Hi There"));
    expect(hex(case1)).toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const case2 = hmacSha256(hmacKey(utf8("Jefe")), utf8("what do ya want for nothing?"));
    expect(hex(case2)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    const case6 = hmacSha256(hmacKey(new Uint8Array(131).fill(0xaa)), utf8("Test Using Larger Than Block-Size Key - Hash Key First"));
    expect(hex(case6)).toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  });

  test("equals Web Crypto's HMAC for data of 0 to 300 bytes and keys of 1 to 150 bytes (Web Crypto refuses an empty key)", async () => {
    for (let length = 0; length <= 300; length++) {
      const key = randomBytes(((length * 7) % 150) + 1, length + 1000);
      const data = randomBytes(length, length + 2000);
      const prepared = hmacKey(key);
      expect(hex(hmacSha256(prepared, data)), `data ${length}, key ${key.length}`).toBe(await webHmac(key, data));
      // A prepared key is reusable: a second message under it gives Web Crypto's answer too.
      const other = randomBytes(length + 64, length + 3000);
      expect(hex(hmacSha256(prepared, other))).toBe(await webHmac(key, other));
    }
  });

  test("equals Web Crypto's HMAC for multi-block data", async () => {
    const key = utf8("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r");
    for (const length of [447, 448, 1000, 4096, 10_000]) {
      const data = randomBytes(length, length);
      expect(hex(hmacSha256(hmacKey(key), data)), `length ${length}`).toBe(await webHmac(key, data));
    }
  });
});

describe("timingSafeEqual", () => {
  test("compares bytes and lengths", () => {
    expect(timingSafeEqual(utf8("abc"), utf8("abc"))).toBe(true);
    expect(timingSafeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(timingSafeEqual(utf8("abc"), utf8("abd"))).toBe(false);
    expect(timingSafeEqual(utf8("abc"), utf8("ab"))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([0x80]), new Uint8Array([0x00]))).toBe(false);
  });
});
