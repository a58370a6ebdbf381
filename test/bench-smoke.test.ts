// Smoke test for bench/worker.ts, bench/worker-runtimes.ts, bench/sign.ts and bench/size.ts: each runs with `--quick` in a
// child Bun process, exits 0, prints its table with the expected rows, and writes its JSON for
// `npm run bench`. Nothing here asserts speed or size; only that the scripts run and report.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const NUMBER = String.raw`\d[\d,]*(?:\.\d+)?`;

async function runBench(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `jobwire-bench-${name}-smoke-`));
  try {
    const json = join(dir, `${name}.json`);
    const child = Bun.spawn([process.execPath, `bench/${name}.ts`, "--quick", "--json", json], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.markdown.trim()).toBe(stdout.trim());
    expect(stdout).toContain("- Machine: ");
    expect(stdout).toContain(`- Command: \`npx bun bench/${name}.ts --quick --json`);
    return { stdout, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A table row starting with `label` whose next cells (after `skip` text cells) are numbers. */
function expectRow(markdown: string, label: string, numbers: number, skip = 0) {
  const row = markdown.split("\n").find((line) => line.startsWith(`| ${label}`));
  expect(row, `a "${label}" row in:\n${markdown}`).toBeDefined();
  const cells = `(?: [^|]+ \\|){${skip}}` + ` ${NUMBER}[^|]* \\|`.repeat(numbers);
  expect(row!).toMatch(new RegExp(`^\\| [^|]+ \\|${cells}`));
}

const TARGET_ROW = /\| (met|\*\*missed\*\*) \|$/m;

test("bench/worker.ts --quick: bare Hono, jobwire, Receiver and the two floor rows in both modes, and the two targets", async () => {
  const { stdout, report } = await runBench("worker");
  for (const mode of ["concurrent (64 in flight)", "sequential (1 in flight)"]) {
    for (const label of ["bare Hono", "jobwire worker", "Hono + `Receiver.verify`", "floor: Hono + Web Crypto", "floor: Hono + jobwire's verifier"]) {
      const row = stdout.split("\n").find((line) => line.startsWith(`| ${label}`) && line.includes(mode));
      expect(row, `${label} / ${mode}`).toMatch(new RegExp(`\\| ${NUMBER} \\| ${NUMBER}–${NUMBER} \\| ${NUMBER} \\|`));
    }
  }
  expect(report.targets.map((t: { id: string }) => t.id)).toEqual(["worker-vs-hono", "worker-vs-receiver"]);
  expect(stdout).toMatch(TARGET_ROW);
  expect(report.rows).toHaveLength(10);
  expect(stdout).toMatch(/For scale: a route that only reads the body and runs jobwire's verifier reaches \d+\.\d+× \(64 in flight\)/);
}, 20_000);

test("bench/worker-runtimes.ts --quick: the worker routes on Bun, Node.js and Deno, both modes, no targets", async () => {
  const { stdout, report } = await runBench("worker-runtimes");
  for (const runtime of ["Bun", "Node.js", "Deno"]) {
    for (const mode of ["64 in flight", "sequential"]) {
      const row = stdout.split("\n").find((line) => line.startsWith(`| ${runtime} `) && line.includes(`| ${mode} |`));
      expect(row, `a ${runtime} ${mode} row in:\n${stdout}`).toBeDefined();
      expect(row!).toMatch(new RegExp(`^\\| ${runtime.replace(".", "\\.")} [\\d.]+ \\| ${mode} \\|(?: ${NUMBER}×? \\|){6}$`));
    }
  }
  expect(report.targets).toEqual([]);
  expect(report.rows.map((r: { runtime: { name: string } }) => r.runtime.name)).toEqual(["Bun", "Node.js", "Deno"]);
}, 180_000);

test("bench/sign.ts --quick: signDelivery, createVerifier and Receiver.verify rows", async () => {
  const { stdout, report } = await runBench("sign");
  for (const label of ["jobwire `signDelivery`", "jobwire `createVerifier`", "`@upstash/qstash` `Receiver.verify`"]) {
    expectRow(stdout, label, 1);
  }
  expect(report.rows.map((r: { op: string }) => r.op)).toEqual(["sign", "verify", "receiver"]);
}, 20_000);

test("bench/size.ts --quick: the five entries build with no Node builtin, with sizes and the two targets, plus the two context rows", async () => {
  const { stdout, report } = await runBench("size");
  for (const label of [
    "jobwire worker (",
    "jobwire enqueue (",
    "jobwire worker + enqueue, one bundle",
    "`@upstash/qstash` `Client` alone",
    "`@upstash/qstash` `Receiver` alone",
    // Context only (Inngest's and Upstash Workflow's Hono entries, dev dependencies): sized, not judged.
    "context: Inngest Hono `serve`",
    "context: Upstash Workflow Hono `serve`",
  ]) {
    expectRow(stdout, label, 3);
  }
  expect(report.targets.map((t: { id: string }) => t.id)).toEqual(["size-both", "size-no-polyfills"]);
  expect(report.targets[1].met).toBe(true);
  expect(stdout).toMatch(TARGET_ROW);
  // Each context row has its note: the installed version, and either "nothing external" or the
  // Node builtins that were left external, by name.
  const contexts = report.rows.filter((r: { context?: boolean }) => r.context);
  expect(contexts.map((r: { id: string }) => r.id)).toEqual(["inngest-hono", "upstash-workflow-hono"]);
  for (const r of contexts as { package: string; version: string; externals: { path: string }[] }[]) {
    const note = stdout.split("\n").find((line) => line.startsWith(`- ${r.package}@${r.version}: `));
    expect(note, r.package).toBeDefined();
    if (r.externals.length === 0) expect(note!).toContain("nothing external");
    for (const x of r.externals) expect(note!).toContain(`\`${x.path}\``);
  }
}, 20_000);
