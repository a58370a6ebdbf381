// `npm start`: the broker (`jobwire dev`, in memory) and a worker in one process. Enqueues a handful
// of jobs that show success, retry-then-success, a poison payload landing in the DLQ and a
// deduplicated duplicate, prints each state change as it happens, then a summary.
// `npm start -- --keep` keeps both running for poking with curl.
import { Client } from "@upstash/qstash";
import { Hono } from "hono";
import { serve } from "jobwire/adapters/bun";
import { type BrokerEvent, createBroker } from "jobwire/broker";
import { createClient, createWorker, memoryStore, NonRetryableError } from "jobwire";
import { importCsv, resizeImage, sendWelcomeEmail } from "./jobs.ts";

const keep = process.argv.includes("--keep");
const started = Date.now();
const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(7);
const short = (id: string) => id.slice(-6);
const finalState = new Map<string, BrokerEvent>();

// A port already taken (with --keep) is one line, not a stack trace.
const cannotStart =
  (what: string) =>
  (error: unknown): never => {
    console.error(`jobwire demo: cannot start the ${what}: ${(error as Error).message}${keep ? " (--keep uses ports 8080 and 3000)" : ""}`);
    process.exit(1);
  };

const broker = await createBroker({
  port: keep ? 8080 : 0,
  memory: true,
  log: false,
  onEvent(event) {
    const what = `${new URL(event.url).pathname.split("/").pop()} ${short(event.messageId)}`;
    const detail = [
      event.responseStatus ? `HTTP ${event.responseStatus}` : "",
      event.responseBody && event.state !== "DELIVERED" ? reason(event.responseBody) : "",
      event.nextDeliveryTime ? `next attempt in ${((event.nextDeliveryTime - Date.now()) / 1000).toFixed(1)}s` : "",
    ]
      .filter(Boolean)
      .join(", ");
    console.log(`${stamp()}    ${what.padEnd(26)} ${event.state.padEnd(9)} ${detail}`);
    if (["DELIVERED", "FAILED", "CANCELED"].includes(event.state)) finalState.set(event.messageId, event);
  },
}).catch(cannotStart("broker"));

function reason(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string; message?: string };
    return [parsed.error, parsed.message].filter(Boolean).join(": ");
  } catch {
    return body.slice(0, 80);
  }
}

const sentEmails: number[] = [];
let imageServiceCalls = 0;
const worker = createWorker({ signingKeys: broker.signingKeys, store: memoryStore(), log: false })
  .handle(sendWelcomeEmail, (input) => {
    sentEmails.push(input.userId);
    return { sentTo: input.userId };
  })
  .handle(resizeImage, (input, ctx) => {
    imageServiceCalls++;
    if (ctx.attempt < 3) throw new Error(`image service unavailable (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
    return { imageId: input.imageId, width: input.width };
  })
  .handle(importCsv, (input) => {
    if (input.fileUrl.endsWith("broken.csv")) throw new NonRetryableError(`cannot parse ${input.fileUrl}`);
    return { rows: 3 };
  });
let server: ReturnType<typeof serve>;
try {
  server = serve(new Hono().route("/jobs", worker.app), { port: keep ? 3000 : 0 });
} catch (error) {
  await broker.close();
  server = cannotStart("worker")(error);
}
const workerUrl = `${server.url}/jobs`;
const jobs = createClient({ workerUrl, baseUrl: broker.url, token: broker.token });

console.log(`jobwire demo: broker ${broker.url}, worker ${workerUrl}\n`);

const enqueued = (what: string, result: { messageId: string; deduplicated: boolean }) => {
  console.log(
    `${stamp()}  enqueue ${what}: ${result.deduplicated ? `deduplicated, same message ${short(result.messageId)}` : `message ${short(result.messageId)}`}`,
  );
  return result;
};
const welcome = enqueued("send-welcome-email { userId: 1 }", await jobs.enqueue(sendWelcomeEmail, { userId: 1 }));
const resize = enqueued("resize-image (its service fails twice)", await jobs.enqueue(resizeImage, { imageId: "img_42", width: 640 }));
const poison = enqueued("import-csv of a broken file (poison)", await jobs.enqueue(importCsv, { fileUrl: "https://files.example.com/broken.csv" }));
const duplicate = enqueued("send-welcome-email { userId: 1 } again", await jobs.enqueue(sendWelcomeEmail, { userId: 1 }));

const expected = [welcome.messageId, resize.messageId, poison.messageId];
const deadline = Date.now() + 15_000;
while (expected.some((id) => !finalState.has(id)) && Date.now() < deadline) await Bun.sleep(25);

const state = (id: string) => finalState.get(id)?.state ?? "still pending";
// The DLQ through the official SDK: jobwire dev speaks the whole QStash API, not only what jobwire uses.
const qstash = new Client({ baseUrl: broker.url, token: broker.token, enableTelemetry: false });
const dlq = await qstash.dlq.listMessages();
const inDlq = dlq.messages.some((m) => m.messageId === poison.messageId);
const checks: [string, boolean][] = [
  [`send-welcome-email: ${state(welcome.messageId)}, emails sent ${sentEmails.length}`, state(welcome.messageId) === "DELIVERED" && sentEmails.length === 1],
  [`resize-image: ${state(resize.messageId)} after ${imageServiceCalls} attempts`, state(resize.messageId) === "DELIVERED" && imageServiceCalls === 3],
  [`import-csv: ${state(poison.messageId)}, ${inDlq ? "in the DLQ" : "NOT in the DLQ"}`, state(poison.messageId) === "FAILED" && inDlq],
  [`duplicate welcome: ${duplicate.deduplicated ? "deduplicated" : "published twice"}`, duplicate.deduplicated && duplicate.messageId === welcome.messageId],
];
console.log("\nSummary");
for (const [line, ok] of checks) console.log(`  ${ok ? "✓" : "✗"} ${line}`);
const allOk = checks.every(([, ok]) => ok);

if (keep) {
  console.log(`\nKept running (Ctrl-C to stop). Try:
  curl -s ${broker.url}/v2/dlq -H "Authorization: Bearer ${broker.token}"
  curl -s ${broker.url}/v2/events -H "Authorization: Bearer ${broker.token}"
  curl -s -X POST ${broker.url}/v2/publish/${workerUrl}/send-welcome-email -H "Authorization: Bearer ${broker.token}" -H "Content-Type: application/json" -d '{"userId":7}'`);
  const stop = async () => {
    await server.close();
    await broker.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} else {
  await server.close();
  await broker.close();
  process.exit(allOk ? 0 : 1);
}
