/**
 * `npm run bench`: runs every benchmark in `bench/` that exists, one after another, each in its own
 * process group bounded in time, and prints ONE markdown document (machine, date, command, each
 * benchmark's table, the targets of issues 3–6 with met/missed, and the hand-written optimization
 * log `bench/CHANGES.md`), also written to `bench/RESULTS.md` (or `--out <file>`).
 *
 *   npm run bench [-- --quick] [-- --only e2e,broker] [-- --out /tmp/RESULTS.md]
 *
 * A benchmark that accepts `--json <file>` (its source mentions `--json`) is asked for one:
 * `{ markdown?: string, targets?: { issue, id?, target, measured, met }[] }`; the runner uses its
 * `markdown` (else its stdout) and its `targets`. For one that does not yet, the runner captures
 * its stdout and reads targets from its markdown tables (a `Target` column of `≥ N` / `≤ N` cells,
 * or a requests-per-operation column for the Redis store).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { machineLine } from "./lib/stats-e2e.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const ROOT = join(BENCH_DIR, "..");
const ORDER = ["broker", "worker", "worker-runtimes", "sign", "size", "store", "e2e"] as const;
const TITLES: Record<string, string> = {
  broker: "Broker (`jobwire dev`, durable)",
  worker: "Worker overhead (in-process)",
  "worker-runtimes": "Worker overhead by runtime (in-process, for context)",
  sign: "Sign / verify",
  size: "Bundle size",
  store: "Redis store through the REST endpoint",
  e2e: "End to end vs BullMQ",
};

interface Target {
  issue: number;
  id?: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  markdown: string;
  targets: Target[];
  error?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quick = process.argv.includes("--quick");
const only = arg("--only")?.split(",").map((s) => s.trim().replace(/\.ts$/, ""));
const out = arg("--out") ?? join(BENCH_DIR, "RESULTS.md");
// Full runs of the broker bench (50k jobs + 100k pending, 5 runs) take minutes on 2 cores.
const LIMIT_MS = Number(arg("--timeout") ?? (quick ? 180 : 30 * 60)) * 1000;

let running: ChildProcess | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (running?.pid) killGroup(running.pid);
    process.exit(130);
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function runBench(name: string): Promise<Outcome> {
  const file = join(BENCH_DIR, `${name}.ts`);
  const source = readFileSync(file, "utf8");
  const dir = mkdtempSync(join(tmpdir(), `jobwire-bench-${name}-`));
  const json = source.includes("--json") ? join(dir, "result.json") : undefined;
  const args = [file, ...(quick ? ["--quick"] : []), ...(json ? ["--json", json] : [])];
  const started = performance.now();
  console.error(`\n▶ bench/${name}.ts ${args.slice(1).join(" ")}`);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], detached: true });
  running = child;
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    process.stderr.write(chunk);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid!);
  }, LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", (c) => resolve(c));
    child.once("error", () => resolve(-1));
  });
  clearTimeout(timer);
  killGroup(child.pid!); // anything it left behind in its group
  running = undefined;
  const seconds = (performance.now() - started) / 1000;
  try {
    let markdown = stdout.trim();
    let targets: Target[] | undefined;
    if (json && existsSync(json)) {
      const parsed = JSON.parse(readFileSync(json, "utf8")) as { markdown?: string; targets?: Target[] };
      if (parsed.markdown) markdown = parsed.markdown.trim();
      if (Array.isArray(parsed.targets)) targets = parsed.targets;
    }
    const ok = code === 0 && !timedOut;
    const error = timedOut ? `timed out after ${LIMIT_MS / 1000} s` : code !== 0 ? `exited with ${code}` : undefined;
    return { name, ok, seconds, markdown, targets: targets ?? targetsFromTables(name, markdown), ...(error ? { error } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Targets read from a benchmark's markdown tables (for benchmarks without `--json`).

function tables(markdown: string): { header: string[]; rows: string[][] }[] {
  const lines = markdown.split("\n").map((l) => l.trim());
  const found: { header: string[]; rows: string[][] }[] = [];
  const cells = (line: string) => line.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith("|") || !/^\|[\s:|-]+\|$/.test(lines[i + 1]!)) continue;
    const header = cells(lines[i]!);
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.startsWith("|"); j++) rows.push(cells(lines[j]!));
    found.push({ header, rows });
    i = j - 1;
  }
  return found;
}

const firstNumber = (text: string) => {
  const m = /-?\d[\d,]*(?:\.\d+)?/.exec(text.replace(/\*\*/g, ""));
  return m ? Number(m[0].replace(/,/g, "")) : Number.NaN;
};

function judge(result: string, target: string): boolean | undefined {
  const m = /(≥|>=|at least|≤|<=|at most)\s*([\d,]+(?:\.\d+)?)/i.exec(target);
  const value = firstNumber(result);
  if (!m || Number.isNaN(value)) return undefined;
  const bound = Number(m[2]!.replace(/,/g, ""));
  return /≥|>=|least/i.test(m[1]!) ? value >= bound : value <= bound;
}

function targetsFromTables(name: string, markdown: string): Target[] {
  const issue = name === "broker" ? 3 : name === "store" ? 4 : name === "size" ? 5 : 6;
  const targets: Target[] = [];
  for (const { header, rows } of tables(markdown)) {
    const t = header.findIndex((h) => /target/i.test(h));
    if (t >= 0) {
      const r = header.findIndex((h, i) => i !== t && /result|measured|value|median/i.test(h));
      const resultColumn = r >= 0 ? r : 1;
      for (const row of rows) {
        const target = row[t] ?? "";
        if (!target || target === "-") continue;
        const measured = row[resultColumn] ?? "";
        targets.push({ issue, target: `${row[0]}: ${target}`, measured, met: judge(measured, target) });
      }
    }
    const perOp = header.findIndex((h) => /requests? per op/i.test(h));
    if (perOp >= 0 && rows.length) {
      const worst = Math.max(...rows.map((row) => firstNumber(row[perOp] ?? "")));
      targets.push({
        issue: 4,
        id: "store-requests",
        target: "Redis store: claim and complete one HTTP request each",
        measured: `${worst.toFixed(2)} requests per operation (worst row)`,
        met: worst <= 1.005,
      });
    }
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------
// The targets of issues 3–6, matched against what the benchmarks reported.

const CANONICAL: { issue: number; bench: string; target: string; match: (t: Target) => boolean }[] = [
  { issue: 3, bench: "broker", target: "Broker throughput, durable: ≥ 6,000 jobs/s", match: (t) => /throughput/i.test(t.target) },
  { issue: 3, bench: "broker", target: "Broker enqueue → handler start, idle: p50 ≤ 2 ms", match: (t) => /p50/i.test(t.target) },
  { issue: 3, bench: "broker", target: "Broker enqueue → handler start, idle: p99 ≤ 10 ms", match: (t) => /p99/i.test(t.target) },
  { issue: 3, bench: "broker", target: "Broker RSS with 100k pending delayed messages ≤ 200 MB", match: (t) => /rss|memory/i.test(t.target) },
  { issue: 4, bench: "store", target: "Redis store: claim and complete one request each", match: (t) => t.id === "store-requests" || /claim|complete|request/i.test(t.target) },
  { issue: 5, bench: "size", target: "Worker + client entries ≤ 20 KB gzipped", match: (t) => /kb|gzip/i.test(t.target) },
  { issue: 5, bench: "size", target: "Both entries build for the worker target without Node polyfills", match: (t) => /polyfill/i.test(t.target) },
  { issue: 6, bench: "e2e", target: "End to end: jobwire ≥ 1.0× BullMQ's jobs/s", match: (t) => t.id === "e2e-vs-bullmq" || /bullmq/i.test(t.target) },
  { issue: 6, bench: "worker", target: "Worker route ≥ 0.5× bare Hono req/s", match: (t) => /hono/i.test(t.target) && !/receiver/i.test(t.target) },
  { issue: 6, bench: "worker", target: "Worker route ≥ 1.0× the `Receiver` route req/s", match: (t) => /receiver/i.test(t.target) },
];

function targetTable(outcomes: Outcome[]): string {
  const used = new Set<Target>();
  const rows: string[] = [];
  const status = (met: boolean | undefined) => (met === true ? "met" : met === false ? "**missed**" : "?");
  for (const c of CANONICAL) {
    const outcome = outcomes.find((o) => o.name === c.bench);
    const hit = outcome?.targets.find((t) => !used.has(t) && c.match(t));
    if (hit) used.add(hit);
    const measured = hit
      ? hit.measured
      : !existsSync(join(BENCH_DIR, `${c.bench}.ts`))
        ? `not measured (bench/${c.bench}.ts does not exist yet)`
        : !outcome
          ? "not run (--only)"
          : `not reported by bench/${c.bench}.ts${outcome.ok ? "" : ` (${outcome.error})`}`;
    rows.push(`| ${c.issue} | ${c.target} | ${measured} | ${hit ? status(hit.met) : "–"} |`);
  }
  for (const o of outcomes) {
    for (const t of o.targets) if (!used.has(t)) rows.push(`| ${t.issue} | ${t.target} | ${t.measured} | ${status(t.met)} |`);
  }
  return ["| Issue | Target | Measured | Status |", "|---|---|---|---|", ...rows].join("\n");
}

// ---------------------------------------------------------------------------------------------

const names = ORDER.filter((n) => existsSync(join(BENCH_DIR, `${n}.ts`)) && (!only || only.includes(n)));
if (only) for (const n of only) if (!(ORDER as readonly string[]).includes(n)) throw new Error(`unknown benchmark "${n}"; one of ${ORDER.join(", ")}`);
const started = new Date();
const outcomes: Outcome[] = [];
for (const name of names) outcomes.push(await runBench(name));

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const doc: string[] = [
  "# jobwire benchmarks",
  "",
  "Generated by `bench/run.ts`; do not edit by hand.",
  "",
  `- Machine: ${machineLine()}`,
  `- Date: ${started.toISOString()} (took ${Math.round((Date.now() - started.getTime()) / 1000)} s)`,
  `- Command: \`${command}\`${quick ? " (quick smoke pass: tiny workloads, not representative)" : ""}`,
  `- Benchmarks: ${outcomes.map((o) => `bench/${o.name}.ts${o.ok ? "" : ` (FAILED: ${o.error})`}`).join(", ") || "none"}`,
  "",
];
for (const o of outcomes) {
  doc.push(`## ${TITLES[o.name] ?? o.name} (\`bench/${o.name}.ts\`)`, "");
  if (!o.ok) doc.push(`**Failed: ${o.error}.** Output so far:`, "");
  // Demote the benchmarks' own headings below this document's.
  doc.push(o.markdown.replace(/^#{1,3} /gm, "### ") || "(no output)", "");
}
doc.push("## Targets", "", targetTable(outcomes), "");
// The optimization log is written by hand (what was changed for a missed target, and what it bought);
// it is carried into every generated RESULTS.md so the numbers and their history stay together.
const changes = join(BENCH_DIR, "CHANGES.md");
if (existsSync(changes)) doc.push(readFileSync(changes, "utf8").trim().replace(/^(#+) /gm, "#$1 "), "");
const text = doc.join("\n");
console.log(text);
writeFileSync(out, text);
console.error(`\nwrote ${relative(process.cwd(), out) || out}`);
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
