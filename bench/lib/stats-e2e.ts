/**
 * Small helpers for `bench/e2e.ts` and `bench/run.ts`: median and spread, percentiles, number
 * formatting, and a description of the machine. (Kept apart from the other benchmarks' shared
 * helpers so that the two can evolve independently.)
 */
import { spawnSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";

/** Median of `values` (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `{ median, min, max }` of `values`. */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** The `p`-th percentile (0..100) of an ascending array, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** `1,234` (integers) or `1.23` (below 100), for tables. */
export function num(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** `median (min–max)` of `values`. */
export function withSpread(values: readonly number[], digits?: number): string {
  const s = spread(values);
  if (values.length === 1) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

/** Cores, memory, CPU model, OS and runtime versions, as one markdown line. */
export function machineLine(): string {
  const m = machine();
  return `${m.cores} cores × ${m.cpu}, ${m.memoryGB} GB RAM, ${m.os}; Bun ${m.bun}, Node ${m.node}`;
}

export function machine() {
  const node = spawnSync("node", ["--version"], { encoding: "utf8" });
  const bun = (globalThis as { Bun?: { version: string } }).Bun?.version ?? "n/a";
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    memoryGB: (totalmem() / 2 ** 30).toFixed(1),
    os: `${process.platform} ${release()} ${process.arch}`,
    bun,
    node: node.status === 0 ? node.stdout.trim().replace(/^v/, "") : "n/a",
  };
}
