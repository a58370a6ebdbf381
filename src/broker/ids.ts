// ASCII order, so ids built from these characters sort as their numbers do.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Random bytes are drawn from the CSPRNG in bulk: one call per 4 KB instead of one per id.
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** A random base62 string of `length` characters. */
export function randomId(length: number): string {
  if (poolAt + length > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let out = "";
  // 248 = 62 * 4: rejecting bytes at or above it keeps every character equally likely.
  for (let end = poolAt + length; poolAt < end; poolAt++) {
    const byte = pool[poolAt]!;
    out += byte < 248 ? ALPHABET[byte % 62] : ALPHABET[Math.floor(Math.random() * 62)];
  }
  return out;
}

let lastTime = 0;
let lastPrefix = "";
let counter = 0;

/**
 * A time-ordered id: 8 base62 characters of milliseconds, 3 of a per-millisecond counter, then
 * random ones. Indexes on ids (messages, events) then grow at their end instead of at random
 * pages, which is most of the cost of inserting a row.
 */
export function sortableId(randomLength: number): string {
  const now = Date.now();
  if (now !== lastTime) {
    lastTime = now;
    counter = 0;
    lastPrefix = "";
    for (let n = now, i = 0; i < 8; i++, n = Math.floor(n / 62)) lastPrefix = ALPHABET[n % 62] + lastPrefix;
  }
  const prefix = lastPrefix;
  let count = "";
  for (let n = counter++ % 238_328, i = 0; i < 3; i++, n = Math.floor(n / 62)) count = ALPHABET[n % 62] + count;
  return prefix + count + randomId(randomLength);
}

/** Ids in the shapes QStash uses (`msg_...`, `scd_...`). */
export const ids = {
  message: (): string => `msg_${sortableId(13)}`,
  dlq: (): string => `dlq_${sortableId(13)}`,
  schedule: (): string => `scd_${randomId(24)}`,
  signingKey: (): string => `sig_${randomId(28)}`,
};
