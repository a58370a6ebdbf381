/**
 * Worker overhead by runtime: `bench/worker.ts` (the same routes, deliveries and method) run under
 * Bun, Node.js and Deno, one after another, so the worker's ratio to bare Hono can be read per
 * runtime. The other runtimes run one esbuild bundle of it (everything inlined but `node:*`), with
 * the garbage collector exposed as Bun's is. Each run is bounded in time; the rows come from each
 * run's `--json`. For context, not a target: the targets are `bench/worker.ts`'s, on Bun.
 *
 *   npx bun bench/worker-runtimes.ts [--quick] [--json out.json]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { benchArgs, preamble, publish } from "./lib/report.ts";
import { fmt, ratio } from "./lib/stats.ts";
import { markdownTable } from "./lib/table.ts";

const args = benchArgs();
const ROOT = join(import.meta.dir, "..");
const LIMIT_MS = (args.quick ? 120 : 600) * 1000;

interface WorkerRow {
  mode: string;
  inFlight: number;
  variant: string;
  summary: { median: number };
}

interface Runtime {
  name: string;
  version: string;
  command: string[];
  /** What it runs: the source on Bun, the bundle elsewhere. */
  script: string;
}

function versionOf(command: string[]): string {
  const result = Bun.spawnSync([...command, "--version"]);
  const text = result.stdout.toString().trim();
  if (result.exitCode !== 0 || !text) throw new Error(`${command[0]} --version failed: ${result.stderr.toString()}`);
  return /(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? text.split("\n")[0]!;
}

/**
 * Runs `command` bounded in time and returns its `--json` rows. The child stays in this process's
 * group, so `npm run bench` stopping this benchmark (it kills the group) stops the child too.
 */
async function measure(runtime: Runtime, dir: string): Promise<WorkerRow[]> {
  const json = join(dir, `${runtime.name}.json`);
  const child = spawn(runtime.command[0]!, [...runtime.command.slice(1), runtime.script, ...(args.quick ? ["--quick"] : []), "--json", json], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", (c) => resolve(c));
    child.once("error", () => resolve(-1));
  });
  clearTimeout(timer);
  if (code !== 0 || !existsSync(json)) throw new Error(`bench/worker.ts on ${runtime.name} exited with ${code}: ${stderr.slice(-2000)}`);
  return (JSON.parse(readFileSync(json, "utf8")) as { rows: WorkerRow[] }).rows;
}

const deno = join(ROOT, "node_modules/.bin/deno");
const node = Bun.which("node");
if (!node) throw new Error("node is not on the PATH: install Node.js >= 20");
if (!existsSync(deno)) throw new Error("Deno is missing: run npm install (the deno package is a devDependency)");

const dir = mkdtempSync(join(tmpdir(), "jobwire-bench-runtimes-"));
try {
  const bundle = join(dir, "worker.mjs");
  await build({
    entryPoints: [join(ROOT, "bench/worker.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: bundle,
    logLevel: "error",
  });
  const runtimes: Runtime[] = [
    { name: "Bun", version: Bun.version, command: [process.execPath], script: join(ROOT, "bench/worker.ts") },
    { name: "Node.js", version: versionOf([node]), command: [node, "--expose-gc"], script: bundle },
    { name: "Deno", version: versionOf([deno]), command: [deno, "run", "-A", "--v8-flags=--expose-gc"], script: bundle },
  ];

  const results: { runtime: Runtime; rows: WorkerRow[] }[] = [];
  for (const runtime of runtimes) {
    console.error(`  worker routes on ${runtime.name} ${runtime.version}`);
    results.push({ runtime, rows: await measure(runtime, dir) });
  }

  const median = (rows: WorkerRow[], inFlight: number, variant: string) => {
    const row = rows.find((r) => r.inFlight === inFlight && r.variant === variant);
    if (!row) throw new Error(`no ${variant} row with ${inFlight} in flight`);
    return row.summary.median;
  };
  const table = markdownTable(
    ["Runtime", "Mode", "bare Hono req/s", "jobwire req/s", "jobwire / bare", "verifier-only / bare", "Receiver req/s", "jobwire / Receiver"],
    results.flatMap(({ runtime, rows }) =>
      [64, 1].map((inFlight) => {
        const bare = median(rows, inFlight, "bare");
        const jobwire = median(rows, inFlight, "jobwire");
        const receiver = median(rows, inFlight, "receiver");
        return [
          `${runtime.name} ${runtime.version}`,
          inFlight === 1 ? "sequential" : `${inFlight} in flight`,
          fmt(bare),
          fmt(jobwire),
          ratio(jobwire / bare),
          ratio(median(rows, inFlight, "verifier") / bare),
          fmt(receiver),
          ratio(jobwire / receiver),
        ];
      }),
    ),
    ["left", "left", "right", "right", "right", "right", "right", "right"],
  );

  const markdown = [
    "### Worker overhead by runtime (in-process `app.fetch`)",
    "",
    preamble(
      args,
      "`bench/worker.ts` run whole under each runtime in turn (Node.js and Deno run one esbuild bundle of it), medians of its runs; for context, not a target (the targets are measured on Bun, above).",
    ),
    "",
    table,
  ].join("\n");
  publish(args, { bench: "worker-runtimes", markdown, targets: [], rows: results.map(({ runtime, rows }) => ({ runtime, rows })) });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
