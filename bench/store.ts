/**
 * Benchmarks `upstashRedisStore` through the local Upstash Redis REST endpoint to a private
 * redis-server, over loopback: claim + complete per job, as a worker does.
 *
 *  (a) latency: one job at a time; p50/p99 of `claim` and of `complete`;
 *  (b) throughput: 64 jobs in flight, with the store's default `maxInFlight` (4 requests at once,
 *      operations made meanwhile share the next one) and with `maxInFlight: Infinity` (each tick's
 *      operations sent at once, as the client's own auto-pipelining does); once in lockstep, and
 *      once staggered over event-loop turns, as deliveries arriving one by one make them.
 *  Each of these runs 5 times (once with `--quick`), alternating; rows show the median and spread.
 *
 * The endpoint runs in its own process (as `jobwire dev --redis` does) and counts the HTTP requests
 * it receives, so the table shows how many requests each operation cost. Prints a markdown table.
 *  (c) the store's cost on a worker: requests/s of the jobwire worker (in-process `app.fetch`,
 *      signature verified, input validated, no-op handler, 64 in flight) with `memoryStore()` and
 *      with `upstashRedisStore` through the endpoint, alternating, median of 5 runs each.
 *
 * `--quick` runs a small smoke test.
 *
 *   npx bun bench/store.ts [--quick]
 */
import { Redis } from "@upstash/redis";
import { cpus, totalmem } from "node:os";
import { upstashRedisStore } from "../adapters/upstash-redis.ts";
import * as v from "valibot";
import { type IdempotencyStore, memoryStore } from "../src/idempotency.ts";
import { defineJob } from "../src/job.ts";
import { signDelivery } from "../src/signing.ts";
import { createWorker } from "../src/worker.ts";
import { connectRedis, createRedisRestApp } from "../src/broker/redis-rest.ts";
import { startRedisServer } from "../test/helpers/redis-server.ts";

const SELF = new URL(import.meta.url).pathname;
const TOKEN = "bench-token";
const COUNT_PATH = "/__bench/requests";
const KEYS = { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" };
const benchJob = defineJob({ name: "noop", input: v.object({ id: v.number() }) });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// Child mode: the REST endpoint in front of `redisUrl`, counting requests (the count is read
// through an extra path that only this benchmark serves).
if (process.argv[2] === "--serve-rest") {
  const redis = await connectRedis(process.argv[3]!);
  const app = createRedisRestApp({ redis, token: TOKEN });
  let requests = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(request) {
      if (new URL(request.url).pathname === COUNT_PATH) return Response.json({ requests });
      requests++;
      return app.fetch(request);
    },
  });
  console.log(`URL http://127.0.0.1:${server.port}`);
  process.on("SIGTERM", async () => {
    await server.stop(true);
    await redis.close();
    process.exit(0);
  });
} else {
  await main(process.argv.includes("--quick"));
}

async function startEndpoint(redisUrl: string) {
  const child = Bun.spawn([process.execPath, SELF, "--serve-rest", redisUrl], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!/URL (\S+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`REST endpoint exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = /URL (\S+)/.exec(text)![1]!;
  return {
    url,
    requests: async () => ((await (await fetch(url + COUNT_PATH)).json()) as { requests: number }).requests,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Row {
  scenario: string;
  jobs: number;
  jobsPerSecond: number;
  claim?: [number, number];
  complete?: [number, number];
  requests: number;
  operations: number;
}

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;

// Redis learns each script on its first EVAL (EVALSHA → NOSCRIPT → EVAL, two requests once):
// done before timing, so the counts show the steady state.
async function warm(store: IdempotencyStore, run: string): Promise<void> {
  await store.claim(`warm-${run}`, "w", 1_000);
  await store.complete(`warm-${run}`, "w", null);
}

async function sequential(endpoint: Endpoint, jobs: number, run: string): Promise<Row> {
  const store = upstashRedisStore(new Redis({ url: endpoint.url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false }));
  await warm(store, run);
  const claims: number[] = [];
  const completes: number[] = [];
  const before = await endpoint.requests();
  const started = performance.now();
  for (let i = 0; i < jobs; i++) {
    const key = `seq-${run}-${i}`;
    const t0 = performance.now();
    const claim = await store.claim(key, `msg_${i}`, 30_000);
    const t1 = performance.now();
    if (claim.state !== "acquired") throw new Error(`unexpected ${claim.state}`);
    await store.complete(key, `msg_${i}`, { ok: true, i });
    claims.push(t1 - t0);
    completes.push(performance.now() - t1);
  }
  const seconds = (performance.now() - started) / 1000;
  const requests = (await endpoint.requests()) - before; // the count path itself is not counted
  claims.sort((a, b) => a - b);
  completes.sort((a, b) => a - b);
  return {
    scenario: "one job at a time",
    jobs,
    jobsPerSecond: jobs / seconds,
    claim: [percentile(claims, 50), percentile(claims, 99)],
    complete: [percentile(completes, 50), percentile(completes, 99)],
    requests,
    operations: jobs * 2,
  };
}

// The floor: one REST round trip (PING) with the same client, to compare each store operation to.
async function baseline(endpoint: Endpoint, calls: number): Promise<Row> {
  const redis = new Redis({ url: endpoint.url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false });
  await redis.ping();
  const times: number[] = [];
  const before = await endpoint.requests();
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await redis.ping();
    times.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  const requests = (await endpoint.requests()) - before;
  times.sort((a, b) => a - b);
  return {
    scenario: "PING",
    jobs: calls,
    jobsPerSecond: calls / seconds,
    claim: [percentile(times, 50), percentile(times, 99)],
    requests,
    operations: calls,
  };
}

// Staggered, each job waits 0–3 event-loop turns before its claim, as deliveries arriving one by one
// over HTTP do; otherwise the jobs in flight stay in lockstep and every operation of a round is made
// in the same tick, which the client's own auto-pipelining already shares.
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function concurrent(endpoint: Endpoint, jobs: number, inFlight: number, maxInFlight: number | undefined, run: string, staggered = false): Promise<Row> {
  const redis = new Redis({ url: endpoint.url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false });
  const store = upstashRedisStore(redis, maxInFlight === undefined ? {} : { maxInFlight });
  await warm(store, run);
  const before = await endpoint.requests();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < jobs) {
        const i = next++;
        if (staggered) for (let t = i % 4; t > 0; t--) await turn();
        const key = `con-${run}-${i}`;
        const claim = await store.claim(key, `msg_${i}`, 30_000);
        if (claim.state !== "acquired") throw new Error(`unexpected ${claim.state}`);
        await store.complete(key, `msg_${i}`, { ok: true, i });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const requests = (await endpoint.requests()) - before;
  return {
    scenario: `${inFlight} jobs in flight${staggered ? " (staggered)" : ""}, ${maxInFlight === undefined ? "default maxInFlight (4)" : `maxInFlight: ${maxInFlight}`}`,
    jobs,
    jobsPerSecond: jobs / seconds,
    requests,
    operations: jobs * 2,
  };
}


// Deliveries signed up front (signing is the broker's cost, not the worker's); each has its own
// message id, so every request claims and completes a fresh key.
async function signedDeliveries(count: number, run: string) {
  const url = "http://127.0.0.1:3000/noop";
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const body = JSON.stringify({ id: i });
      return { body, messageId: `msg_${run}_${i}`, signature: await signDelivery(KEYS.current, { url, body }) };
    }),
  );
}

async function workerThroughput(store: IdempotencyStore, count: number, run: string): Promise<number> {
  const app = createWorker({ signingKeys: KEYS, store, log: false }).handle(benchJob, () => null).app;
  const deliveries = await signedDeliveries(count, run);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < deliveries.length) {
        const d = deliveries[next++]!;
        const response = await app.fetch(
          new Request("http://127.0.0.1:3000/noop", {
            method: "POST",
            body: d.body,
            headers: { "Content-Type": "application/json", "Upstash-Signature": d.signature, "Upstash-Message-Id": d.messageId },
          }),
        );
        if (response.status !== 200) throw new Error(`worker answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}


async function main(quick: boolean): Promise<void> {
  const redisServer = await startRedisServer();
  const endpoint = await startEndpoint(redisServer.url).catch(async (error) => {
    await redisServer.stop();
    throw error;
  });
  try {
    const seqJobs = quick ? 200 : 3_000;
    const conJobs = quick ? 1_000 : 20_000;
    const runs = quick ? 1 : 5;
    const floor = await baseline(endpoint, seqJobs);
    // Each scenario `runs` times, the scenarios alternating; a row reports the median and the spread.
    const scenarios: Row[][] = [[], [], [], [], []];
    for (let r = 0; r < runs; r++) {
      scenarios[0]!.push(await sequential(endpoint, seqJobs, `a${r}`));
      scenarios[1]!.push(await concurrent(endpoint, conJobs, 64, undefined, `b${r}`));
      scenarios[2]!.push(await concurrent(endpoint, conJobs, 64, Number.POSITIVE_INFINITY, `c${r}`));
      scenarios[3]!.push(await concurrent(endpoint, conJobs, 64, undefined, `d${r}`, true));
      scenarios[4]!.push(await concurrent(endpoint, conJobs, 64, Number.POSITIVE_INFINITY, `e${r}`, true));
    }
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    const pair = (rows: Row[], pick: (row: Row) => [number, number] | undefined) =>
      pick(rows[0]!) ? `${ms(median(rows.map((row) => pick(row)![0])))} / ${ms(median(rows.map((row) => pick(row)![1])))}` : "–";
    const spread = (values: number[]) => `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`;
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    console.log(`Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, ${process.platform} ${process.arch}, Bun ${Bun.version}; ${new Date().toISOString().slice(0, 10)}; redis-server and the REST endpoint (own process) on loopback; median of ${runs} run(s) per scenario, scenarios alternating${quick ? "; --quick" : ""}.\n`);
    console.log("| upstashRedisStore, claim + complete per job | jobs × runs | jobs/s (median) | spread (min–max) | claim p50 / p99 | complete p50 / p99 | HTTP requests per operation (all runs) |");
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const rows of scenarios) {
      const rates = rows.map((row) => row.jobsPerSecond);
      const requests = rows.reduce((sum, row) => sum + row.requests, 0);
      const operations = rows.reduce((sum, row) => sum + row.operations, 0);
      console.log(
        `| ${rows[0]!.scenario} | ${rows[0]!.jobs} × ${rows.length} | ${Math.round(median(rates))} | ${spread(rates)} | ${pair(rows, (row) => row.claim)} | ${pair(rows, (row) => row.complete)} | ${(requests / operations).toFixed(2)} (${requests} for ${operations} ops) |`,
      );
    }
    console.log(`\nFloor: one REST round trip (PING, same client, no store) p50 / p99 = ${ms(floor.claim![0])} / ${ms(floor.claim![1])}, ${floor.requests} requests for ${floor.operations} calls.`);

    const workerJobs = quick ? 500 : 5_000;
    const memory: number[] = [];
    const redisStore: number[] = [];
    for (let r = 0; r < runs; r++) {
      memory.push(await workerThroughput(memoryStore(), workerJobs, `m${r}`));
      const redis = new Redis({ url: endpoint.url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false });
      const store = upstashRedisStore(redis);
      await warm(store, `w${r}`);
      redisStore.push(await workerThroughput(store, workerJobs, `r${r}`));
    }
    console.log(`\n| jobwire worker (in-process, 64 in flight, ${workerJobs} deliveries, median of ${runs}) | req/s | spread | vs memoryStore |`);
    console.log("|---|---:|---:|---:|");
    console.log(`| memoryStore() | ${Math.round(median(memory))} | ${spread(memory)} | 1.00× |`);
    console.log(`| upstashRedisStore via the REST endpoint | ${Math.round(median(redisStore))} | ${spread(redisStore)} | ${(median(redisStore) / median(memory)).toFixed(2)}× |`);
  } finally {
    await endpoint.stop();
    await redisServer.stop();
  }
}
