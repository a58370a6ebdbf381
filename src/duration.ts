/** The longest delay `setTimeout` takes (about 24.8 days); a longer one overflows and fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A QStash duration: `"10s"`, `"5m"`, `"2h"`, `"1d"`, or combined as `"1d10h30m"`; a number is seconds. */
export type Duration = `${number}${"s" | "m" | "h" | "d"}` | (string & {}) | number;

/**
 * Parses a QStash duration into whole seconds. Throws a `TypeError` naming the value when it is
 * not one (negative, empty, unknown unit, fractional).
 */
export function parseDuration(value: Duration): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`invalid duration ${value}: expected a whole number of seconds >= 0`);
    return bounded(value, value);
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) return bounded(Number(text), value);
  if (!/^(\d+[smhd])+$/.test(text)) {
    throw new TypeError(`invalid duration "${value}": expected a number with a unit, like "10s", "5m", "2h", "1d" or "1d10h30m"`);
  }
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhd])/g)) seconds += Number(n) * (UNIT_SECONDS[unit!] ?? 0);
  return bounded(seconds, value);
}

/** The longest duration taken, in seconds: the span a JavaScript `Date` can hold (about 273,790 years). */
export const MAX_DURATION_SECONDS = 8.64e12;

function bounded(seconds: number, value: Duration): number {
  if (seconds > MAX_DURATION_SECONDS) {
    throw new TypeError(`invalid duration ${JSON.stringify(value)}: longer than any date can hold (at most ${MAX_DURATION_SECONDS} seconds)`);
  }
  return seconds;
}

/** Formats seconds as the shortest QStash duration string (`90` → `"1m30s"`). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  let rest = Math.floor(seconds);
  let out = "";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
