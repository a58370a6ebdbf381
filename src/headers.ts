/** The header that carries a job's idempotency key to the worker (forwarded by the broker). */
export const IDEMPOTENCY_HEADER = "Jobwire-Idempotency-Key";
/** The header that tells the worker how many attempts the message was published with. */
export const MAX_ATTEMPTS_HEADER = "Jobwire-Max-Attempts";

/**
 * Whether `fetch` can send `value` as a header value: tabs and printable Latin-1 only (no line
 * break, nothing beyond U+00FF). Checked before sending, so such a value is a clear error rather
 * than a `fetch` failure that would pass for a network error.
 */
export function isHeaderValue(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}
