import { base64url, fromBase64url, SYNC_HASH_LIMIT, sha256Base64url, toBytes } from "./encoding.ts";
import { ConfigError, SignatureError } from "./errors.ts";
import { type HmacKey, hmacKey as prepareKey, hmacSha256, timingSafeEqual } from "./sha256.ts";

/** The current and next QStash signing keys (`sig_...`). */
export interface SigningKeys {
  current: string;
  /** Accepted too, so deliveries keep verifying across a key rotation. */
  next: string;
}

/** The claims of an `Upstash-Signature` token. */
export interface SignatureClaims {
  iss: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  body: string;
}

const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A signing key, prepared for both HMAC paths: in JavaScript (small inputs) and Web Crypto. */
interface Key {
  sync: HmacKey;
  /** Imported on first use: importing costs about as much as an HMAC. */
  web?: Promise<CryptoKey>;
  secret: string;
}

const keyCache = new Map<string, Key>();

// Keys are few and long-lived: each is prepared once.
function keyOf(secret: string): Key {
  let key = keyCache.get(secret);
  if (!key) {
    key = { sync: prepareKey(encoder.encode(secret)), secret };
    keyCache.set(secret, key);
  }
  return key;
}

function webKey(key: Key): Promise<CryptoKey> {
  key.web ??= crypto.subtle.importKey("raw", encoder.encode(key.secret), HMAC, false, ["sign", "verify"]);
  return key.web;
}

/** HMAC-SHA256 of `data`: in JavaScript up to {@link SYNC_HASH_LIMIT} bytes, by Web Crypto above. */
async function hmac(key: Key, data: Uint8Array): Promise<Uint8Array> {
  if (data.length <= SYNC_HASH_LIMIT) return hmacSha256(key.sync, data);
  return new Uint8Array(await crypto.subtle.sign("HMAC", await webKey(key), data as Uint8Array<ArrayBuffer>));
}

/** The JOSE header of every token: `{"alg":"HS256","typ":"JWT"}`, base64url. */
const HEADER = base64url(encoder.encode('{"alg":"HS256","typ":"JWT"}'));

/** What a broker signs for one delivery attempt. */
export interface SignInput {
  /** The exact URL the broker calls; becomes the `sub` claim. */
  url: string;
  /** The raw body as sent, byte for byte. */
  body: string | Uint8Array;
  /** Seconds since the epoch. @default now */
  now?: number;
  /** Seconds until the token expires. @default 300 */
  ttl?: number;
}

/**
 * Signs a delivery as QStash does: an HS256 JWT with the seven claims of the protocol, keyed with
 * the UTF-8 bytes of the whole signing key.
 */
export async function signDelivery(signingKey: string, input: SignInput): Promise<string> {
  const iat = input.now ?? Math.floor(Date.now() / 1000);
  const claims: SignatureClaims = {
    iss: "Upstash",
    sub: input.url,
    iat,
    nbf: iat,
    exp: iat + (input.ttl ?? 300),
    jti: `jwt_${crypto.randomUUID().replace(/-/g, "")}`,
    body: await sha256Base64url(input.body),
  };
  const unsigned = `${HEADER}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  return `${unsigned}.${base64url(await hmac(keyOf(signingKey), encoder.encode(unsigned)))}`;
}

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  keys: SigningKeys;
  /**
   * Seconds of clock difference tolerated between the broker and this process, for `exp` and `nbf`.
   * `iat` is never checked, as the official Receiver does not.
   * @default 5
   */
  clockTolerance?: number;
}

/** What is verified for one request. */
export interface VerifyInput {
  /** The `Upstash-Signature` header, or null when absent. */
  signature: string | null | undefined;
  /** The URL this request was called at (must equal the `sub` claim). */
  url: string;
  /** The raw body text or bytes, exactly as received. */
  body: string | Uint8Array;
}

/** Verifies `Upstash-Signature` tokens; throws {@link SignatureError} when one does not verify. */
export type Verifier = (input: VerifyInput) => Promise<SignatureClaims>;

/** A token split and decoded, its signature not checked yet. */
interface Token {
  /** `header.payload`, the signed part. */
  signed: string;
  claims: SignatureClaims;
  mac: Uint8Array;
}

function invalid(reason: string): SignatureError {
  return new SignatureError(`invalid signature: ${reason}`);
}

// Parsed once per distinct header (a broker sends one): whether it is an acceptable HS256 header.
const headerCache = new Map<string, boolean>([[HEADER, true]]);

function acceptableHeader(part: string): boolean {
  let ok = headerCache.get(part);
  if (ok === undefined) {
    const header = decodeJson(part) as { alg?: unknown; typ?: unknown; crit?: unknown } | undefined;
    // As JWS asks: alg HS256 exactly (never "none"), typ absent or JWT, no extensions to understand.
    ok =
      typeof header === "object" &&
      header !== null &&
      header.alg === "HS256" &&
      (!("typ" in header) || (typeof header.typ === "string" && /^(application\/)?jwt$/i.test(header.typ))) &&
      !("crit" in header);
    if (headerCache.size >= 16) headerCache.clear();
    headerCache.set(part, ok);
  }
  return ok;
}

// Reused on the synchronous path of every verify. On V8 (Node, Deno, Workers) a new typed array
// over 64 bytes, or a `TextEncoder.encode`, costs about 2 µs each: more than hashing the token.
const claimBytes = new Uint8Array(1024);
const tokenBytes = new Uint8Array(SYNC_HASH_LIMIT);
const computedMac = new Uint8Array(32);

function decodeJson(part: string): unknown {
  const bytes = fromBase64url(part, claimBytes);
  if (!bytes) return undefined;
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/** Splits a compact JWS and decodes its parts; throws {@link SignatureError} when it is malformed. */
function parseToken(token: string): Token {
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first < 0 || first === last || token.indexOf(".", first + 1) !== last) throw invalid("not a JWT (three dot-separated parts)");
  const header = token.slice(0, first);
  if (!acceptableHeader(header)) throw invalid("the JWT header is not an HS256 header");
  const claims = decodeJson(token.slice(first + 1, last));
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) throw invalid("the JWT payload is not a JSON object");
  const mac = fromBase64url(token.slice(last + 1));
  if (!mac || mac.length !== 32) throw invalid("the JWT signature is not an HS256 signature");
  return { signed: token.slice(0, last), claims: claims as SignatureClaims, mac };
}

/**
 * Makes a verifier for deliveries signed with either of the given keys (current first, then next).
 * It checks the HMAC (an HS256 JWT, no other algorithm), `iss`, `exp` and `nbf` (with a tolerance),
 * that `sub` equals the called URL, and the body hash over the raw body.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const { current, next } = options.keys;
  if (!current || !next) throw new ConfigError("both the current and next signing keys are required (QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY)");
  const tolerance = options.clockTolerance ?? 5;
  if (!(tolerance >= 0) || !Number.isFinite(tolerance)) {
    throw new RangeError(`clockTolerance must be a number of seconds >= 0, got ${tolerance}`);
  }
  const keys = (current === next ? [current] : [current, next]).map(keyOf);

  return async ({ signature, url, body }) => {
    if (!signature) throw new SignatureError("missing Upstash-Signature header");
    const { signed, claims, mac } = parseToken(signature);
    // A large body is hashed by Web Crypto while the HMAC is checked; it is compared only once the
    // token is found genuine. A small one is hashed then, synchronously.
    const bytes = toBytes(body);
    let bodyHash: string | Promise<string> | undefined;
    if (bytes.length > SYNC_HASH_LIMIT) {
      bodyHash = sha256Base64url(bytes);
      (bodyHash as Promise<string>).catch(() => {});
    }
    // `signed` is base64url and a dot (parseToken checked both parts), so one byte per character.
    const sync = signed.length <= SYNC_HASH_LIMIT;
    const data = sync ? tokenBytes.subarray(0, encoder.encodeInto(signed, tokenBytes).written) : encoder.encode(signed);
    let genuine = false;
    for (const key of keys) {
      // Both paths compare in constant time (Web Crypto's verify does). The synchronous one uses the
      // shared buffers with no await in between, so concurrent verifies cannot interleave there.
      genuine = sync
        ? timingSafeEqual(hmacSha256(key.sync, data, computedMac), mac)
        : await crypto.subtle.verify("HMAC", await webKey(key), mac as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
      if (genuine) break;
    }
    if (!genuine) throw invalid("the HMAC matches neither signing key");
    if (claims.iss !== "Upstash") throw invalid(`expected issuer "Upstash", got ${JSON.stringify(claims.iss)}`);
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== "number" || claims.exp + tolerance < now) throw new SignatureError("signature expired");
    if (typeof claims.nbf === "number" && claims.nbf - tolerance > now) throw new SignatureError("signature not yet valid");
    if (claims.sub !== url) throw new SignatureError(`signature is for "${claims.sub}", but this request was made to "${url}"`);
    bodyHash ??= sha256Base64url(bytes);
    if (typeof bodyHash !== "string") bodyHash = await bodyHash;
    const claimed = claims.body;
    // The claim may carry base64 padding; the computed hash has none.
    if (typeof claimed !== "string" || (claimed.endsWith("=") ? claimed.replace(/=+$/, "") : claimed) !== bodyHash) {
      throw new SignatureError("body hash does not match the signature");
    }
    return claims;
  };
}
