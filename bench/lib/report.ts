/**
 * What every benchmark here shares: its command-line flags (`--quick`, `--json <file>`), the
 * markdown preamble (machine, date, exact command), and the JSON it writes for `bench/run.ts`:
 * `{ bench, markdown, targets, rows, machine, date, command, quick }`. `markdown` and `targets` are
 * what the runner reads; `rows` are the raw numbers behind the table.
 */
import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import { type Machine, machineInfo, machineSummary } from "./machine.ts";

export interface Target {
  /** The issue that sets the target (5: bundle size, 6: benchmarks). */
  issue: number;
  id: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchArgs {
  quick: boolean;
  json: string | undefined;
  /** Values of the extra flags a benchmark accepts (`--compare <module>`). */
  options: Record<string, string>;
  /** The command as typed, for the table: `npx bun bench/worker.ts --quick`. */
  command: string;
  /** Started at, ISO. */
  date: string;
}

export function benchArgs(extra: readonly string[] = [], argv: readonly string[] = process.argv): BenchArgs {
  const args = argv.slice(2);
  const valued = new Set(["--json", ...extra]);
  const options: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (valued.has(a)) {
      const value = args[++i];
      if (value === undefined || value.startsWith("--")) throw new Error(`${a} needs a value`);
      options[a.slice(2)] = value;
    } else if (a !== "--quick") {
      throw new Error(`unknown argument "${a}" (accepted: --quick, ${[...valued].map((f) => `${f} <value>`).join(", ")})`);
    }
  }
  const json = options.json;
  const script = relative(process.cwd(), argv[1] ?? "") || argv[1] || "";
  return {
    quick: args.includes("--quick"),
    json,
    options,
    command: ["npx bun", script, ...args].join(" "),
    date: new Date().toISOString(),
  };
}

/** The lines above a benchmark's table: machine, date, command, and how the numbers were taken. */
export function preamble(args: BenchArgs, how: string): string {
  return [
    `- Machine: ${machineSummary()}`,
    `- Date: ${args.date}`,
    `- Command: \`${args.command}\`${args.quick ? " (quick pass: tiny workload, not representative)" : ""}`,
    `- Method: ${how}`,
  ].join("\n");
}

export interface Report<Row> {
  bench: string;
  markdown: string;
  targets: Target[];
  rows: Row[];
}

/** Prints the markdown to stdout and, with `--json`, writes the report. */
export function publish<Row>(args: BenchArgs, report: Report<Row>): void {
  console.log(report.markdown);
  if (!args.json) return;
  const machine: Machine = machineInfo();
  const doc = { ...report, machine, date: args.date, command: args.command, quick: args.quick };
  writeFileSync(args.json, `${JSON.stringify(doc, null, 2)}\n`);
}
