// Randomized crash test of `jobwire dev`: publishes, batches, enqueues, cancels, queue and
// flow-control changes and DLQ retries against a real broker on a file, while the broker is killed
// (SIGKILL, some SIGTERM) and restarted on the same file every few hundred milliseconds. Then it
// drains and checks the guarantees: every accepted message that was not canceled got a 2xx from the
// destination or is in the DLQ; nothing was delivered that was never accepted; no attempt started
// after a cancel was acknowledged; no queue lag or flow wait left; no error in the broker's log;
// queue and flow-control settings the same in memory and, after a crash, on disk.
// Exits 0 when all hold, 1 with the problems otherwise.
//
//   bun scripts/chaos.ts [seed] [runSeconds] [crashMinMs] [crashMaxMs]
//   env: WORKERS (concurrent clients, 2), BURST (slow messages per burst to fill the global bound,
//   0), DRAIN_S (45), TERM_P (share of SIGTERM restarts, 0.3), NO_PAUSE=1 (no pause or resume)
//
// Only loopback. The broker's log and a summary are kept in a temporary directory it prints. Before
// draining it compares the settings with those after one more crash, then resumes and unpins them.
import { spawn, type Subprocess } from "bun";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const BIN = join(ROOT, "bin/jobwire.ts");
const TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const seed = Number(process.argv[2] ?? 1);
const RUN_S = Number(process.argv[3] ?? 40);
const CRASH_MIN = Number(process.argv[4] ?? 1500);
const CRASH_MAX = Number(process.argv[5] ?? 4000);
const NO_PAUSE = process.env.NO_PAUSE === "1";
const DRAIN_S = Number(process.env.DRAIN_S ?? 45);

const dir = join(tmpdir(), `jobwire-chaos-${seed}-${Date.now()}`);
mkdirSync(dir, { recursive: true });
const db = `${dir}/broker.sqlite`;
const logFile = `${dir}/broker.log`;
const note = (s: string) => {
  console.log(s);
  appendFileSync(`${dir}/harness.log`, s + "\n");
};

// ---------- PRNG
function mulberry32(a: number) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(seed);
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (p: number) => rnd() < p;
const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));

// ---------- destination
type Attempt = { t: number; end: number; outcome: "200" | "500" | "489" | "slow200" | "slowAborted"; retried: number; nonce: string };
const attempts = new Map<string, Attempt[]>();
const got200 = new Set<string>();
const idNonce = new Map<string, string>();
let destCount = 0;
const destination = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: 0,
  async fetch(request) {
    const id = request.headers.get("upstash-message-id") ?? "none";
    const retried = Number(request.headers.get("upstash-retried"));
    const text = await request.text();
    let nonce = "?";
    try { nonce = JSON.parse(text).nonce; } catch {}
    idNonce.set(id, nonce);
    destCount++;
    const t = Date.now();
    const list = attempts.get(id) ?? [];
    attempts.set(id, list);
    const slow = new URL(request.url).pathname.startsWith("/slow");
    const r = slow ? 0.99 : Math.random();
    const rec = (outcome: Attempt["outcome"]) => list.push({ t, end: Date.now(), outcome, retried, nonce });
    if (r < 0.6) { rec("200"); got200.add(id); return new Response("ok"); }
    if (r < 0.82) { rec("500"); return new Response("boom", { status: 500 }); }
    if (r < 0.86) { rec("489"); return new Response("no", { status: 489, headers: { "Upstash-NonRetryable-Error": "true" } }); }
    await Bun.sleep(slow ? 1500 + Math.floor(Math.random() * 1500) : Math.floor(Math.random() * 1500));
    if (request.signal.aborted) { rec("slowAborted"); return new Response("late"); }
    rec("slow200"); got200.add(id);
    return new Response("ok-slow");
  },
});
const target = `http://127.0.0.1:${destination.port}`;

// ---------- broker process
let broker: Subprocess | undefined;
let brokerUrl = "";
let port = 0;
let generation = 0;
let up = false;
async function startBroker(): Promise<void> {
  generation++;
  const gen = generation;
  const child = spawn([process.execPath, BIN, "dev", "--db", db, "--port", String(port)], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT,
  });
  broker = child;
  let resolveUrl: (u: string) => void = () => {};
  const url = new Promise<string>((r) => (resolveUrl = r));
  const pump = async (stream: ReadableStream<Uint8Array>, tag: string) => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        appendFileSync(logFile, `[g${gen} ${tag}] ${line}\n`);
        const m = /^Running at (http:\/\/\S+)/.exec(line);
        if (m) resolveUrl(m[1]!);
      }
    }
    if (buf) appendFileSync(logFile, `[g${gen} ${tag}] ${buf}\n`);
  };
  pump(child.stdout as ReadableStream<Uint8Array>, "out");
  pump(child.stderr as ReadableStream<Uint8Array>, "err");
  const u = await Promise.race([url, Bun.sleep(15000).then(() => { throw new Error("broker did not start"); })]);
  brokerUrl = u;
  port = Number(new URL(u).port);
  up = true;
}
let graceful = 0;
async function killBroker(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
  up = false;
  const b = broker!;
  b.kill(signal);
  const code = await Promise.race([b.exited, Bun.sleep(10000).then(() => "timeout")]);
  if (signal === "SIGTERM") {
    graceful++;
    if (code !== 0) { note(`SIGTERM exit: ${code}`); termProblems.push(`SIGTERM g${generation} exited ${code}`); }
    if (code === "timeout") { b.kill("SIGKILL"); await b.exited; }
  }
}
const termProblems: string[] = [];

// ---------- API helpers
const auth = { authorization: `Bearer ${TOKEN}` };
async function api(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  return fetch(`${brokerUrl}${path}`, { method, headers: { ...auth, ...headers }, body });
}

// ---------- state the publisher records
type Acc = { id: string; nonce: string; at: number; kind: string; queue?: string; flow?: string; retries: number; delay: number; dedup?: string };
const accepted = new Map<string, Acc>();
const unknownNonces = new Set<string>(); // requests whose outcome is unknown (connection died)
const canceled = new Map<string, number>(); // id -> time the 2xx came back
const cancelSent = new Map<string, number>(); // id -> time the cancel was sent
let nonceSeq = 0;
const stats: Record<string, number> = {};
const bump = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);

const QUEUES = ["q0", "q1", "q2", "q3"];
const FLOWS = ["f0", "f1", "f2", "f3"];
const dedupIds: string[] = [];

function optionHeaders(): { headers: Record<string, string>; meta: Partial<Acc> } {
  const h: Record<string, string> = { "content-type": "application/json" };
  const meta: Partial<Acc> = {};
  const retries = int(0, 3);
  h["upstash-retries"] = String(retries);
  meta.retries = retries;
  h["upstash-retry-delay"] = pick(["50", "200", "pow(2, retried) * 100", "0"]);
  if (chance(0.3)) h["upstash-timeout"] = pick(["1s", "2s"]);
  meta.delay = 0;
  if (chance(0.3)) {
    const d = pick(["1s", "2s", "3s", "5s", "12s"]);
    h["upstash-delay"] = d;
    meta.delay = parseInt(d);
  } else if (chance(0.05)) {
    h["upstash-not-before"] = String(Math.floor(Date.now() / 1000) + int(1, 4));
    meta.delay = 4;
  }
  if (chance(0.35)) {
    const f = pick(FLOWS);
    h["upstash-flow-control-key"] = f;
    const parts: string[] = [];
    if (chance(0.8)) parts.push(`parallelism=${int(1, 4)}`);
    if (chance(0.5)) parts.push(`rate=${int(5, 30)}`, `period=1s`);
    if (parts.length === 0) parts.push("parallelism=2");
    h["upstash-flow-control-value"] = parts.join(", ");
    meta.flow = f;
  }
  if (chance(0.05)) {
    const d = chance(0.5) && dedupIds.length > 0 ? pick(dedupIds) : `dd-${seed}-${nonceSeq}`;
    dedupIds.push(d);
    h["upstash-deduplication-id"] = d;
    meta.dedup = d;
  }
  return { headers: h, meta };
}

function record(id: string, nonce: string, kind: string, meta: Partial<Acc>, status: number) {
  if (status === 202) { bump("dedup202"); if (!accepted.has(id)) accepted.set(id, { id, nonce: "(dedup)", at: Date.now(), kind, retries: 0, delay: 0, ...meta } as Acc); return; }
  accepted.set(id, { id, nonce, at: Date.now(), kind, retries: 0, delay: 0, ...meta } as Acc);
}

async function opPublish(queue?: string) {
  const nonce = `n${seed}-${++nonceSeq}`;
  const { headers, meta } = optionHeaders();
  if (queue) meta.queue = queue;
  const path = queue ? `/v2/enqueue/${queue}/${target}/q` : `/v2/publish/${target}/p`;
  try {
    const r = await api("POST", path, headers, JSON.stringify({ nonce }));
    if (r.status === 201 || r.status === 202) {
      const j = (await r.json()) as { messageId: string };
      record(j.messageId, nonce, queue ? "enqueue" : "publish", meta, r.status);
      bump(queue ? "enqueueOk" : "publishOk");
    } else {
      bump(`publish${r.status}`);
      note(`publish answered ${r.status}: ${await r.text()}`);
    }
  } catch {
    unknownNonces.add(nonce);
    bump("publishUnknown");
  }
}

async function opBatch() {
  const n = int(1, 8);
  const items: unknown[] = [];
  const metas: { nonce: string; meta: Partial<Acc> }[] = [];
  for (let i = 0; i < n; i++) {
    const nonce = `n${seed}-${++nonceSeq}`;
    const { headers, meta } = optionHeaders();
    const item: Record<string, unknown> = { destination: `${target}/b`, headers, body: JSON.stringify({ nonce }) };
    if (chance(0.3)) { item.queue = pick(QUEUES); meta.queue = item.queue as string; }
    items.push(item);
    metas.push({ nonce, meta });
  }
  try {
    const r = await api("POST", "/v2/batch", { "content-type": "application/json" }, JSON.stringify(items));
    if (r.status === 201) {
      const j = (await r.json()) as { messageId: string; deduplicated?: boolean }[];
      j.forEach((res, i) => record(res.messageId, metas[i]!.nonce, "batch", metas[i]!.meta, res.deduplicated ? 202 : 201));
      bump("batchOk");
    } else {
      bump(`batch${r.status}`);
      note(`batch answered ${r.status}: ${await r.text()}`);
    }
  } catch {
    for (const m of metas) unknownNonces.add(m.nonce);
    bump("batchUnknown");
  }
}

async function opCancel() {
  const recent = [...accepted.keys()].slice(-200);
  if (recent.length === 0) return;
  const id = pick(recent);
  if (canceled.has(id)) return;
  const sent = Date.now();
  cancelSent.set(id, Math.min(cancelSent.get(id) ?? Infinity, sent));
  try {
    const r = await api("DELETE", `/v2/messages/${id}`);
    if (r.status === 200) { canceled.set(id, Date.now()); bump("cancelOk"); }
    else if (r.status === 404) bump("cancel404");
    else { bump(`cancel${r.status}`); note(`cancel answered ${r.status}: ${await r.text()}`); }
  } catch { bump("cancelUnknown"); }
}

async function opBulkCancel() {
  const recent = [...accepted.keys()].slice(-100);
  const ids = Array.from({ length: int(1, 4) }, () => pick(recent)).filter((id) => !canceled.has(id));
  if (ids.length === 0) return;
  const sent = Date.now();
  for (const id of ids) cancelSent.set(id, Math.min(cancelSent.get(id) ?? Infinity, sent));
  try {
    const r = await api("DELETE", `/v2/messages?${ids.map((i) => `messageIds=${i}`).join("&")}`);
    if (r.status === 200) {
      bump("bulkCancelOk");
      const uniq = [...new Set(ids)];
      const j = (await r.json()) as { cancelled: number };
      if (j.cancelled === uniq.length) for (const id of uniq) canceled.set(id, Date.now());
    }
    // we do not know which ones: treat as "maybe canceled"
  } catch { bump("bulkCancelUnknown"); }
}

async function opQueue(): Promise<void> {
  // Sometimes two changes of one queue at once, as for keys.
  if (chance(0.4)) {
    const q = pick(QUEUES);
    await Promise.all([opQueueOn(q), opQueueOn(q)]);
  } else await opQueueOn(pick(QUEUES));
}

async function opQueueOn(q: string) {
  try {
    if (chance(0.5) || NO_PAUSE) {
      const r = await api("POST", "/v2/queues", { "content-type": "application/json" },
        JSON.stringify({ queueName: q, parallelism: int(1, 4), paused: NO_PAUSE ? false : chance(0.2) }));
      bump(r.ok ? "queueUpsertOk" : `queueUpsert${r.status}`);
    } else {
      const action = chance(0.5) ? "pause" : "resume";
      const r = await api("POST", `/v2/queues/${q}/${action}`);
      bump(r.ok ? `queue_${action}Ok` : `queue_${action}${r.status}`);
    }
  } catch { bump("queueUnknown"); }
}

async function opFlow() {
  const f = pick(FLOWS);
  // Sometimes two changes of one key at once: they share a commit, and must both take effect.
  if (chance(0.4)) await Promise.all([opFlowOn(f), opFlowOn(f)]);
  else await opFlowOn(f);
}

async function opFlowOn(f: string) {
  const action = pick(["pause", "resume", "resume", "resetRate", "pin", "unpin"]);
  const q = action === "pin" ? `?parallelism=${int(1, 3)}` : "";
  try {
    const r = await api("POST", `/v2/flowControl/${f}/${action}${q}`);
    bump(r.ok ? `flow_${action}Ok` : `flow_${action}${r.status}`);
  } catch { bump("flowUnknown"); }
}

const dlqRetried = new Set<string>(); // original ids retried from the DLQ (2xx, or outcome unknown)
async function opDlqRetry() {
  let j: { messages: { messageId: string; dlqId: string; body?: string }[] };
  try { j = await (await api("GET", "/v2/dlq?count=50")).json(); } catch { return; }
  if (!j.messages || j.messages.length === 0) return;
  const chosen = j.messages.filter(() => chance(0.3)).slice(0, 5);
  if (chosen.length === 0) return;
  for (const m of chosen) dlqRetried.add(m.messageId);
  try {
    const r = await api("POST", `/v2/dlq/retry?${chosen.map((m) => `dlqIds=${m.dlqId}`).join("&")}`);
    if (r.ok) {
      const res = (await r.json()) as { responses: { messageId: string }[] };
      res.responses.forEach((x, i) => {
        let nonce = "?";
        try { nonce = JSON.parse(chosen[i]!.body ?? "{}").nonce; } catch {}
        accepted.set(x.messageId, { id: x.messageId, nonce, at: Date.now(), kind: "dlqRetry", retries: 0, delay: 0 });
      });
      bump("dlqRetryOk");
    } else bump(`dlqRetry${r.status}`);
  } catch {
    for (const m of chosen) { try { unknownNonces.add(JSON.parse(m.body ?? "{}").nonce); } catch {} }
    bump("dlqRetryUnknown");
  }
}
const BURST = Number(process.env.BURST ?? 0);
async function opBurst() {
  // BURST slow messages (the destination holds each 1.5-3 s): fills the global concurrency bound
  const items = Array.from({ length: BURST }, () => {
    const nonce = `n${seed}-${++nonceSeq}`;
    return { nonce, item: { destination: `${target}/slow`, headers: { "upstash-retries": "1", "upstash-retry-delay": "100" }, body: JSON.stringify({ nonce }) } };
  });
  try {
    const r = await api("POST", "/v2/batch", { "content-type": "application/json" }, JSON.stringify(items.map((x) => x.item)));
    if (r.status === 201) {
      const j = (await r.json()) as { messageId: string }[];
      j.forEach((res, i) => record(res.messageId, items[i]!.nonce, "burst", { retries: 1 }, 201));
      bump("burstOk");
    } else bump(`burst${r.status}`);
  } catch { for (const x of items) unknownNonces.add(x.nonce); bump("burstUnknown"); }
}

let running = true;
// A "quiet" crash waits for every operation in flight to be answered first, so the settings the
// broker holds can be compared with what it reads back after the restart.
let quiet = false;
let busy = 0;
async function worker() {
  while (running) {
    if (!up || quiet) { await Bun.sleep(20); continue; }
    busy++;
    try {
      const r = rnd();
      if (r < 0.35) await opPublish();
      else if (r < 0.55) await opPublish(pick(QUEUES));
      else if (r < 0.7) await opBatch();
      else if (r < 0.8) await opCancel();
      else if (r < 0.83) await opBulkCancel();
      else if (r < 0.9) await opQueue();
      else if (r < 0.95) { if (!NO_PAUSE) await opFlow(); }
      else if (r < 0.98) await opDlqRetry();
    } finally {
      busy--;
    }
    await Bun.sleep(int(40, 200));
  }
}

// The queue and key settings every answered change left, as the broker holds them in memory, must be
// what it reads back from disk after a crash.
type Settings = Record<string, string>;
async function settings(): Promise<Settings> {
  const out: Settings = {};
  for (const q of QUEUES) {
    const r = await api("GET", `/v2/queues/${q}`);
    out[`queue ${q}`] = r.status === 200 ? JSON.stringify((({ parallelism, paused }) => ({ parallelism, paused }))(await r.json())) : "none";
  }
  for (const f of FLOWS) {
    const r = await api("GET", `/v2/flowControl/${f}`);
    const info = r.status === 200 ? ((await r.json()) as Record<string, unknown>) : {};
    const pinnedParallelism = info.isPinnedParallelism === true ? info.parallelismMax : undefined;
    out[`key ${f}`] = JSON.stringify({ paused: info.isPaused === true, pinnedParallelism, pinnedRate: info.isPinnedRate === true });
  }
  return out;
}
const settingProblems: string[] = [];
let quietCrashes = 0;
async function quietCrash(): Promise<void> {
  quiet = true;
  const deadline = Date.now() + 10_000;
  while (busy > 0 && Date.now() < deadline) await Bun.sleep(10);
  // Changes of one key or queue sent at once share a commit: both must hold, in memory as on disk.
  if (!NO_PAUSE) {
    await Promise.all([
      ...FLOWS.map((f) => Promise.all([opFlowOn(f), opFlowOn(f)])),
      ...QUEUES.map((q) => Promise.all([opQueueOn(q), opQueueOn(q)])),
    ]);
  }
  const before = await settings();
  await killBroker();
  await startBroker();
  const after = await settings();
  for (const [what, value] of Object.entries(before)) {
    if (after[what] !== value) settingProblems.push(`SETTINGS of ${what} before the crash ${value}, after it ${after[what]}`);
  }
  quietCrashes++;
  quiet = false;
}

// ---------- run
await startBroker();
note(`seed ${seed}, dir ${dir}, broker ${brokerUrl}, destination ${target}`);
const burster = (async () => {
  while (running && BURST > 0) {
    await Bun.sleep(int(6000, 10000));
    if (!up || !running || quiet) continue;
    busy++;
    await opBurst().finally(() => busy--);
  }
})();
const workers = Array.from({ length: Number(process.env.WORKERS ?? 2) }, () => worker());
let crashes = 0;
const end = Date.now() + RUN_S * 1000;
while (Date.now() < end) {
  await Bun.sleep(int(CRASH_MIN, CRASH_MAX));
  crashes++;
  if (chance(0.3)) {
    await quietCrash();
    continue;
  }
  await killBroker(chance(Number(process.env.TERM_P ?? 0.3)) ? "SIGTERM" : "SIGKILL");
  await Bun.sleep(int(0, 300));
  await startBroker();
}
running = false;
await Promise.all([...workers, burster]);
note(`publishing stopped; crashes ${crashes}; accepted ${accepted.size}; stats ${JSON.stringify(stats)}`);

// One more crash at a quiet moment (settings compared), then settle everything open.
await quietCrash();
crashes++;
for (const q of QUEUES) await api("POST", `/v2/queues/${q}/resume`).catch(() => {});
for (const f of FLOWS) {
  await api("POST", `/v2/flowControl/${f}/resume`).catch(() => {});
  await api("POST", `/v2/flowControl/${f}/unpin`).catch(() => {});
}

async function dlqIds(): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const r = await api("GET", `/v2/dlq?count=1000${cursor ? `&cursor=${cursor}` : ""}`);
    const j = (await r.json()) as { messages: { messageId: string }[]; cursor?: string };
    for (const m of j.messages) out.add(m.messageId);
    if (!j.cursor) break;
    cursor = j.cursor;
  }
  return out;
}

const needs = () => [...accepted.keys()].filter((id) => !canceled.has(id) && !got200.has(id) && !dlqRetried.has(id));
const drainEnd = Date.now() + DRAIN_S * 1000;
let dlq = new Set<string>();
for (;;) {
  dlq = await dlqIds();
  const open = needs().filter((id) => !dlq.has(id));
  if (open.length === 0 || Date.now() > drainEnd) break;
  await Bun.sleep(1000);
}

// ---------- checks
const problems: string[] = [...termProblems, ...settingProblems];
const open = needs().filter((id) => !dlq.has(id));
for (const id of open) {
  const a = accepted.get(id)!;
  const r = await api("GET", `/v2/messages/${id}`);
  const state = r.status === 200 ? "still pending in broker" : "broker says final";
  const ev = (await (await api("GET", `/v2/events?messageId=${id}&count=100`)).json()) as { events: { state: string; time: number }[] };
  if (cancelSent.has(id) && ev.events.some((e) => e.state === "CANCELED" || e.state === "CANCEL_REQUESTED") && r.status === 404) { bump("bulkCanceledConfirmed"); continue; }
  problems.push(`NOT DELIVERED ${id} (${state}; ${JSON.stringify(a)}; attempts ${JSON.stringify(attempts.get(id) ?? [])}; maybeCanceled ${cancelSent.has(id)}; events ${ev.events.map((e) => e.state).reverse().join(">")})`);
}
// delivered but never accepted
for (const [id, nonce] of idNonce) {
  if (accepted.has(id)) continue;
  if (unknownNonces.has(nonce)) continue;
  problems.push(`DELIVERED, NEVER ACCEPTED ${id} nonce ${nonce}`);
}
// delivery attempt started after a cancel was acknowledged
for (const [id, t] of canceled) {
  const late = (attempts.get(id) ?? []).filter((a) => a.t > t + 5);
  if (late.length > 0) problems.push(`DELIVERED AFTER CANCEL ACK ${id} cancel at ${t}: ${JSON.stringify(late)}`);
}
// queues / flows stuck
const queues = (await (await api("GET", "/v2/queues")).json()) as { name: string; lag: number; paused: boolean }[];
for (const q of queues) if (q.lag !== 0) problems.push(`QUEUE ${q.name} lag ${q.lag} after drain (paused ${q.paused})`);
const flows = (await (await api("GET", "/v2/flowControl")).json()) as { flowControlKey: string; waitListSize: number; parallelismCount: number }[];
for (const f of flows) if (f.waitListSize !== 0 || f.parallelismCount !== 0) problems.push(`FLOW ${f.flowControlKey} ${JSON.stringify(f)}`);
const gp = await (await api("GET", "/v2/globalParallelism")).json();

await killBroker();
destination.stop(true);
const logText = await Bun.file(logFile).text();
const errLines = logText.split("\n").filter((l) => l.trim() && !/^\[g\d+ out\] \d\d:\d\d:\d\d\.\d{3} /.test(l) && (/error|exception|\[g\d+ err\]/i.test(l)));
for (const l of errLines.slice(0, 20)) problems.push(`LOG ${l}`);

note(`seed ${seed}: crashes ${crashes} (SIGTERM ${graceful}, quiet ${quietCrashes}), accepted ${accepted.size}, canceled ${canceled.size}, got200 ${got200.size}, dlq ${dlq.size}, attempts ${destCount}, unknown ${unknownNonces.size}, globalParallelism ${JSON.stringify(gp)}`);
note(`stats ${JSON.stringify(stats)}`);
note(problems.length === 0 ? "OK: no problems" : `PROBLEMS (${problems.length}):\n${problems.join("\n")}`);
writeFileSync(`${dir}/summary.json`, JSON.stringify({ seed, crashes, accepted: accepted.size, problems }, null, 1));
process.exit(problems.length === 0 ? 0 : 1);
