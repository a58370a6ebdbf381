/** The header that carries a job's idempotency key to the worker (forwarded by the broker). */
export const IDEMPOTENCY_HEADER = "Jobwire-Idempotency-Key";
/** The header that tells the worker how many attempts the message was published with. */
export const MAX_ATTEMPTS_HEADER = "Jobwire-Max-Attempts";
