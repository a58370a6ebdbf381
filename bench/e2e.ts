/**
 * End to end, jobwire vs BullMQ: the same workload (N no-op jobs, enqueued in batches of the same
 * size by the same number of concurrent producers) through
 *
 *  - jobwire:        createClient → `jobwire dev` (durable SQLite, temp dir, its own process) → a
 *                    createWorker app on Bun.serve (signature verified, input validated with valibot,
 *                    memoryStore). The client and the worker share the app process, as in an app
 *                    that enqueues its own jobs; the broker is a separate process, like redis-server.
 *  - BullMQ:         a fresh redis-server (its own process) ← `queue.addBulk` + a `Worker` at
 *                    concurrency 32 in the app process, no-op processor.
 *  - jobwire+Redis:  as jobwire, with `upstashRedisStore` through the broker's Upstash REST endpoint
 *                    (`jobwire dev --redis`) to its own redis-server.
 *  - jobwire 1-proc: broker, client and worker all in one Bun process (for reference).
 *
 * jobs/s runs from the first enqueue to the last handler completion; latency is enqueue (the
 * timestamp put in the job's input/data just before its batch is sent) → handler start. Every job
 * must run exactly once (distinct ids counted; a duplicate or a missing job fails the run).
 *
 * Each run is a fresh process group (app, broker, redis-server) in a fresh temp dir, killed and
 * removed afterwards even on failure, bounded by a hard deadline; systems alternate between runs so
 * machine noise hits all of them. Loopback (127.0.0.1) only.
 *
 *   npx bun bench/e2e.ts [--quick] [--json out.json] [--runs 5] [--jobs 20000] [--batch 100]
 *                        [--producers 4] [--systems jobwire,bullmq,jobwire-redis,jobwire-1proc]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionOptions } from "bullmq";
import type { IdempotencyStore } from "../src/idempotency.ts";
import { machineLine, num, percentile, spread, withSpread } from "./lib/stats-e2e.ts";

const SELF = new URL(import.meta.url).pathname;
const RUN_DEADLINE_MS = 120_000;

const SYSTEMS = {
  jobwire: "jobwire (broker process + app process)",
  bullmq: "BullMQ (redis-server + app process)",
  "jobwire-redis": "jobwire + Redis store (REST endpoint)",
  "jobwire-1proc": "jobwire, broker in the app process",
} as const;
type System = keyof typeof SYSTEMS;

interface RunResult {
  system: System;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  enqueueSeconds: number;
  p50: number;
  p99: number;
  /** CPU seconds used during the timed part, per process (app, and the broker when separate). */
  cpu: Record<string, number>;
}

interface Config {
  jobs: number;
  batch: number;
  producers: number;
}

/** An absolute timestamp in ms with sub-ms precision (comparable across processes of one host). */
const now = () => performance.timeOrigin + performance.now();

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Exactly-once bookkeeping and the timed workload, shared by every system.

class Tally {
  readonly counts: Uint8Array;
  readonly latency: Float64Array;
  ran = 0;
  duplicates = 0;
  lastEnd = 0;
  private resolve!: () => void;
  readonly all: Promise<void>;

  constructor(readonly jobs: number) {
    this.counts = new Uint8Array(jobs);
    this.latency = new Float64Array(jobs);
    this.all = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Called at handler start with the job's id and its enqueue timestamp. */
  start(id: number, enqueuedAt: number): void {
    const at = now();
    if (!(id >= 0 && id < this.jobs)) throw new Error(`unknown job id ${id}`);
    if (this.counts[id]! > 0) {
      this.duplicates++;
      this.counts[id] = Math.min(255, this.counts[id]! + 1);
      return;
    }
    this.counts[id] = 1;
    this.latency[id] = at - enqueuedAt;
  }

  /** Called at handler end. */
  end(): void {
    this.lastEnd = now();
    if (++this.ran === this.jobs) this.resolve();
  }

  /** Throws unless every job ran exactly once. */
  check(): void {
    let missing = 0;
    let twice = 0;
    for (const count of this.counts) {
      if (count === 0) missing++;
      else if (count > 1) twice++;
    }
    if (missing || twice || this.duplicates) {
      throw new Error(`exactly-once violated: ${missing} jobs never ran, ${twice} ran more than once (${this.duplicates} extra runs)`);
    }
  }
}

/**
 * Enqueues `jobs` in batches of `batch` from `producers` concurrent loops, waits for every handler,
 * then a short grace period for late duplicates. `enqueue(ids, t)` sends one batch whose jobs carry
 * the enqueue timestamp `t`.
 */
async function workload(
  system: System,
  config: Config,
  tally: Tally,
  enqueue: (ids: number[], t: number) => Promise<void>,
  cpuOf: () => Record<string, number> = () => ({}),
): Promise<RunResult> {
  const batches: number[][] = [];
  for (let i = 0; i < config.jobs; i += config.batch) {
    batches.push(Array.from({ length: Math.min(config.batch, config.jobs - i) }, (_, k) => i + k));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${system}: only ${tally.ran}/${config.jobs} jobs ran within ${RUN_DEADLINE_MS / 1000} s`)),
      RUN_DEADLINE_MS - 5_000,
    );
  });
  try {
    const cpuBefore = { app: appCpu(), ...cpuOf() };
    const started = now();
    let next = 0;
    const producing = Promise.all(
      Array.from({ length: config.producers }, async () => {
        while (next < batches.length) {
          const ids = batches[next++]!;
          await enqueue(ids, now());
        }
      }),
    ).then(() => now());
    const enqueued = await Promise.race([producing, deadline]);
    await Promise.race([tally.all, deadline]);
    const cpuAfter: Record<string, number> = { app: appCpu(), ...cpuOf() };
    const cpu = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - (cpuBefore as Record<string, number>)[k]!]));
    const seconds = (tally.lastEnd - started) / 1000;
    await Bun.sleep(300); // a duplicate delivery arriving late still fails the run
    tally.check();
    const sorted = tally.latency.slice().sort();
    return {
      system,
      jobs: config.jobs,
      seconds,
      jobsPerSecond: config.jobs / seconds,
      enqueueSeconds: (enqueued - started) / 1000,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      cpu,
    };
  } finally {
    clearTimeout(timer);
  }
}

const appCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** CPU seconds (user + system) of another process, from /proc (Linux); NaN elsewhere. */
function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

/** Pids of this process's children named `name` (the redis-server the helper started), from /proc. */
function childPids(name: string): number[] {
  const pids: number[] = [];
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (comm === name && ppid === process.pid) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

const redisCpu = (pids: number[]): Record<string, number> =>
  pids.length ? { redis: pids.reduce((sum, pid) => sum + procCpu(pid), 0) } : {};

// ---------------------------------------------------------------------------------------------
// The systems (each runs in a fresh `--run` child process).

async function runJobwire(system: System, config: Config): Promise<RunResult> {
  const v = await import("valibot");
  const { createClient, createWorker, defineJob, memoryStore } = await import("../src/index.ts");
  const { serve } = await import("../adapters/bun.ts");
  const { startRedisServer } = await import("../test/helpers/redis-server.ts");

  const dir = mkdtempSync(join(tmpdir(), "jobwire-e2e-"));
  const cleanup: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    let redisUrl: string | undefined;
    if (system === "jobwire-redis") {
      const redis = await startRedisServer();
      cleanup.push(() => redis.stop());
      redisUrl = redis.url;
    }
    const db = join(dir, "bench.sqlite");
    let broker: BrokerInfo;
    let brokerPid: number | undefined;
    const redisPids = childPids("redis-server");
    if (system === "jobwire-1proc") {
      const { createBroker } = await import("../src/broker/index.ts");
      const inProcess = await createBroker({ port: 0, host: "127.0.0.1", db, log: false, ...brokerOverrides() });
      cleanup.push(() => inProcess.close());
      broker = { url: inProcess.url, token: inProcess.token, signingKeys: inProcess.signingKeys };
    } else {
      const child = await startBrokerProcess(db, redisUrl);
      cleanup.push(() => child.stop());
      broker = child.info;
      brokerPid = child.pid;
    }

    let store: IdempotencyStore = memoryStore();
    if (system === "jobwire-redis") {
      const { Redis } = await import("@upstash/redis");
      const { upstashRedisStore } = await import("../adapters/upstash-redis.ts");
      if (!broker.redis) throw new Error("the broker did not start its Redis REST endpoint");
      store = upstashRedisStore(new Redis({ url: broker.redis.url, token: broker.redis.token, enableTelemetry: false }));
    }

    const tally = new Tally(config.jobs);
    const noop = defineJob({ name: "noop", input: v.object({ id: v.number(), t: v.number() }) });
    const worker = createWorker({ signingKeys: broker.signingKeys, store, log: false }).handle(noop, (input) => {
      tally.start(input.id, input.t);
      tally.end();
    });
    const server = serve(worker.app, { port: 0, hostname: "127.0.0.1" });
    cleanup.push(() => server.close());
    const client = createClient({ workerUrl: server.url, baseUrl: broker.url, token: broker.token, retry: false });

    return await workload(system, config, tally, async (ids, t) => {
      await client.enqueueMany(ids.map((id) => noop.with({ id, t })));
    }, (): Record<string, number> => ({ ...(brokerPid ? { broker: procCpu(brokerPid) } : {}), ...redisCpu(redisPids) }));
  } finally {
    for (const step of cleanup.reverse()) await Promise.resolve().then(step).catch((e) => console.error(`cleanup: ${e}`));
  }
}

async function runBullmq(config: Config): Promise<RunResult> {
  const { Queue, Worker } = await import("bullmq");
  const { startRedisServer } = await import("../test/helpers/redis-server.ts");
  const redis = await startRedisServer();
  const cleanup: (() => Promise<unknown>)[] = [() => redis.stop()];
  try {
    const connection = await bullmqConnection(redis.url);
    cleanup.push(() => connection.close());
    const tally = new Tally(config.jobs);
    const queue = new Queue("bench", { connection: connection.client });
    cleanup.push(() => queue.close());
    const worker = new Worker<{ id: number; t: number }>(
      "bench",
      async (job) => {
        tally.start(job.data.id, job.data.t);
        tally.end();
      },
      { connection: connection.client, concurrency: 32 },
    );
    worker.on("error", (error) => console.error(`bullmq worker: ${error}`));
    cleanup.push(() => worker.close());
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    const redisPids = childPids("redis-server");

    const result = await workload("bullmq", config, tally, async (ids, t) => {
      await queue.addBulk(ids.map((id) => ({ name: "noop", data: { id, t }, opts: { removeOnComplete: true } })));
    }, () => redisCpu(redisPids));
    const counts = await queue.getJobCounts("failed", "waiting", "active", "delayed");
    if (Object.values(counts).some((n) => n > 0)) throw new Error(`bullmq: jobs left behind ${JSON.stringify(counts)}`);
    return result;
  } finally {
    for (const step of cleanup.reverse()) await step().catch((e) => console.error(`cleanup: ${e}`));
  }
}

// BullMQ 6 takes a client instance when ioredis (its optional default) is absent, as here: it
// talks through node-redis (`@redis/client`, already a dependency of jobwire) via its own adapter.
async function bullmqConnection(url: string): Promise<{ client: ConnectionOptions; close(): Promise<unknown> }> {
  const { createClient } = await import("@redis/client");
  const client = createClient({ url });
  await client.connect();
  // BullMQ's types name ioredis; the instance is detected structurally at run time.
  return { client: client as unknown as ConnectionOptions, close: () => client.close() };
}

// ---------------------------------------------------------------------------------------------
// The broker child process (`jobwire dev` in durable mode, optionally with the Redis REST endpoint).

/** Extra createBroker options for experiments, e.g. E2E_BROKER_OPTIONS='{"memory":true}'. Not used by default. */
const brokerOverrides = (): Record<string, unknown> => JSON.parse(process.env.E2E_BROKER_OPTIONS ?? "{}");

interface BrokerInfo {
  url: string;
  token: string;
  signingKeys: { current: string; next: string };
  redis?: { url: string; token: string };
}

async function serveBroker(db: string, redisUrl: string | undefined): Promise<void> {
  const { createBroker } = await import("../src/broker/index.ts");
  const broker = await createBroker({
    port: 0,
    host: "127.0.0.1",
    db,
    log: false,
    ...brokerOverrides(),
    ...(redisUrl ? { redis: { url: redisUrl, port: 0 } } : {}),
  });
  const info: BrokerInfo = { url: broker.url, token: broker.token, signingKeys: { ...broker.signingKeys } };
  if (broker.redis) info.redis = { url: broker.redis.url, token: broker.redis.token };
  console.log(`READY ${JSON.stringify(info)}`);
  const stop = () => broker.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

async function startBrokerProcess(db: string, redisUrl: string | undefined) {
  const flags = process.env.E2E_BUN_FLAGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, SELF, "--serve-broker", db, ...(redisUrl ? [redisUrl] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const info = await readLine<BrokerInfo>(child, "READY ", 15_000);
  return { info, pid: child.pid!, stop: () => terminate(child) };
}

/** Resolves with the JSON after `prefix` on the child's stdout; rejects if it exits or times out first. */
function readLine<T>(child: ChildProcess, prefix: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`no "${prefix.trim()}" line within ${timeoutMs} ms: ${text}`)), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split("\n").find((l) => l.startsWith(prefix));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(prefix.length)) as T);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before "${prefix.trim()}": ${text}`));
    });
  });
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator: fresh process group + temp dir per run, alternating systems.

let current: { child: ChildProcess; dir: string } | undefined;

function cpuText(rs: RunResult[]): string {
  const keys = Object.keys(rs[0]?.cpu ?? {});
  const per = (k: string) => spread(rs.map((r) => (r.cpu[k]! / r.jobs) * 1e6)).median;
  const total = spread(rs.map((r) => (Object.values(r.cpu).reduce((a, b) => a + b, 0) / r.jobs) * 1e6)).median;
  return `${num(total, 0)} (${keys.map((k) => `${k} ${num(per(k), 0)}`).join(", ")})`;
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

async function runOnce(system: System, config: Config): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-e2e-run-"));
  const args = [SELF, "--run", system, "--jobs", String(config.jobs), "--batch", String(config.batch), "--producers", String(config.producers)];
  const extra = process.env.E2E_BUN_FLAGS?.split(" ").filter(Boolean) ?? []; // e.g. "--cpu-prof" for profiling
  const child = spawn(process.execPath, [...extra, ...args], {
    cwd: process.env.E2E_PROFILE_DIR ?? dir,
    env: { ...process.env, TMPDIR: dir },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true, // its own process group: a kill reaches the broker and redis-server too
  });
  current = { child, dir };
  try {
    const result = await readLine<RunResult>(child, "RESULT ", RUN_DEADLINE_MS);
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
    if (child.exitCode !== 0) throw new Error(`${system} run exited with ${child.exitCode}`);
    return result;
  } catch (error) {
    throw new Error(`${system}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    killGroup(child);
    current = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (current) {
      killGroup(current.child);
      rmSync(current.dir, { recursive: true, force: true });
    }
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const runs = Number(arg("--runs") ?? (quick ? 1 : 5));
  const config: Config = {
    jobs: Number(arg("--jobs") ?? (quick ? 500 : 20_000)),
    batch: Number(arg("--batch") ?? 100),
    producers: Number(arg("--producers") ?? 4),
  };
  const systems = (arg("--systems")?.split(",") ?? Object.keys(SYSTEMS)) as System[];
  for (const s of systems) if (!(s in SYSTEMS)) throw new Error(`unknown system ${s}; one of ${Object.keys(SYSTEMS).join(", ")}`);

  const results = new Map<System, RunResult[]>(systems.map((s) => [s, []]));
  for (let round = 0; round < runs; round++) {
    // Rotate the order each round so no system always runs first (or right after another).
    const order = systems.map((_, i) => systems[(i + round) % systems.length]!);
    for (const system of order) {
      const r = await runOnce(system, config);
      results.get(system)!.push(r);
      console.error(
        `round ${round + 1}/${runs} ${system}: ${Math.round(r.jobsPerSecond)} jobs/s (enqueue ${r.enqueueSeconds.toFixed(2)} s, total ${r.seconds.toFixed(2)} s), p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms; CPU s ${Object.entries(r.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`,
      );
    }
  }

  const bull = results.get("bullmq");
  const ratioOf = (system: System) => {
    const mine = results.get(system);
    if (!bull?.length || !mine?.length) return undefined;
    const perRound = mine.map((r, i) => r.jobsPerSecond / bull[i]!.jobsPerSecond);
    return { ofMedians: spread(mine.map((r) => r.jobsPerSecond)).median / spread(bull.map((r) => r.jobsPerSecond)).median, perRound };
  };

  const lines: string[] = [];
  lines.push(`### End to end: jobwire vs BullMQ${quick ? " (--quick smoke run, not representative)" : ""}`);
  lines.push("");
  lines.push(
    `${config.jobs.toLocaleString("en")} no-op jobs, batches of ${config.batch} (\`enqueueMany\` / \`addBulk\`) from ${config.producers} concurrent producers; ` +
      `median (min–max) of ${runs} run(s) per system, systems alternating, each run in fresh processes with a fresh temp dir. ` +
      `jobs/s: first enqueue → last handler completion; latency: enqueue → handler start. ` +
      `jobwire: durable SQLite broker (\`jobwire dev\`, own process, default delivery parallelism) → Bun.serve worker (verify + valibot + store); ` +
      `BullMQ: Worker concurrency 32, \`removeOnComplete\`, redis-server without persistence. Everything on Bun ${Bun.version}, 127.0.0.1.`,
  );
  lines.push("");
  lines.push("| System | jobs/s | enqueue → start p50 (ms) | p99 (ms) | jobs/s vs BullMQ | CPU µs per job (per process) |");
  lines.push("|---|---|---|---|---|---|");
  for (const system of systems) {
    const rs = results.get(system)!;
    const ratio = system === "bullmq" ? undefined : ratioOf(system);
    const ratioText = ratio
      ? `${num(ratio.ofMedians, 2)}×${ratio.perRound.length > 1 ? ` (per round ${num(Math.min(...ratio.perRound), 2)}–${num(Math.max(...ratio.perRound), 2)})` : ""}`
      : system === "bullmq" ? "1.00×" : "n/a";
    lines.push(
      `| ${SYSTEMS[system]} | ${withSpread(rs.map((r) => r.jobsPerSecond), 0)} | ${withSpread(rs.map((r) => r.p50), 1)} | ${withSpread(rs.map((r) => r.p99), 1)} | ${ratioText} | ${cpuText(rs)} |`,
    );
  }
  const main = ratioOf("jobwire");
  lines.push("");
  lines.push(
    "CPU: user + system seconds of each process during the timed part, per job (median over runs): the app (client + worker, or Queue + Worker), the broker, redis-server. " +
      "Every system saturates the 2 cores here, so CPU per job is what bounds jobs/s.",
  );
  const targets = main
    ? [
        {
          issue: 6,
          id: "e2e-vs-bullmq",
          target: "End to end: jobwire ≥ 1.0× BullMQ's jobs/s",
          measured: `${num(main.ofMedians, 2)}× (${num(spread(results.get("jobwire")!.map((r) => r.jobsPerSecond)).median, 0)} vs ${num(spread(bull!.map((r) => r.jobsPerSecond)).median, 0)} jobs/s)`,
          met: main.ofMedians >= 1.0,
        },
      ]
    : [];
  lines.push("");
  if (main) lines.push(`Target (issue 6): jobwire ≥ 1.0× BullMQ's jobs/s: **${targets[0]!.met ? "met" : "missed"}** (${targets[0]!.measured}).`);
  lines.push("");
  lines.push(`Machine: ${machineLine()}; ${new Date().toISOString()}.`);
  const markdown = lines.join("\n");
  console.log(`\n${markdown}`);

  const json = arg("--json");
  if (json) {
    writeFileSync(
      json,
      JSON.stringify({ name: "e2e", title: "End to end: jobwire vs BullMQ", quick, config, runs, markdown, targets, results: Object.fromEntries(results) }, null, 2),
    );
  }
}

// ---------------------------------------------------------------------------------------------

if (process.argv[2] === "--serve-broker") {
  await serveBroker(process.argv[3]!, process.argv[4]);
} else if (process.argv[2] === "--run") {
  const system = process.argv[3] as System;
  const config: Config = { jobs: Number(arg("--jobs")), batch: Number(arg("--batch")), producers: Number(arg("--producers")) };
  try {
    const result = system === "bullmq" ? await runBullmq(config) : await runJobwire(system, config);
    console.log(`RESULT ${JSON.stringify(result)}`);
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  }
} else {
  try {
    await main();
  } catch (error) {
    console.error(`e2e benchmark failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
