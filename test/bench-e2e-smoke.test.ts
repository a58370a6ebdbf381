// Smoke test for bench/e2e.ts and the `npm run bench` runner (bench/run.ts): a tiny workload, one
// run, so the scripts cannot rot. Nothing here asserts speed; only that they run and report.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const NUMBER = String.raw`\d[\d,]*(?:\.\d+)?`;

async function run(args: string[]) {
  const child = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}

function expectRow(markdown: string, label: string) {
  const row = markdown.split("\n").find((line) => line.startsWith(`| ${label}`));
  expect(row, `a "${label}" row in:\n${markdown}`).toBeDefined();
  // jobs/s, p50, p99: numbers
  expect(row!).toMatch(new RegExp(`^\\| [^|]+ \\| ${NUMBER} \\| ${NUMBER} \\| ${NUMBER} \\|`));
}

test("bench/e2e.ts --quick runs jobwire and BullMQ end to end and writes its JSON", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-e2e-smoke-"));
  try {
    const json = join(dir, "e2e.json");
    const { stdout, stderr, code } = await run(["bench/e2e.ts", "--quick", "--jobs", "200", "--systems", "jobwire,bullmq", "--json", json]);
    expect(code, stderr).toBe(0);
    expectRow(stdout, "jobwire (broker process");
    expectRow(stdout, "BullMQ");
    const parsed = JSON.parse(readFileSync(json, "utf8"));
    expect(parsed.targets[0].id).toBe("e2e-vs-bullmq");
    expect(parsed.results.jobwire[0].jobs).toBe(200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);

test("bench/run.ts --quick --only e2e writes one document with the table and the targets", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-bench-smoke-"));
  try {
    const out = join(dir, "RESULTS.md");
    const { stdout, stderr, code } = await run(["bench/run.ts", "--quick", "--only", "e2e", "--out", out]);
    expect(code, stderr).toBe(0);
    const written = readFileSync(out, "utf8");
    expect(stdout.trim()).toBe(written.trim());
    expect(written).toContain("Machine: ");
    expect(written).toContain("npm run bench -- --quick --only e2e");
    expectRow(written, "jobwire (broker process");
    expectRow(written, "BullMQ");
    expect(written).toMatch(/\| 6 \| End to end: jobwire ≥ 1\.0× BullMQ's jobs\/s \| [\d.]+× .*\| (met|\*\*missed\*\*) \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);
