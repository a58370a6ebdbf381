import { sign, verify } from "hono/jwt";
import { sha256Base64url } from "./encoding.ts";
import { SignatureError } from "./errors.ts";

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
const keyCache = new Map<string, Promise<CryptoKey>>();

// Importing a raw HMAC key costs about as much as the HMAC itself; keys are few and long-lived.
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), HMAC, false, ["sign", "verify"]);
    keyCache.set(secret, key);
  }
  return key;
}

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
  return sign(claims as unknown as Record<string, unknown>, await hmacKey(signingKey), "HS256");
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

/**
 * Makes a verifier for deliveries signed with either of the given keys (current first, then next).
 * It checks the HMAC, `iss`, `exp` and `nbf` (with a tolerance), that `sub` equals the called URL,
 * and the body hash over the raw body.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const { current, next } = options.keys;
  if (!current || !next) throw new SignatureError("both the current and next signing keys are required");
  const tolerance = options.clockTolerance ?? 5;
  const secrets = current === next ? [current] : [current, next];

  return async ({ signature, url, body }) => {
    if (!signature) throw new SignatureError("missing Upstash-Signature header");
    let claims: SignatureClaims | undefined;
    let lastError: unknown;
    for (const secret of secrets) {
      try {
        // Times are checked below with a tolerance: Hono's defaults reject an `iat` in the future.
        claims = (await verify(signature, await hmacKey(secret), {
          alg: "HS256",
          iss: "Upstash",
          exp: false,
          nbf: false,
          iat: false,
        })) as unknown as SignatureClaims;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!claims) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new SignatureError(`invalid signature: ${reason}`, { cause: lastError });
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== "number" || claims.exp + tolerance < now) throw new SignatureError("signature expired");
    if (typeof claims.nbf === "number" && claims.nbf - tolerance > now) throw new SignatureError("signature not yet valid");
    if (claims.sub !== url) throw new SignatureError(`signature is for "${claims.sub}", but this request was made to "${url}"`);
    if (typeof claims.body !== "string" || claims.body.replace(/=+$/, "") !== (await sha256Base64url(body))) {
      throw new SignatureError("body hash does not match the signature");
    }
    return claims;
  };
}
