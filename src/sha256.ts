// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in plain, synchronous JavaScript, for the small
// inputs of a delivery: a Web Crypto call is asynchronous and, on some runtimes, a hop to another
// thread that costs far more than hashing a few hundred bytes here. Large inputs go to Web Crypto.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
// Scratch space, reused: the message schedule, the running state, the last block or two, padded.
const W = new Int32Array(64);
const state = new Int32Array(8);
const tail = new Uint8Array(128);

/** Runs the compression function on `state` over the 64-byte blocks of `data` in [start, end). */
function compress(state: Int32Array, data: Uint8Array, start: number, end: number): void {
  let h0 = state[0]!, h1 = state[1]!, h2 = state[2]!, h3 = state[3]!;
  let h4 = state[4]!, h5 = state[5]!, h6 = state[6]!, h7 = state[7]!;
  for (let at = start; at < end; at += 64) {
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      // The message schedule, computed as the rounds need it.
      let w: number;
      if (i < 16) {
        const j = at + 4 * i;
        w = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
      } else {
        const x = W[i - 15]!;
        const y = W[i - 2]!;
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        // Added pairwise, each sum kept to 32 bits: engines then stay on integer arithmetic.
        w = (((((s0 + s1) | 0) + W[i - 7]!) | 0) + W[i - 16]!) | 0;
      }
      W[i] = w;
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (((((((h + s1) | 0) + (g ^ (e & (f ^ g)))) | 0) + K[i]!) | 0) + w) | 0; // Ch(e, f, g)
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) | (c & (a | b)))) | 0; // Maj(a, b, c)
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

/**
 * The digest of `data` hashed on from `init` (the state after `before` bytes already hashed, a
 * multiple of 64), written as 32 bytes into `out`.
 */
function finish(init: Int32Array, before: number, data: Uint8Array, out: Uint8Array): Uint8Array {
  state.set(init);
  const n = data.length;
  const full = n - (n % 64);
  compress(state, data, 0, full);
  const rest = n - full;
  // Copied by hand: a `subarray` view costs more than copying the few bytes left.
  for (let i = 0; i < rest; i++) tail[i] = data[full + i]!;
  tail[rest] = 0x80;
  const size = rest < 56 ? 64 : 128;
  tail.fill(0, rest + 1, size - 8);
  const bits = (before + n) * 8;
  const high = Math.floor(bits / 0x100000000);
  for (let i = 0; i < 4; i++) {
    tail[size - 8 + i] = high >>> (24 - 8 * i);
    tail[size - 4 + i] = bits >>> (24 - 8 * i);
  }
  compress(state, tail, 0, size);
  for (let i = 0; i < 8; i++) {
    const word = state[i]!;
    out[4 * i] = word >>> 24;
    out[4 * i + 1] = word >>> 16;
    out[4 * i + 2] = word >>> 8;
    out[4 * i + 3] = word;
  }
  return out;
}

/**
 * SHA-256 of `data`, synchronously, into `out` (32 bytes; a new array by default). Hot paths pass
 * a reused one: on V8 (Node, Deno, Workers) a new typed array can cost more than hashing a block.
 */
export function sha256(data: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  return finish(IV, 0, data, out);
}

/** An HMAC-SHA256 key, prepared: the states after hashing the inner and outer padded keys. */
export interface HmacKey {
  inner: Int32Array;
  outer: Int32Array;
}

/** Prepares an HMAC-SHA256 key from its raw bytes (hashed first when longer than a block). */
export function hmacKey(raw: Uint8Array): HmacKey {
  const key = new Uint8Array(64);
  key.set(raw.length > 64 ? sha256(raw) : raw);
  const pad = (byte: number) => {
    const padded = IV.slice();
    compress(padded, key.map((b) => b ^ byte), 0, 64);
    return padded;
  };
  return { inner: pad(0x36), outer: pad(0x5c) };
}

const innerDigest = new Uint8Array(32);

/** HMAC-SHA256 of `data` under `key`, synchronously, into `out` (32 bytes; a new array by default). */
export function hmacSha256(key: HmacKey, data: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  return finish(key.outer, 64, finish(key.inner, 64, data, innerDigest), out);
}

/** Whether two byte strings are equal, in a time that depends on their length only. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
