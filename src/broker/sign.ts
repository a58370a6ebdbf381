import { createHash, createHmac, randomBytes } from "node:crypto";

// The broker signs every attempt, so it uses node:crypto's synchronous HMAC and hash (available on
// Bun, Deno and Node) instead of the Web Crypto signer of the core (`signDelivery`), which costs an
// await per digest and per HMAC. The tokens are the same: an HS256 JWT with the protocol's seven
// claims, checked against the official Receiver and the core's verifier in the broker's tests.
const HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");

interface BunHasher {
  update(data: string | Uint8Array): BunHasher;
  digest(encoding: "base64url"): string;
  copy(): BunHasher;
}
type BunHasherClass = new (algorithm: "sha256", key?: string) => BunHasher;
// On Bun its native hasher costs a third of node:crypto's HMAC, and a keyed copy skips the key setup.
const BunHasher = (globalThis as { Bun?: { CryptoHasher?: BunHasherClass } }).Bun?.CryptoHasher;
const keyedHashers = new Map<string, BunHasher>();

function hmac(key: string, data: string): string {
  if (!BunHasher) return createHmac("sha256", key).update(data).digest("base64url");
  let keyed = keyedHashers.get(key);
  if (!keyed) {
    keyed = new BunHasher("sha256", key);
    if (keyedHashers.size >= 8) keyedHashers.clear(); // keys change only on rotation
    keyedHashers.set(key, keyed);
  }
  return keyed.copy().update(data).digest("base64url");
}

/** The `body` claim: base64url SHA-256 of the body. The same for every attempt of a message. */
export function bodyHash(body: Uint8Array): string {
  if (BunHasher) return new BunHasher("sha256").update(body).digest("base64url");
  return createHash("sha256").update(body).digest("base64url");
}

// Token ids come from a pool of random bytes refilled in bulk (one CSPRNG call per 256 tokens).
const JTI_BYTES = 12;
const POOL_TOKENS = 256;
let jtiPool = "";
let jtiAt = 0;
function jti(): string {
  if (jtiAt >= jtiPool.length) {
    jtiPool = randomBytes(JTI_BYTES * POOL_TOKENS).toString("hex");
    jtiAt = 0;
  }
  const id = jtiPool.slice(jtiAt, jtiAt + JTI_BYTES * 2);
  jtiAt += JTI_BYTES * 2;
  return id;
}

// `"sub":<url>` as JSON, per URL: a worker usually receives everything at a few URLs.
const subCache = new Map<string, string>();
function sub(url: string): string {
  let json = subCache.get(url);
  if (json === undefined) {
    json = JSON.stringify(url);
    if (subCache.size >= 1024) subCache.clear();
    subCache.set(url, json);
  }
  return json;
}

/**
 * Signs one delivery attempt of `body` to `url` with `key`, as QStash does. `hash` is
 * {@link bodyHash} of `body` when the caller has it already (it signs every attempt of a message).
 */
export function signAttempt(key: string, url: string, body: Uint8Array, hash = bodyHash(body)): string {
  const iat = Math.floor(Date.now() / 1000);
  // The claims in the order QStash writes them; only `sub` needs escaping (hex and base64url need none).
  const claims = `{"iss":"Upstash","sub":${sub(url)},"iat":${iat},"nbf":${iat},"exp":${iat + 300},"jti":"jwt_${jti()}","body":"${hash}"}`;
  const unsigned = `${HEADER}.${Buffer.from(claims).toString("base64url")}`;
  return `${unsigned}.${hmac(key, unsigned)}`;
}
