/**
 * Benchmarks `jobwire dev`'s broker in durable mode (a temp SQLite file), over loopback:
 *
 *  (a) throughput: publish (/v2/batch) → delivery → ack, to a no-op Bun.serve worker;
 *  (b) latency: enqueue → handler start on an idle broker, sequential single publishes;
 *  (c) memory: RSS of the broker process holding 100k pending delayed messages.
 *
 * The broker runs in its own process (as `jobwire dev` does); this process publishes and hosts
 * the worker. Prints a markdown table with the median of 5 runs. `--quick` runs a tiny smoke test.
 *
 *   npx bun bench/broker.ts [--quick]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";

const SELF = new URL(import.meta.url).pathname;


interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startBroker(db: string): Promise<Child> {
  const child = Bun.spawn([process.execPath, SELF, "--serve-broker", db], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!/URL (\S+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`broker exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    url: /URL (\S+)/.exec(text)![1]!,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

const TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

/** A no-op worker; `onRequest` sees each delivery as it starts. */
function startWorker(onRequest: () => void) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request) {
      onRequest();
      await request.arrayBuffer();
      return new Response("ok");
    },
  });
}

async function batchPublish(url: string, items: unknown[]): Promise<void> {
  const response = await fetch(`${url}/v2/batch`, { method: "POST", headers: auth, body: JSON.stringify(items) });
  if (response.status !== 201) throw new Error(`batch: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/** (a) jobs/s from the first publish to the last delivery. */
async function throughput(jobs: number, batchSize: number, concurrency: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-bench-"));
  let received = 0;
  let done: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const worker = startWorker(() => {
    if (++received === jobs) done();
  });
  const broker = await startBroker(join(dir, "bench.sqlite"));
  try {
    const destination = `http://127.0.0.1:${worker.port}/job`;
    const body = JSON.stringify({ userId: 42 });
    const batches: unknown[][] = [];
    for (let i = 0; i < jobs; i += batchSize) {
      batches.push(Array.from({ length: Math.min(batchSize, jobs - i) }, () => ({ destination, headers: { "content-type": "application/json" }, body })));
    }
    const start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < batches.length) await batchPublish(broker.url, batches[next++]!);
      }),
    );
    // Bounded, and the timer cleared: a pending timer would keep this process alive after the table.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${received}/${jobs} delivered within 120 s`)), 120_000);
    });
    try {
      await Promise.race([finished, late]);
    } finally {
      clearTimeout(timer);
    }
    return jobs / ((performance.now() - start) / 1000);
  } finally {
    await broker.stop();
    worker.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (b) p50/p99 ms from before a single publish to the handler receiving it. */
async function latency(samples: number): Promise<{ p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-bench-"));
  let arrived: (() => void) | undefined;
  const worker = startWorker(() => arrived?.());
  const broker = await startBroker(join(dir, "bench.sqlite"));
  try {
    const url = `${broker.url}/v2/publish/http://127.0.0.1:${worker.port}/job`;
    const times: number[] = [];
    for (let i = 0; i < samples + 20; i++) {
      const got = new Promise<void>((resolve) => (arrived = resolve));
      const start = performance.now();
      const response = await fetch(url, { method: "POST", headers: auth, body: '{"userId":42}' });
      await response.arrayBuffer();
      await got;
      if (i >= 20) times.push(performance.now() - start); // the first 20 warm up connections and JIT
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(times.length * 0.5)]!, p99: times[Math.floor(times.length * 0.99)]! };
  } finally {
    await broker.stop();
    worker.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (c) RSS (MB) of the broker process with `count` pending delayed messages. */
async function memory(count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-bench-"));
  const broker = await startBroker(join(dir, "bench.sqlite"));
  try {
    const item = { destination: "http://127.0.0.1:9/never", headers: { "content-type": "application/json", "upstash-delay": "1h" }, body: '{"userId":42}' };
    for (let i = 0; i < count; i += 1000) await batchPublish(broker.url, Array.from({ length: Math.min(1000, count - i) }, () => item));
    await Bun.sleep(500);
    const status = readFileSync(`/proc/${broker.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const runs = quick ? 1 : 5;
  const config = quick
    ? { jobs: 2_000, batch: 500, concurrency: 4, samples: 50, pending: 5_000 }
    : { jobs: 50_000, batch: 1_000, concurrency: 4, samples: 1_000, pending: 100_000 };

  const tput: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const rss: number[] = [];
  for (let run = 1; run <= runs; run++) {
    tput.push(await throughput(config.jobs, config.batch, config.concurrency));
    const l = await latency(config.samples);
    p50.push(l.p50);
    p99.push(l.p99);
    rss.push(await memory(config.pending));
    console.error(`run ${run}/${runs}: ${Math.round(tput.at(-1)!)} jobs/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, RSS ${rss.at(-1)!.toFixed(0)} MB`);
  }

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`\n### jobwire dev broker benchmark${quick ? " (--quick smoke run, not representative)" : ""}\n`);
  console.log(`Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, ${process.platform} ${process.arch}, Bun ${Bun.version}; ${new Date().toISOString().slice(0, 10)}; durable mode (SQLite WAL, temp file); median of ${runs} run(s).\n`);
  const spread = (values: number[], format: (value: number) => string) =>
    `${format(Math.min(...values))}–${format(Math.max(...values))}`;
  const jobsPerSecond = (value: number) => Math.round(value).toLocaleString("en");
  const msec = (value: number) => value.toFixed(2);
  const mb = (value: number) => value.toFixed(0);
  console.log("| Metric | Result (median) | spread (min–max) | Target |");
  console.log("|---|---|---|---|");
  console.log(`| Throughput, publish (/v2/batch, ${config.batch}/batch) → delivery → ack, ${config.jobs.toLocaleString("en")} jobs | ${jobsPerSecond(median(tput))} jobs/s | ${spread(tput, jobsPerSecond)} | ≥ 6,000 jobs/s |`);
  console.log(`| Enqueue → handler start, idle broker, p50 (${config.samples} sequential publishes) | ${msec(median(p50))} ms | ${spread(p50, msec)} | ≤ 2 ms |`);
  console.log(`| Enqueue → handler start, idle broker, p99 | ${msec(median(p99))} ms | ${spread(p99, msec)} | ≤ 10 ms |`);
  console.log(`| Broker RSS with ${config.pending.toLocaleString("en")} pending delayed messages | ${mb(median(rss))} MB | ${spread(rss, mb)} | ≤ 200 MB |`);
}

// Child mode: run a silent broker on a given db and print its URL.
if (process.argv[2] === "--serve-broker") {
  const { createBroker } = await import("../src/broker/index.ts");
  const broker = await createBroker({ port: 0, db: process.argv[3]!, log: false });
  console.log(`URL ${broker.url}`);
  process.on("SIGTERM", () => broker.close().then(() => process.exit(0)));
} else {
  await main();
}
