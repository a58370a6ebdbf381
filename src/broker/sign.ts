import { createHash, createHmac, randomBytes } from "node:crypto";

// The broker signs every attempt, so it uses node:crypto's synchronous HMAC and hash (available on
// Bun, Deno and Node) instead of the Web Crypto signer of the core (`signDelivery`), which costs an
// await per digest and per HMAC. The tokens are the same: an HS256 JWT with the protocol's seven
// claims, checked against the official Receiver and the core's verifier in the broker's tests.
const HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");

/** Signs one delivery attempt of `body` to `url` with `key`, as QStash does. */
export function signAttempt(key: string, url: string, body: Uint8Array): string {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: "Upstash",
    sub: url,
    iat,
    nbf: iat,
    exp: iat + 300,
    jti: `jwt_${randomBytes(12).toString("hex")}`,
    body: createHash("sha256").update(body).digest("base64url"),
  };
  const unsigned = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${unsigned}.${createHmac("sha256", key).update(unsigned).digest("base64url")}`;
}
