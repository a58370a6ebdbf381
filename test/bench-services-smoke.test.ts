// Smoke tests for the benchmarks that start services of their own: bench/broker.ts (a broker
// process), bench/store.ts (a redis-server and a REST endpoint process) and bench/e2e.ts (a
// redis-server, a broker process and worker processes). Each runs with `--quick` in a child Bun
// process, exits 0 and prints its table; and every process it started is gone once it has exited.
// Nothing here asserts speed.
import { expect, test } from "bun:test";
import { leftBehind, processesMatching } from "./helpers/processes.ts";

const ROOT = `${import.meta.dir}/..`;
const NUMBER = String.raw`\d[\d,]*(?:\.\d+)?`;
// The benchmarks' own processes and their children (which run bench/*.ts in a child mode), and Redis.
const THEIRS = /redis-server|bench\/\w+\.ts/;

async function runBench(args: string[]): Promise<{ stdout: string }> {
  const before = processesMatching(THEIRS);
  const child = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(code, stderr).toBe(0);
  expect(await leftBehind(before, THEIRS), `processes bench ${args.join(" ")} left running`).toEqual([]);
  return { stdout };
}

function expectRow(markdown: string, label: string, cells: string) {
  const row = markdown.split("\n").find((line) => line.startsWith(`| ${label}`));
  expect(row, `a "${label}" row in:\n${markdown}`).toBeDefined();
  expect(row!).toMatch(new RegExp(cells));
}

test("bench/broker.ts --quick: throughput, latency and memory rows, and nothing left running", async () => {
  const { stdout } = await runBench(["bench/broker.ts", "--quick"]);
  const spread = (unit: string) => `${NUMBER} ${unit} \\| ${NUMBER}–${NUMBER} \\|`;
  expectRow(stdout, "Throughput, publish", `\\| ${spread("jobs/s")} ≥ 6,000 jobs/s \\|$`);
  expectRow(stdout, "Enqueue → handler start, idle broker, p50", `\\| ${spread("ms")} ≤ 2 ms \\|$`);
  expectRow(stdout, "Enqueue → handler start, idle broker, p99", `\\| ${spread("ms")} ≤ 10 ms \\|$`);
  expectRow(stdout, "Broker RSS", `\\| ${spread("MB")} ≤ 200 MB \\|$`);
}, 60_000);

test("bench/store.ts --quick: the Redis store rows with their request counts, and nothing left running", async () => {
  const { stdout } = await runBench(["bench/store.ts", "--quick"]);
  const rate = `\\| ${NUMBER} \\| ${NUMBER}–${NUMBER} \\|`;
  expectRow(stdout, "one job at a time", `\\| 200 × 1 ${rate} ${NUMBER} ms / ${NUMBER} ms \\| ${NUMBER} ms / ${NUMBER} ms \\| 1\\.00 \\(400 for 400 ops\\) \\|$`);
  // Jobs in flight share requests: fewer requests than operations.
  expectRow(stdout, "64 jobs in flight, default maxInFlight (4)", `\\| 1000 × 1 ${rate} – \\| – \\| 0\\.\\d\\d \\(\\d+ for 2000 ops\\) \\|$`);
  expectRow(stdout, "64 jobs in flight, maxInFlight: Infinity", `\\| 1000 × 1 ${rate} – \\| – \\| 0\\.\\d\\d \\(\\d+ for 2000 ops\\) \\|$`);
  // Staggered over event-loop turns, only the store's own sharing joins operations: it sends fewer
  // requests than the same jobs with maxInFlight: Infinity (each tick's operations at once).
  const staggered = (label: string) => {
    expectRow(stdout, label, `\\| 1000 × 1 ${rate} – \\| – \\| ${NUMBER} \\((\\d+) for 2000 ops\\) \\|$`);
    return Number(/\((\d+) for 2000 ops\)/.exec(stdout.split("\n").find((line) => line.startsWith(`| ${label}`))!)![1]);
  };
  expect(staggered("64 jobs in flight (staggered), default maxInFlight (4)")).toBeLessThan(staggered("64 jobs in flight (staggered), maxInFlight: Infinity"));
  expectRow(stdout, "upstashRedisStore via the REST endpoint", `\\| ${NUMBER} \\| ${NUMBER}–${NUMBER} \\| ${NUMBER}× \\|$`);
}, 60_000);

test("bench/e2e.ts --quick leaves nothing running: redis-server, the broker and the workers are stopped", async () => {
  const { stdout } = await runBench(["bench/e2e.ts", "--quick", "--jobs", "200", "--systems", "jobwire,bullmq,jobwire-redis"]);
  expect(stdout).toContain("| jobwire (broker process");
  expect(stdout).toContain("| BullMQ");
  expect(stdout).toContain("| jobwire + Redis store");
}, 60_000);
