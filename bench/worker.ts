/**
 * Worker overhead, in-process (`app.fetch(request)`, no network): requests/s of three Hono routes
 * receiving the same deliveries.
 *
 *  - bare Hono:  `new Hono()` (the default preset), a POST route that parses the JSON body
 *                (`c.req.json()`) and returns JSON: the floor.
 *  - jobwire:    `createWorker({ signingKeys, store: memoryStore(), log: false })` with one valibot
 *                job and a no-op handler: body read, signature verified, JSON parsed, input validated,
 *                idempotency key claimed and completed in the store.
 *  - Receiver:   a hand-written `new Hono()` route: `await receiver.verify({ signature, body, url })`
 *                with the official `@upstash/qstash` `Receiver`, then `JSON.parse` and the same
 *                valibot schema (`v.safeParse`).
 *  - floor:      for scale, not a target: a `new Hono()` route that only does the two Web Crypto calls
 *                any verifying route needs (HMAC-SHA256 verify of the token, SHA-256 of the body), no
 *                claim checks, no validation. No route that verifies with Web Crypto can beat it;
 *                jobwire hashes inputs up to 2 KB synchronously in JavaScript (`src/sha256.ts`), which
 *                on Bun costs less than the two asynchronous Web Crypto calls.
 *  - verifier:   for scale, not a target: a `new Hono()` route that reads the body and runs jobwire's
 *                own verifier (`createVerifier` from `src/signing.ts`, the one the worker uses) and
 *                nothing else: no JSON parse, no validation, no store. Its ratio to bare Hono bounds
 *                what any route verifying the same way can reach; the worker does strictly more.
 *
 * Every delivery has its own `Upstash-Message-Id`, so jobwire claims a fresh key each time. Tokens
 * are signed before any timing (a pool of distinct bodies, `bench/lib/deliveries.ts`); each timed
 * request is a fresh `Request` built from a pooled body/signature pair and a pre-made message id,
 * the same way for the three routes. Two modes: 64 requests in flight, and one at a time. Each run
 * checks every status is 200 and that its route ran once per request (the bench fails otherwise).
 * Per mode, each route runs 5 times (3 with `--quick`), the routes alternating in a rotating order;
 * the request count per run is calibrated from a warm-up so a run takes about 0.8 s. Reported:
 * median req/s, min–max, and the ratios of medians jobwire/bare and jobwire/Receiver.
 *
 * `--compare <module>` adds a fourth route: `createWorker` imported from another file (a patched
 * scratch copy of `src/worker.ts`), set up the same way, so a change is measured against the same
 * baselines in the same process.
 *
 *   npx bun bench/worker.ts [--quick] [--json out.json] [--compare /tmp/copy/src/worker.ts]
 */
import { Receiver } from "@upstash/qstash";
import { Hono } from "hono";
import * as v from "valibot";
import { memoryStore } from "../src/idempotency.ts";
import { defineJob } from "../src/job.ts";
import { createVerifier } from "../src/signing.ts";
import { createWorker } from "../src/worker.ts";
import { DEV_KEYS, deliveryRequest, messageIds, type Signed, signPool } from "./lib/deliveries.ts";
import { benchArgs, preamble, publish, type Target } from "./lib/report.ts";
import { fmt, range, ratio, type Spread, summarize } from "./lib/stats.ts";
import { markdownTable } from "./lib/table.ts";

const args = benchArgs(["--compare"]);
const RUNS = args.quick ? 3 : 5;
const RUN_SECONDS = args.quick ? 0.05 : 0.8;
const MIN_COUNT = args.quick ? 50 : 1000;
const MAX_COUNT = args.quick ? 2000 : 100_000;
const WARMUP = args.quick ? 100 : 2000;
const POOL = args.quick ? 256 : 4096;
const IN_FLIGHT = 64;
const URL_ = "http://worker.bench/noop";

const input = v.object({ id: v.number(), email: v.pipe(v.string(), v.email()) });
const job = defineJob({ name: "noop", input });

type Variant = "bare" | "jobwire" | "receiver" | "floor" | "verifier" | "patched";
const LABELS: Record<Variant, string> = {
  bare: "bare Hono (parse JSON, return JSON)",
  jobwire: "jobwire worker (verify + validate + memoryStore)",
  receiver: "Hono + `Receiver.verify` + valibot",
  floor: "floor: Hono + Web Crypto HMAC verify + body SHA-256 only",
  verifier: "floor: Hono + jobwire's verifier only (no parse, validation or store)",
  patched: `jobwire worker from \`${args.options.compare}\``,
};
const handled: Record<Variant, number> = { bare: 0, jobwire: 0, receiver: 0, floor: 0, verifier: 0, patched: 0 };

function bareApp(): Hono {
  return new Hono().post("/noop", async (c) => {
    const body = await c.req.json<{ id: number }>();
    handled.bare++;
    return c.json({ result: null, id: body.id });
  });
}

function jobwireApp(make: typeof createWorker, variant: "jobwire" | "patched") {
  return make({ signingKeys: DEV_KEYS, store: memoryStore(), log: false }).handle(job, () => {
    handled[variant]++;
  }).app;
}

function receiverApp(): Hono {
  const receiver = new Receiver({ currentSigningKey: DEV_KEYS.current, nextSigningKey: DEV_KEYS.next });
  return new Hono().post("/noop", async (c) => {
    const signature = c.req.header("upstash-signature");
    if (!signature) return c.json({ error: "missing Upstash-Signature" }, 401);
    const body = await c.req.text();
    try {
      await receiver.verify({ signature, body, url: c.req.url });
    } catch (error) {
      return c.json({ error: (error as Error).message }, 401);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return c.json({ error: "invalid JSON" }, 400);
    }
    const result = v.safeParse(input, payload);
    if (!result.success) return c.json({ error: "invalid input", issues: result.issues.map((i) => i.message) }, 400);
    handled.receiver++;
    return c.json({ result: null });
  });
}

async function floorApp(): Promise<Hono> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(DEV_KEYS.current), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const fromBase64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return new Hono().post("/noop", async (c) => {
    const token = c.req.header("upstash-signature") ?? "";
    const body = await c.req.arrayBuffer();
    const dot = token.lastIndexOf(".");
    const [valid] = await Promise.all([
      crypto.subtle.verify("HMAC", key, fromBase64url(token.slice(dot + 1)), encoder.encode(token.slice(0, dot))),
      crypto.subtle.digest("SHA-256", body),
    ]);
    if (!valid) return c.json({ error: "bad signature" }, 401);
    handled.floor++;
    return c.json({ result: null });
  });
}

function verifierApp(): Hono {
  const verify = createVerifier({ keys: DEV_KEYS });
  return new Hono().post("/noop", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    try {
      await verify({ signature: c.req.header("upstash-signature"), url: c.req.url, body });
    } catch (error) {
      return c.json({ error: (error as Error).message }, 401);
    }
    handled.verifier++;
    return c.json({ result: null });
  });
}

type App = { fetch(request: Request): Response | Promise<Response> };
const apps: Partial<Record<Variant, App>> = { bare: bareApp(), jobwire: jobwireApp(createWorker, "jobwire"), receiver: receiverApp(), floor: await floorApp(), verifier: verifierApp() };
if (args.options.compare) {
  const patched = (await import(args.options.compare)) as { createWorker: typeof createWorker };
  apps.patched = jobwireApp(patched.createWorker, "patched");
}
const VARIANTS = Object.keys(apps) as Variant[];

let tagSeq = 0;

/** Sends `count` deliveries to one route; returns requests/s. Throws on any non-200 or a skipped handler. */
async function runOnce(pool: Signed[], variant: Variant, inFlight: number, count: number): Promise<number> {
  const app = apps[variant]!;
  const ids = messageIds(`${variant}_${tagSeq++}`, count);
  const before = handled[variant];
  let next = 0;
  let failure: Error | undefined;
  const lane = async () => {
    while (next < count && !failure) {
      const i = next++;
      const response = await app.fetch(deliveryRequest(URL_, pool[i % pool.length]!, ids[i]!));
      if (response.status !== 200) {
        failure ??= new Error(`${variant}: request ${i} answered ${response.status}: ${await response.text()}`);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - started) / 1000;
  if (failure) throw failure;
  const ran = handled[variant] - before;
  if (ran !== count) throw new Error(`${variant}: ${count} requests answered 200 but the route ran ${ran} times`);
  return count / seconds;
}

// Bun's collector, or V8's where it is exposed (Node `--expose-gc`, Deno `--v8-flags=--expose-gc`).
function gc(): void {
  const global = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (global.Bun) global.Bun.gc(true);
  else global.gc?.();
}

interface Row {
  mode: string;
  inFlight: number;
  variant: Variant;
  label: string;
  requestsPerRun: number;
  reqPerSecond: number[];
  summary: Spread;
}

async function measureMode(pool: Signed[], inFlight: number): Promise<Row[]> {
  const variants = VARIANTS;
  const counts = {} as Record<Variant, number>;
  for (const variant of variants) {
    const rate = await runOnce(pool, variant, inFlight, WARMUP);
    counts[variant] = Math.max(MIN_COUNT, Math.min(MAX_COUNT, Math.round(rate * RUN_SECONDS)));
  }
  const rates: Record<Variant, number[]> = { bare: [], jobwire: [], receiver: [], floor: [], verifier: [], patched: [] };
  for (let run = 0; run < RUNS; run++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(run + k) % variants.length]!;
      gc();
      rates[variant].push(await runOnce(pool, variant, inFlight, counts[variant]));
    }
  }
  const mode = inFlight === 1 ? "sequential (1 in flight)" : `concurrent (${inFlight} in flight)`;
  return variants.map((variant) => ({
    mode,
    inFlight,
    variant,
    label: LABELS[variant],
    requestsPerRun: counts[variant],
    reqPerSecond: rates[variant],
    summary: summarize(rates[variant]),
  }));
}

const pool = await signPool(URL_, POOL);
const rows = [...(await measureMode(pool, IN_FLIGHT)), ...(await measureMode(pool, 1))];

const medianOf = (inFlight: number, variant: Variant) =>
  rows.find((r) => r.inFlight === inFlight && r.variant === variant)!.summary.median;
const table = markdownTable(
  ["Route", "Mode", "req/s (median)", "spread (min–max)", "µs/req", "requests × runs", "vs bare Hono", "vs Receiver"],
  rows.map((r) => [
    r.label,
    r.mode,
    fmt(r.summary.median),
    range(r.summary),
    fmt(1e6 / r.summary.median),
    `${fmt(r.requestsPerRun)} × ${r.summary.runs}`,
    ratio(r.summary.median / medianOf(r.inFlight, "bare")),
    r.variant === "floor" || r.variant === "verifier" ? "–" : ratio(r.summary.median / medianOf(r.inFlight, "receiver")),
  ]),
  ["left", "left", "right", "right", "right", "right", "right", "right"],
);

const ratios = (inFlight: number) => ({
  bare: medianOf(inFlight, "jobwire") / medianOf(inFlight, "bare"),
  receiver: medianOf(inFlight, "jobwire") / medianOf(inFlight, "receiver"),
});
const concurrent = ratios(IN_FLIGHT);
const sequential = ratios(1);
const status = (met: boolean) => (met ? "met" : "**missed**");
const targets: Target[] = [
  {
    issue: 6,
    id: "worker-vs-hono",
    target: "Worker route ≥ 0.5× bare Hono req/s",
    measured: `${ratio(concurrent.bare)} (${IN_FLIGHT} in flight), ${ratio(sequential.bare)} (sequential)`,
    met: concurrent.bare >= 0.5 && sequential.bare >= 0.5,
  },
  {
    issue: 6,
    id: "worker-vs-receiver",
    target: "Worker route ≥ 1.0× the Receiver route req/s",
    measured: `${ratio(concurrent.receiver)} (${IN_FLIGHT} in flight), ${ratio(sequential.receiver)} (sequential)`,
    met: concurrent.receiver >= 1 && sequential.receiver >= 1,
  },
];
const targetTable = markdownTable(
  ["Target (issue 6)", "Measured", "Status"],
  targets.map((t) => [t.target, t.measured, status(t.met)]),
  ["left", "left", "left"],
);

const markdown = [
  "### Worker overhead (in-process `app.fetch`)",
  "",
  preamble(
    args,
    `median of ${RUNS} runs per route and mode, routes alternating; each run ≈ ${RUN_SECONDS} s of fresh signed deliveries (pool of ${POOL} pre-signed bodies, every message id distinct), every response checked to be 200.`,
  ),
  "",
  table,
  "",
  targetTable,
  "",
  `For scale: a route that only reads the body and runs jobwire's verifier reaches ${ratio(medianOf(IN_FLIGHT, "verifier") / medianOf(IN_FLIGHT, "bare"))} (${IN_FLIGHT} in flight) and ${ratio(medianOf(1, "verifier") / medianOf(1, "bare"))} (sequential) of bare Hono; the worker route does that and parses, validates and claims the key.`,
].join("\n");

publish(args, { bench: "worker", markdown, targets, rows });
