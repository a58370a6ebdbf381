import { parseDuration } from "../duration.ts";

const DAY_MS = 86_400_000;

/**
 * Parses a `Retry-After` response header into milliseconds, capped at one day: whole seconds,
 * an HTTP date, or a QStash duration (`6m5s`). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  let ms: number | undefined;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else if (/^(\d+[smhd])+$/.test(text)) {
    try {
      ms = parseDuration(text) * 1000;
    } catch {
      ms = DAY_MS; // longer than a date can hold: past the cap anyway
    }
  }
  else {
    const date = Date.parse(text);
    if (!Number.isNaN(date)) ms = Math.max(0, date - now);
  }
  return ms === undefined ? undefined : Math.min(ms, DAY_MS);
}

/** QStash's default backoff before retry `n` (from 1): `min(1 day, e^(2.5 n))` seconds, in ms. */
export function defaultBackoff(n: number): number {
  return Math.min(DAY_MS, Math.round(Math.exp(2.5 * n) * 1000));
}
