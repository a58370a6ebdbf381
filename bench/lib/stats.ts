/** Median and spread of repeated runs, and number formatting for tables. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Median (mean of the two middle values for an even count), min and max of `values`. */
export function summarize(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** `12,345` at or above 100, else two significant decimals (`1.23`, `12.3`); `n/a` when not finite. */
export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** `min–max` of a spread. */
export function range(s: Spread, digits?: number): string {
  return `${fmt(s.min, digits)}–${fmt(s.max, digits)}`;
}

/** `1.23×` */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";
}

/** Bytes as `12.3 KB` (KB = 1024 bytes). */
export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
