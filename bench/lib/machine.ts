/**
 * The machine a benchmark ran on: cores, CPU model, memory, OS, and the Bun and Node versions
 * (Node's from `node --version`, since under Bun `process.versions.node` is Bun's compatibility level).
 */
import { spawnSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";

export interface Machine {
  cores: number;
  cpu: string;
  memoryGB: number;
  os: string;
  bun: string;
  node: string;
}

let cached: Machine | undefined;

export function machineInfo(): Machine {
  if (cached) return cached;
  const node = spawnSync("node", ["--version"], { encoding: "utf8" });
  cached = {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() || "unknown CPU",
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()} ${process.arch}`,
    bun: (globalThis as { Bun?: { version: string } }).Bun?.version ?? "n/a",
    node: node.status === 0 ? node.stdout.trim().replace(/^v/, "") : "n/a",
  };
  return cached;
}

/** `2 cores × AMD EPYC, 23.5 GB RAM, linux ... x64; Bun 1.4.5, Node 20.20.2` */
export function machineSummary(m: Machine = machineInfo()): string {
  return `${m.cores} cores × ${m.cpu}, ${m.memoryGB} GB RAM, ${m.os}; Bun ${m.bun}, Node ${m.node}`;
}
