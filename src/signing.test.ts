import { describe, expect, test } from "bun:test";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { Receiver } from "@upstash/qstash";
import { ConfigError, SignatureError } from "./errors.ts";
import { createVerifier, signDelivery } from "./signing.ts";

const keys = { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" };
const url = "https://app.example.com/jobs/send-welcome-email?x=1";
const body = JSON.stringify({ userId: 42, name: "Zoë ✓" });

// An independent HS256 JWT made with node:crypto, not with Hono: proves interop both ways.
function independentToken(secret: string, claims: Record<string, unknown>): string {
  const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${head}.${payload}`).digest("base64url");
  return `${head}.${payload}.${signature}`;
}

function claimsFor(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "Upstash",
    sub: url,
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: randomUUID(),
    body: createHash("sha256").update(body).digest("base64url"),
    ...overrides,
  };
}

describe("signDelivery", () => {
  test("the official @upstash/qstash Receiver accepts our signatures", async () => {
    const signature = await signDelivery(keys.current, { url, body });
    const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
    expect(await receiver.verify({ signature, body, url })).toBe(true);
  });

  test("the official Receiver rejects our signature over another body", async () => {
    const signature = await signDelivery(keys.current, { url, body });
    const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
    await expect(receiver.verify({ signature, body: `${body} `, url })).rejects.toThrow(/body hash/);
  });

  test("carries the seven claims of the protocol", async () => {
    const signature = await signDelivery(keys.current, { url, body, now: 1_700_000_000 });
    const claims = JSON.parse(Buffer.from(signature.split(".")[1]!, "base64url").toString());
    expect(Object.keys(claims).sort()).toEqual(["body", "exp", "iat", "iss", "jti", "nbf", "sub"]);
    expect(claims).toMatchObject({ iss: "Upstash", sub: url, iat: 1_700_000_000, nbf: 1_700_000_000, exp: 1_700_000_300 });
    expect(claims.body).toBe(createHash("sha256").update(body).digest("base64url"));
    const header = JSON.parse(Buffer.from(signature.split(".")[0]!, "base64url").toString());
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
  });

  test("signs raw bytes byte for byte", async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0xfe, 0x41]);
    const signature = await signDelivery(keys.current, { url, body: bytes });
    const verify = createVerifier({ keys });
    await expect(verify({ signature, url, body: bytes })).resolves.toMatchObject({ sub: url });
  });
});

describe("createVerifier", () => {
  const verify = createVerifier({ keys });

  test("accepts a token made by an independent JWT implementation", async () => {
    const token = independentToken(keys.current, claimsFor());
    await expect(verify({ signature: token, url, body })).resolves.toMatchObject({ iss: "Upstash", sub: url });
  });

  test("accepts a body hash with base64 padding", async () => {
    const hash = `${createHash("sha256").update(body).digest("base64url")}=`;
    const token = independentToken(keys.current, claimsFor({ body: hash }));
    await expect(verify({ signature: token, url, body })).resolves.toBeDefined();
  });

  test("accepts the next key (rotation)", async () => {
    const token = independentToken(keys.next, claimsFor());
    await expect(verify({ signature: token, url, body })).resolves.toBeDefined();
  });

  test("never rejects on iat, even in the future (broker clock ahead)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = independentToken(keys.current, claimsFor({ iat: now + 3600, nbf: now + 2 }));
    await expect(verify({ signature: token, url, body })).resolves.toBeDefined();
  });

  const rejects: [string, () => Promise<unknown>, RegExp][] = [
    ["a missing signature", () => verify({ signature: null, url, body }), /missing/],
    ["a garbled token", () => verify({ signature: "not-a-jwt", url, body }), /invalid signature/],
    ["another key", () => verify({ signature: independentToken("sig_other", claimsFor()), url, body }), /invalid signature/],
    ["another issuer", () => verify({ signature: independentToken(keys.current, claimsFor({ iss: "Evil" })), url, body }), /invalid signature/],
    ["an expired token", () => verify({ signature: independentToken(keys.current, claimsFor({ exp: Math.floor(Date.now() / 1000) - 60 })), url, body }), /expired/],
    ["a token not yet valid", () => verify({ signature: independentToken(keys.current, claimsFor({ nbf: Math.floor(Date.now() / 1000) + 60 })), url, body }), /not yet valid/],
    ["another URL", () => verify({ signature: independentToken(keys.current, claimsFor()), url: "https://evil.example/jobs/x", body }), /this request was made to/],
    ["a tampered body", () => verify({ signature: independentToken(keys.current, claimsFor()), url, body: body.replace("42", "43") }), /body hash/],
    ["alg none", () => verify({ signature: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify(claimsFor())).toString("base64url")}.`, url, body }), /invalid signature/],
  ];
  for (const [what, run, message] of rejects) {
    test(`rejects ${what} with a SignatureError`, async () => {
      const error = await run().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SignatureError);
      expect((error as Error).message).toMatch(message);
    });
  }

  test("tolerates a few seconds of clock skew on exp", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = independentToken(keys.current, claimsFor({ exp: now - 2 }));
    await expect(verify({ signature: token, url, body })).resolves.toBeDefined();
    const strict = createVerifier({ keys, clockTolerance: 0 });
    await expect(strict({ signature: token, url, body })).rejects.toThrow(/expired/);
  });

  test("refuses to be made without both keys: a ConfigError naming the variables", () => {
    expect(() => createVerifier({ keys: { current: keys.current, next: "" } })).toThrow(ConfigError);
    expect(() => createVerifier({ keys: { current: keys.current, next: "" } })).toThrow(/QSTASH_NEXT_SIGNING_KEY/);
  });
});

describe("HS256 in JavaScript and by Web Crypto", () => {
  const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
  const verify = createVerifier({ keys });
  // Small inputs are hashed in JavaScript, larger ones (over 2 KB) by Web Crypto: both must agree
  // with the official Receiver and with node:crypto.
  const sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 300, 1000, 2047, 2048, 2049, 4096, 10_000, 100_000];
  const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 7)) & 0xff);
  const textOf = (n: number) => Array.from({ length: n }, (_, i) => "aé✓ {}\"\\"[i % 8]).join("");

  test("our tokens verify with the official Receiver, for bodies of every size", async () => {
    for (const n of sizes) {
      const text = textOf(n);
      const signature = await signDelivery(keys.current, { url, body: text });
      expect(await receiver.verify({ signature, body: text, url }), `body of ${n} characters`).toBe(true);
      await expect(receiver.verify({ signature, body: `${text}x`, url })).rejects.toThrow(/body hash/);
    }
  });

  test("tokens of node:crypto verify with ours, for text and binary bodies of every size, with either key", async () => {
    for (const n of sizes) {
      for (const [secret, data] of [[keys.current, textOf(n)], [keys.next, bytesOf(n, n)]] as const) {
        const hash = createHash("sha256").update(data).digest("base64url");
        const token = independentToken(secret, claimsFor({ body: hash }));
        await expect(verify({ signature: token, url, body: data }), `body of ${n}`).resolves.toMatchObject({ body: hash });
        const tampered = typeof data === "string" ? `${data} ` : Uint8Array.from([...data, 0]);
        await expect(verify({ signature: token, url, body: tampered })).rejects.toThrow(/body hash/);
      }
    }
  });

  test("a token over 2 KB (a long URL) is checked by Web Crypto, with either key", async () => {
    const longUrl = `https://app.example.com/jobs/x?q=${"a".repeat(5000)}`;
    for (const secret of [keys.current, keys.next]) {
      const token = independentToken(secret, claimsFor({ sub: longUrl }));
      await expect(verify({ signature: token, url: longUrl, body })).resolves.toMatchObject({ sub: longUrl });
      expect(await receiver.verify({ signature: token, body, url: longUrl })).toBe(true);
      await expect(verify({ signature: independentToken("sig_other", claimsFor({ sub: longUrl })), url: longUrl, body })).rejects.toThrow(/invalid signature/);
    }
    const signed = await signDelivery(keys.next, { url: longUrl, body });
    expect(await receiver.verify({ signature: signed, body, url: longUrl })).toBe(true);
  });

  test("many verifies at once, on both paths, each get their own answer (shared buffers never leak between them)", async () => {
    const longUrl = `https://app.example.com/jobs/x?q=${"a".repeat(3000)}`;
    const bigBody = "z".repeat(5000);
    const cases: { input: { signature: string; url: string; body: string }; ok: boolean }[] = [];
    for (let i = 0; i < 120; i++) {
      const target = i % 3 === 0 ? longUrl : `${url}&i=${i}`;
      const payload = i % 4 === 0 ? `${bigBody}${i}` : `{"i":${i}}`;
      const secret = i % 2 === 0 ? keys.current : keys.next;
      const signature = await signDelivery(i % 5 === 0 ? "sig_forged" : secret, { url: target, body: payload });
      // Every 7th is checked against another body: a wrong hash must stay wrong under interleaving.
      cases.push({ input: { signature, url: target, body: i % 7 === 0 ? `${payload} ` : payload }, ok: i % 5 !== 0 && i % 7 !== 0 });
    }
    const outcomes = await Promise.all(cases.map(({ input }) => verify(input).then((claims) => claims.sub, (error: Error) => error.message)));
    outcomes.forEach((outcome, i) => {
      if (cases[i]!.ok) expect(outcome).toBe(cases[i]!.input.url);
      else expect(outcome).toMatch(i % 5 === 0 ? /matches neither signing key/ : /body hash does not match/);
    });
  });

  test("any changed bit of the signature is refused, on both paths", async () => {
    for (const sub of [url, `${url}&pad=${"b".repeat(5000)}`]) {
      const token = independentToken(keys.current, claimsFor({ sub }));
      const dot = token.lastIndexOf(".");
      const mac = Buffer.from(token.slice(dot + 1), "base64url");
      for (const bit of [0, 7, 100, 255]) {
        const flipped = Buffer.from(mac);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const forged = `${token.slice(0, dot)}.${flipped.toString("base64url")}`;
        await expect(verify({ signature: forged, url: sub, body })).rejects.toThrow(/invalid signature/);
      }
      await expect(verify({ signature: `${token.slice(0, dot)}.${mac.subarray(0, 31).toString("base64url")}`, url: sub, body })).rejects.toThrow(/invalid signature/);
      await expect(verify({ signature: `${token.slice(0, dot)}.`, url: sub, body })).rejects.toThrow(/invalid signature/);
    }
  });

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const withHeader = (header: unknown, secret = keys.current) => {
    const unsigned = `${b64(header)}.${b64(claimsFor())}`;
    return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
  };
  const headers: [string, unknown, boolean][] = [
    ["HS256 without typ", { alg: "HS256" }, true],
    ["typ application/jwt", { alg: "HS256", typ: "application/JWT" }, true],
    ["alg HS512", { alg: "HS512", typ: "JWT" }, false],
    ["alg none", { alg: "none", typ: "JWT" }, false],
    ["alg hs256 (case matters)", { alg: "hs256", typ: "JWT" }, false],
    ["another typ", { alg: "HS256", typ: "at+jwt" }, false],
    ["crit", { alg: "HS256", typ: "JWT", crit: ["exp"] }, false],
    ["an array", ["HS256"], false],
  ];
  for (const [what, header, accepted] of headers) {
    test(`a header with ${what} is ${accepted ? "accepted" : "refused"} (its HMAC is valid)`, async () => {
      const outcome = verify({ signature: withHeader(header), url, body });
      if (accepted) await expect(outcome).resolves.toMatchObject({ sub: url });
      else await expect(outcome).rejects.toThrow(/invalid signature/);
    });
  }

  test("malformed tokens are refused with a SignatureError", async () => {
    const good = independentToken(keys.current, claimsFor());
    const [head, payload, mac] = good.split(".") as [string, string, string];
    for (const token of [`${head}.${payload}`, `${good}.x`, `${head}.${payload}!.${mac}`, `${head}.${b64([1, 2])}.${mac}`, `${head}.${b64("text")}.${mac}`, `é${good}`, ".."]) {
      const error = await verify({ signature: token, url, body }).then(() => undefined, (e: unknown) => e);
      expect(error, token).toBeInstanceOf(SignatureError);
      expect((error as Error).message).toMatch(/invalid signature/);
    }
  });
});
