/**
 * Sign / verify micro-benchmark: tokens/s of
 *
 *  - jobwire `signDelivery` (HS256, body hash, seven claims; SHA-256 and HMAC in JavaScript up to
 *    2 KB, Web Crypto above),
 *  - jobwire `createVerifier` (HMAC, `iss`, `exp`/`nbf` with tolerance, `sub`, body hash),
 *  - the official `@upstash/qstash` `Receiver.verify` (jose), which checks the same things,
 *
 * over the same pool of distinct bodies and URL. The verifiers get the same pre-signed tokens
 * (signed before timing, all with the current key, so neither tries the next key). Each operation is
 * awaited one at a time (a handler verifies one delivery per request); the operations alternate in a
 * rotating order, 5 runs each (3 with `--quick`), each run a fixed count calibrated from a warm-up
 * to take about 0.5 s. Every verification must succeed (the bench fails otherwise). Reported: median
 * tokens/s, min–max, µs per token, and each against `Receiver.verify`.
 *
 * `--compare <module>` adds the `signDelivery` and `createVerifier` of another file (a patched scratch
 * copy of `src/signing.ts`), measured the same way in the same process.
 *
 *   npx bun bench/sign.ts [--quick] [--json out.json] [--compare /tmp/copy/src/signing.ts]
 */
import { Receiver } from "@upstash/qstash";
import { createVerifier, signDelivery } from "../src/signing.ts";
import { benchBody, DEV_KEYS, type Signed, signPool } from "./lib/deliveries.ts";
import { benchArgs, preamble, publish } from "./lib/report.ts";
import { fmt, range, ratio, type Spread, summarize } from "./lib/stats.ts";
import { markdownTable } from "./lib/table.ts";

const args = benchArgs(["--compare"]);
const RUNS = args.quick ? 3 : 5;
const RUN_SECONDS = args.quick ? 0.03 : 0.5;
const WARMUP = args.quick ? 50 : 1000;
const POOL = args.quick ? 128 : 2048;
const URL_ = "https://app.example.com/jobs/send-welcome-email";

const verifier = createVerifier({ keys: DEV_KEYS });
const receiver = new Receiver({ currentSigningKey: DEV_KEYS.current, nextSigningKey: DEV_KEYS.next });

type Op = "sign" | "verify" | "receiver" | "patchedSign" | "patchedVerify";
const LABELS: Record<Op, string> = {
  sign: "jobwire `signDelivery`",
  verify: "jobwire `createVerifier`",
  receiver: "`@upstash/qstash` `Receiver.verify`",
  patchedSign: `\`signDelivery\` from \`${args.options.compare}\``,
  patchedVerify: `\`createVerifier\` from \`${args.options.compare}\``,
};
const patched = args.options.compare
  ? ((await import(args.options.compare)) as { signDelivery: typeof signDelivery; createVerifier: typeof createVerifier })
  : undefined;
const patchedVerifier = patched?.createVerifier({ keys: DEV_KEYS });

const bodies = Array.from({ length: POOL }, (_, i) => benchBody(i));
const tokens: Signed[] = await signPool(URL_, POOL);

const ops: Partial<Record<Op, (i: number) => Promise<unknown>>> = {
  sign: (i) => signDelivery(DEV_KEYS.current, { url: URL_, body: bodies[i % POOL]! }),
  verify: (i) => {
    const t = tokens[i % POOL]!;
    return verifier({ signature: t.signature, url: URL_, body: t.body });
  },
  receiver: async (i) => {
    const t = tokens[i % POOL]!;
    if ((await receiver.verify({ signature: t.signature, body: t.body, url: URL_ })) !== true) {
      throw new Error("Receiver.verify did not return true");
    }
  },
};
if (patched && patchedVerifier) {
  ops.patchedSign = (i) => patched.signDelivery(DEV_KEYS.current, { url: URL_, body: bodies[i % POOL]! });
  ops.patchedVerify = (i) => {
    const t = tokens[i % POOL]!;
    return patchedVerifier({ signature: t.signature, url: URL_, body: t.body });
  };
}

async function runOnce(op: Op, count: number): Promise<number> {
  const run = ops[op]!;
  const started = performance.now();
  for (let i = 0; i < count; i++) await run(i);
  return count / ((performance.now() - started) / 1000);
}

interface Row {
  op: Op;
  label: string;
  tokensPerRun: number;
  tokensPerSecond: number[];
  summary: Spread;
}

const order = Object.keys(ops) as Op[];
const counts = {} as Record<Op, number>;
for (const op of order) counts[op] = Math.max(WARMUP, Math.round((await runOnce(op, WARMUP)) * RUN_SECONDS));
const rates = Object.fromEntries(order.map((op) => [op, [] as number[]])) as Record<Op, number[]>;
for (let run = 0; run < RUNS; run++) {
  for (let k = 0; k < order.length; k++) {
    const op = order[(run + k) % order.length]!;
    rates[op].push(await runOnce(op, counts[op]));
  }
}

const rows: Row[] = order.map((op) => ({
  op,
  label: LABELS[op],
  tokensPerRun: counts[op],
  tokensPerSecond: rates[op],
  summary: summarize(rates[op]),
}));
const receiverMedian = rows.find((r) => r.op === "receiver")!.summary.median;
const table = markdownTable(
  ["Operation", "tokens/s (median)", "spread (min–max)", "µs/token", "tokens × runs", "vs `Receiver.verify`"],
  rows.map((r) => [
    r.label,
    fmt(r.summary.median),
    range(r.summary),
    fmt(1e6 / r.summary.median),
    `${fmt(r.tokensPerRun)} × ${r.summary.runs}`,
    ratio(r.summary.median / receiverMedian),
  ]),
);

const markdown = [
  "### Sign / verify (one token at a time)",
  "",
  preamble(
    args,
    `median of ${RUNS} runs per operation, operations alternating; each run ≈ ${RUN_SECONDS} s over ${POOL} distinct bodies (${bodies[0]!.length}–${bodies[POOL - 1]!.length} bytes) for one URL; verifiers check pre-signed tokens.`,
  ),
  "",
  table,
].join("\n");

publish(args, { bench: "sign", markdown, targets: [], rows });
